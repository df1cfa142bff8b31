/**
 * Bad input for block migration (`migrate: { storage: mirror }`): located errors (file:line:col)
 * and exit 2 from the CLI, never a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkTopology } from '../../src/fabric/index.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { UserError, UserErrors } from '../../src/errors.js';
import { mirrorTargetPath } from '../../src/fabric/block-mirror.js';

const topo = (disks: string, migrate: string, extraVm = '') => `name: t
hosts:
  hv1: { bridges: { br0: {} }, interfaces: { mgmt: { bridge: br0, ipv4: 192.168.0.1/24 } } }
  hv2: { bridges: { br0: {} }, interfaces: { mgmt: { bridge: br0, ipv4: 192.168.0.2/24 } } }
vms:
  vm1: { host: hv1, memory: 1GiB, interfaces: { eth0: { bridge: br0 } }, disks: { ${disks} } }
${extraVm}scenario:
  - { at: 1s, migrate: { vm: vm1, to: hv2, ${migrate} } }
`;

/** `t.yaml:L:C` of `token`'s first occurrence in the line containing `line` (a value's position). */
function at(text: string, line: string, token: string): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.includes(line));
  return `t.yaml:${i + 1}:${lines[i]!.indexOf(token, lines[i]!.indexOf(line)) + 1}`;
}

function errors(text: string): string[] {
  try {
    checkTopology(loadTopologyText(text, 't.yaml'));
    return [];
  } catch (e) {
    if (!(e instanceof UserErrors) && !(e instanceof UserError)) throw e;
    const list: UserError[] = e instanceof UserErrors ? e.errors : [e];
    return list.map((x) => x.render().split('\n')[0]!);
  }
}

describe('migrate storage: mirror validation', () => {
  it('accepts a local disk mirrored over a host interface', () => {
    expect(errors(topo('vda: { memory: 1GiB }', 'via: mgmt, storage: mirror'))).toEqual([]);
  });

  it('refuses block migration when every disk is on shared storage, at the storage key', () => {
    const t = topo('vda: { memory: 1GiB, shared: true }', 'via: mgmt, storage: mirror');
    expect(errors(t)).toEqual([
      `${at(t, 'migrate:', 'mirror')}: every disk of vm1 is on shared storage (vda): there is nothing to block-migrate`,
    ]);
  });

  it('refuses a shared disk named in migrate_disks, at its entry', () => {
    const t = topo('vda: { memory: 1GiB }, vdb: { memory: 1GiB, shared: true }', 'via: mgmt, storage: mirror, migrate_disks: [vda, vdb]');
    expect(errors(t)).toEqual([
      `${at(t, 'migrate:', 'vdb')}: disk vm1.vdb is on shared storage (shared: true): every host already sees it, block migration cannot copy it`,
    ]);
  });

  it('names an unknown disk in migrate_disks with a suggestion', () => {
    const t = topo('vda: { memory: 1GiB }', 'via: mgmt, storage: mirror, migrate_disks: [vdx]');
    expect(errors(t)).toEqual([
      `${at(t, 'migrate:', 'vdx')}: vm1 has no disk "vdx"; did you mean "vda"?`,
    ]);
  });

  it('needs via: (the copy is NBD over the fabric) and a VM with disks', () => {
    const t1 = topo('vda: { memory: 1GiB }', 'storage: mirror');
    expect(errors(t1)).toEqual([
      `${at(t1, 'migrate:', 'mirror')}: storage: mirror copies the disks over NBD between the hosts; add "via: <host interface>" (e.g. via: mgmt)`,
    ]);
    const t2 = topo('', 'via: mgmt, storage: mirror');
    expect(errors(t2)).toEqual([`${at(t2, 'migrate:', 'mirror')}: vm1 has no disks to mirror`]);
  });

  it('refuses migrate_disks without storage: mirror, and post-copy with it', () => {
    const t1 = topo('vda: { memory: 1GiB }', 'via: mgmt, migrate_disks: [vda]');
    expect(errors(t1)).toEqual([
      `${at(t1, 'migrate:', '[vda]')}: "migrate_disks" applies to a block migration; add "storage: mirror"`,
    ]);
    const t2 = topo('vda: { memory: 1GiB }', 'via: mgmt, storage: mirror, postcopy: true');
    expect(errors(t2)).toEqual([
      `${at(t2, 'migrate:', 'true')}: vfab does not model post-copy together with storage: mirror (drop one of them)`,
    ]);
  });

  it('refuses a copy whose path is another disk\'s image (a destination path collision)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfab-mirror-validate-'));
    try {
      // vm1's copy on hv2 would be a.hv2.qcow2: vm2 already uses that file
      const text = topo('vda: { image: a.qcow2, size: 1GiB, data: true }', 'via: mgmt, storage: mirror', '  vm2: { host: hv2, disks: { vda: { image: a.hv2.qcow2, size: 1GiB } } }\n');
      expect(mirrorTargetPath(join(dir, 'a.qcow2'), 'hv2')).toBe(join(dir, 'a.hv2.qcow2'));
      const file = join(dir, 't.yaml');
      writeFileSync(file, text);
      const r = spawnSync('node', ['bin/run.js', 'validate', file], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`${at(text, 'migrate:', 'hv2')}: the copy of disk vm1.vda on hv2 would be ${join(dir, 'a.hv2.qcow2')}, which is the image of disk vm2.vda`);
      expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
