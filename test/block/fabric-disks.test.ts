import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createImage, imageInfo, openImage } from '../../src/block/api.js';
import { runTopology } from '../../src/fabric/run.js';
import { UserError } from '../../src/errors.js';

const topo = (disks: string): string => `
name: disks
seed: 1
duration: 10ms
hosts:
  hv1:
    bridges:
      br0: {}
vms:
  vm1:
    host: hv1
    interfaces:
      eth0: { bridge: br0, mac: "02:00:00:00:00:01", ipv4: 10.0.0.1/24 }
    disks:
${disks}
`;

describe('VM disks in a topology', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-fabric-disks-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates missing images (with backing), opens memory disks and lists them in the run summary', () => {
    createImage(join(dir, 'golden.qcow2'), { size: 8 << 20 });
    const g = openImage(join(dir, 'golden.qcow2'));
    g.write(0, new Uint8Array(65536).fill(1));
    g.close();
    const file = join(dir, 'topo.yaml');
    writeFileSync(
      file,
      topo(`      root: { image: images/vm1-root.qcow2, backing: golden.qcow2 }
      data: { image: vm1-data.qcow2, size: 1G, cluster_size: 4k }
      scratch: { memory: 64M }`),
    );
    // images/ does not exist: creation must say so, positioned.
    expect(() => runTopology(file)).toThrow(UserError);
    writeFileSync(
      file,
      topo(`      root: { image: vm1-root.qcow2, backing: golden.qcow2 }
      data: { image: vm1-data.qcow2, size: 1G, cluster_size: 4k }
      scratch: { memory: 64M }`),
    );
    const r = runTopology(file);
    const disks = (r.summary as unknown as { disks: unknown }).disks;
    expect(disks).toEqual([
      { vm: 'vm1', name: 'root', format: 'qcow2', virtual_size: 8 << 20, allocated_bytes: 0, chain: ['vm1-root.qcow2', 'golden.qcow2'] },
      { vm: 'vm1', name: 'data', format: 'qcow2', virtual_size: 1 << 30, allocated_bytes: 0, chain: ['vm1-data.qcow2'] },
      { vm: 'vm1', name: 'scratch', format: 'qcow2', virtual_size: 64 << 20, allocated_bytes: 0, chain: ['memory:vm1.scratch'] },
    ]);
    expect(r.text).toContain('disk vm1.root: qcow2 8 MiB, 0 B allocated, chain vm1-root.qcow2 <- golden.qcow2');
    // The overlay refers to its backing file relative to itself, and it was closed (unlocked).
    expect(imageInfo(join(dir, 'vm1-root.qcow2'))[0]!['backing-filename']).toBe('golden.qcow2');
    openImage(join(dir, 'vm1-root.qcow2')).close();
    // A second run reuses the images.
    const again = runTopology(file);
    expect((again.summary as unknown as { disks: { chain: string[] }[] }).disks[0]!.chain).toEqual(['vm1-root.qcow2', 'golden.qcow2']);
  });

  it('reports disk mistakes at their place in the file', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, topo(`      a: { image: x.qcow2, memory: 1G }
      b: { memory: 1G, backing: golden.qcow2 }
      c: { image: new.qcow2 }`));
    let msg = '';
    try {
      runTopology(file);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      msg = e.render();
    }
    expect(msg).toMatch(/bad\.yaml:\d+:\d+: disk "a" of VM vm1: give exactly one of "image" \(a file\) or "memory" \(a size\)/);
    expect(msg).toMatch(/bad\.yaml:\d+:\d+: disk "b" of VM vm1: "backing" does not apply to a memory disk/);
  });
});
