/**
 * Bad input for host interfaces and `migrate: { via }` (issue 13): located errors (file:line:col),
 * exit 2 from the CLI, never a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { topologyErrors } from '../helpers/topology-errors.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { routeBetween } from '../../src/fabric/host-interfaces.js';

const topo = (mgmt2: string, migrate: string) => `name: t
hosts:
  hv1: { bridges: { br0: {} }, interfaces: { mgmt: { bridge: br0, ipv4: 192.168.0.1/24 } } }
  hv2: { bridges: { br0: {} }, interfaces: { ${mgmt2} } }
vms:
  vm1: { host: hv1, memory: 1GiB, interfaces: { eth0: { bridge: br0 } } }
scenario:
  - { at: 1s, migrate: { vm: vm1, to: hv2, ${migrate} } }
`;

const errors = topologyErrors;

describe('host interfaces and migrate via: validation', () => {
  it('accepts a stream between two hosts on one subnet', () => {
    expect(errors(topo('mgmt: { bridge: br0, ipv4: 192.168.0.2/24 }', 'via: mgmt'))).toEqual([]);
  });

  it('names a via: interface the source host does not have, at the via key', () => {
    expect(errors(topo('mgmt: { bridge: br0, ipv4: 192.168.0.2/24 }', 'via: storage'))).toEqual([
      't.yaml:8:49: host hv1 has no interface "storage" for the migration stream',
    ]);
  });

  it('says when via: has no route to the destination host', () => {
    expect(errors(topo('mgmt: { bridge: br0, ipv4: 192.168.9.2/24 }', 'via: mgmt'))).toEqual([
      't.yaml:8:49: migration stream via hv1.mgmt: hv1.mgmt (192.168.0.1/24, no gateway) has no route to host hv2 (hv2.mgmt 192.168.9.2/24)',
    ]);
  });

  it('refuses stream settings without via:', () => {
    expect(errors(topo('mgmt: { bridge: br0, ipv4: 192.168.0.2/24 }', 'postcopy: true'))).toEqual([
      't.yaml:8:54: "postcopy" applies to a migration stream over the fabric; add "via: <host interface>" (e.g. via: mgmt)',
    ]);
  });

  it('points at an unknown bridge and a duplicate address of a host interface', () => {
    expect(errors(topo('mgmt: { bridge: br1, ipv4: 192.168.0.1/24 }', 'via: mgmt'))).toEqual([
      expect.stringMatching(/^t\.yaml:4:62: unknown bridge "br1"/) as unknown as string,
      expect.stringMatching(/^t\.yaml:4:\d+: IPv4 address 192\.168\.0\.1 is already used at line 3/) as unknown as string,
    ]);
  });

  it('routes through a gateway when the destination is off-link', () => {
    const m = loadTopologyText(
      topo('mgmt: { bridge: br0, ipv4: 192.168.9.2/24 }', 'via: mgmt').replace('ipv4: 192.168.0.1/24 }', 'ipv4: 192.168.0.1/24, gateway: 192.168.0.254 }'),
      't.yaml',
    );
    const r = routeBetween(m, 'hv1', 'mgmt', 'hv2');
    expect(r.ok && r.dst).toBe(0xc0a80902);
  });

  it('exits 2 from the CLI with the location and no stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfab-via-'));
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, topo('mgmt: { bridge: br0, ipv4: 192.168.0.2/24 }', 'via: storage'));
    for (const cmd of ['validate', 'run']) {
      const r = spawnSync(process.execPath, ['bin/run.js', cmd, f], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`${f}:8:49: host hv1 has no interface "storage" for the migration stream`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
