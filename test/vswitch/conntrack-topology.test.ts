/**
 * topologies/ovs-conntrack-firewall.yaml: a stateful firewall in a running fabric, driven by the
 * guests' own TCP (rpc app): connections from inside complete, connections from outside never
 * get a SYN through, and the bridge's tracker holds the inside connections.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTopology } from '../../src/fabric/run.js';
import { loadTopologyText } from '../../src/topology/index.js';

const FILE = join(process.cwd(), 'topologies', 'ovs-conntrack-firewall.yaml');

function run(text: string) {
  const r = runTopology(loadTopologyText(text, FILE));
  return r.summary as unknown as {
    apps: { app: string; name: string; issued: number; completed: number }[];
    ports: Record<string, { drops: Record<string, number> }>;
  };
}

describe('topologies/ovs-conntrack-firewall.yaml', () => {
  const text = readFileSync(FILE, 'utf8');

  it('inside-initiated TCP completes, outside-initiated TCP is dropped', () => {
    const s = run(text);
    const out = s.apps.find((a) => a.name === 'out')!;
    const inb = s.apps.find((a) => a.name === 'in')!;
    expect(out.issued).toBeGreaterThan(10);
    expect(out.completed).toBe(out.issued);
    expect(inb.issued).toBeGreaterThan(10);
    expect(inb.completed).toBe(0);
    expect(s.ports['hv1.br0.vm2-eth0']!.drops['drop-action']).toBeGreaterThan(0);
  });

  it('without the +est rule for replies, inside connections fail too (the firewall is what decides)', () => {
    const s = run(text.replace('table=1,in_port=vm2-eth0,ip,ct_state=+trk+est,actions=output:vm1-eth0\n', ''));
    expect(s.apps.find((a) => a.name === 'out')!.completed).toBe(0);
  });
});

describe('vfab trace --ct-next and ct= annotations (CLI)', () => {
  const vfab = (...args: string[]) => spawnSync(process.execPath, ['bin/run.js', ...args], { encoding: 'utf8' });
  const T = 'test/fixtures/ovs-conntrack/tutorial';
  const ports = ['--port', 'veth_l0:1', '--port', 'veth_r0:2'];

  it('passes in JSON: default trk|new, then the --ct-next flags, and a packets-file annotation', () => {
    const syn = 'in_port=1,tcp,nw_src=192.168.0.2,nw_dst=10.0.0.2,tp_src=1024,tp_dst=2048,tcp_flags=syn';
    const rep = 'in_port=2,tcp,nw_src=10.0.0.2,nw_dst=192.168.0.2,tp_src=2048,tp_dst=1024,tcp_flags=syn|ack';
    const r = vfab('trace', '--flows', `${T}/flows.txt`, ...ports, '--packet', syn, '--json');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { outputs: { ofport: number }[]; passes: { outputs: { ofport: number }[]; ct_state: string }[] };
    expect(j.passes.map((p) => [p.ct_state, p.outputs.map((o) => o.ofport)])).toEqual([['', []], ['new|trk', [2]]]);
    expect(j.outputs.map((o) => o.ofport)).toEqual([2]);
    const dir = mkdtempSync(join(tmpdir(), 'vfab-ct-cli-'));
    writeFileSync(join(dir, 'p.txt'), `${rep} ct=trk,est,rpl\n${rep} ct=trk,new\n`);
    const r2 = vfab('trace', '--flows', `${T}/flows.txt`, ...ports, '--packets', join(dir, 'p.txt'), '--json', '--ct-next', 'trk,inv');
    const lines = r2.stdout.trim().split('\n').map((l) => JSON.parse(l) as { passes: { ct_state: string }[] });
    expect(lines.map((l) => l.passes[1]!.ct_state)).toEqual(['est|rpl|trk', 'new|trk']);
    const r3 = vfab('trace', '--flows', `${T}/flows.txt`, ...ports, '--packet', rep, '--ct-next', 'est', '--detail');
    expect(r3.status).toBe(2);
    expect(r3.stderr).toContain('--ct-next est: est: invalid connection state: If "trk" is unset, no other flags are set');
    const r4 = vfab('trace', '--flows', `${T}/flows.txt`, ...ports, '--packet', rep, '--ct-next', 'trk,est,rpl', '--detail');
    expect(r4.stdout).toContain('recirc(0x1) - resume conntrack with ct_state=est|rpl|trk');
    expect(r4.stdout).toContain('Resuming from table 0');
  });
});
