/**
 * The CLI as a user meets it: `node bin/run.js …` (npm test builds dist first).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { topologyJsonSchema } from '../../src/topology/index.js';

const dir = mkdtempSync(join(tmpdir(), 'vfab-cli-'));
const vfab = (...args: string[]) => spawnSync(process.execPath, ['bin/run.js', ...args], { encoding: 'utf8' });

describe('vfab validate', () => {
  it('accepts the examples', () => {
    for (const f of ['topologies/quickstart.yaml', 'topologies/two-hosts.yaml']) {
      const r = vfab('validate', f);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/: ok \(topology /);
    }
  });

  it('exits 2 with file:line:col for every mistake and no stack trace', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      ['hosts:', '  hv1:', '    bridges:', '      br0: {}', 'vms:', '  vm1:', '    host: hv1', '    interfaces:', '      eth0: { bridge: br0, tag: 4095, ipv4: 10.0.0.1/24 }', '  vm2:', '    hots: hv1', ''].join('\n'),
    );
    const r = vfab('validate', bad);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([
      `${bad}:9:33: "tag": VLAN 4095 is outside 1-4094`,
      `${bad}:11:5: missing required field "host"`,
      `${bad}:11:5: unknown key "hots"; did you mean "host"?`,
    ]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 for a file that does not exist', () => {
    const r = vfab('validate', join(dir, 'nope.yaml'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot read .*nope\.yaml: no such file/);
  });
});

describe('vfab run', () => {
  it('prints one JSON object with the contract keys', () => {
    const r = vfab('run', 'topologies/quickstart.yaml', '--json', '--until', '2s', '--seed', '9');
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(s)).toEqual(expect.arrayContaining(['topology', 'seed', 'simulated_ns', 'ports', 'apps', 'events']));
    expect(s['seed']).toBe(9);
    expect(s['simulated_ns']).toBe(2_000_000_000);
    expect(Object.keys(s['ports'] as object)).toContain('hv1.br0.vm1-eth0');
  });

  it('prints a readable summary and writes the pcapng and per-port pcaps', () => {
    const pcapng = join(dir, 'q.pcapng');
    const pdir = join(dir, 'pcaps');
    const r = vfab('run', 'topologies/quickstart.yaml', '--pcapng', pcapng, '--pcap-dir', pdir);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^topology quickstart {2}seed 1/);
    expect(r.stdout).toMatch(/vm1 +10\.0\.0\.2 .* 5 +5 +0%/);
    expect(r.stdout).toContain(`wrote ${pcapng}\n`);
    expect(r.stdout).toContain(`wrote 5 pcap files in ${pdir}\n`);
    expect(readFileSync(pcapng).readUInt32LE(0)).toBe(0x0a0d0d0a);
    expect(existsSync(join(pdir, 'vm1.eth0.pcap'))).toBe(true);
    expect(readFileSync(join(pdir, 'vm1.eth0.pcap')).readUInt32LE(0)).toBe(0xa1b23c4d);
  });

  it('writes byte-identical traces on two runs with the same seed', () => {
    const a = join(dir, 'a.pcapng');
    const b = join(dir, 'b.pcapng');
    expect(vfab('run', 'topologies/two-hosts.yaml', '--pcapng', a, '--json').status).toBe(0);
    expect(vfab('run', 'topologies/two-hosts.yaml', '--pcapng', b, '--json').status).toBe(0);
    expect(Buffer.compare(readFileSync(a), readFileSync(b))).toBe(0);
  });

  it('rejects a bad --until with exit 2 naming the flag', () => {
    const r = vfab('run', 'topologies/quickstart.yaml', '--until', '10');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^--until: "10" is not a duration; write a number and a unit/);
  });

  it('exits 2 for a broken topology, without writing half a trace', () => {
    const bad = join(dir, 'bad-run.yaml');
    writeFileSync(bad, 'links:\n  - { a: x.y, b: z.w }\n');
    const out = join(dir, 'never.pcapng');
    const r = vfab('run', bad, '--pcapng', out);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`${bad}:2:10: unknown port "x.y"\n${bad}:2:18: unknown port "z.w"\n`);
    expect(existsSync(out)).toBe(false);
  });
});

describe('vfab schema', () => {
  it('prints the JSON Schema that ships in schema/topology.schema.json', () => {
    const r = vfab('schema');
    expect(r.status).toBe(0);
    const printed = JSON.parse(r.stdout) as unknown;
    const shipped = JSON.parse(readFileSync('schema/topology.schema.json', 'utf8')) as unknown;
    expect(printed).toEqual(shipped);
    expect(shipped).toEqual(topologyJsonSchema());
  });
});

describe('vfab run interrupted', () => {
  it('leaves a complete pcapng and exits 130 on Ctrl-C (SIGINT) during a long run', async () => {
    const topo = join(dir, 'long.yaml');
    writeFileSync(
      topo,
      [
        'hosts:',
        '  hv1: { bridges: { br0: {} } }',
        'vms:',
        '  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24 } } }',
        '  vm2: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.2/24 } } }',
        'scenario:',
        '  - { at: 1ms, udp: { from: vm1, to: vm2, rate: 10Mbit, size: 1000, duration: 1h } }',
        'capture: { ports: [vm1.eth0] }',
        '',
      ].join('\n'),
    );
    const out = join(dir, 'long.pcapng');
    const child = spawn(process.execPath, ['bin/run.js', 'run', topo, '--until', '1h', '--pcapng', out], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 200 && !(existsSync(out) && statSync(out).size > 1_000_000); i++) await new Promise((r) => setTimeout(r, 100));
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
      expect(code).toBe(130);
    } finally {
      child.kill('SIGKILL');
    }
    const buf = readFileSync(out);
    let off = 0;
    let epbs = 0;
    while (off < buf.length) {
      const len = buf.readUInt32LE(off + 4);
      expect(buf.readUInt32LE(off + len - 4)).toBe(len);
      if (buf.readUInt32LE(off) === 6) epbs++;
      off += len;
    }
    expect(off).toBe(buf.length);
    expect(epbs).toBeGreaterThan(500);
  });
});
