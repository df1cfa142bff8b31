/**
 * `vfab trace`, `vfab flows`, `vfab fdb` as a user runs them (`node bin/run.js`; npm test builds dist).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'vfab-vswitch-cli-'));
const vfab = (...args: string[]) => spawnSync(process.execPath, ['bin/run.js', ...args], { encoding: 'utf8' });
const FIX = 'test/fixtures/ovs/example';

describe('vfab trace (bare bridge)', () => {
  it("prints ofproto/trace's text", () => {
    const r = vfab('trace', '--flows', `${FIX}/flows.txt`, '--port', 'p1:1', '--port', 'p2:2:tag=10', '--port', 'p3:3:trunks=10,20', '--port', 'p4:4',
      '--packet', 'in_port=1,tcp,dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b,nw_src=10.0.0.10,nw_dst=10.0.0.11,tp_src=40001,tp_dst=80');
    expect(r.status).toBe(0);
    // Packet [4] of example/trace.log, recorded from OVS 3.1 (its "[4] packet …" header line aside).
    const log = readFileSync(`${FIX}/trace.log`, 'utf8').split(/^=+\n/m).find((b) => b.startsWith('[4] '))!;
    expect(r.stdout).toBe(`${log.replace(/^\[4\][^\n]*\n/, '').trimEnd()}\n`);
  });

  it('prints one JSON object per packet, as the issue specifies', () => {
    const r = vfab(
      'trace', '--flows', `${FIX}/flows.txt`, '--port', 'p1:1', '--port', 'p2:2:tag=10', '--port', 'p3:3:trunks=10,20', '--port', 'p4:4',
      '--packet', 'in_port=1,tcp,dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b,nw_src=10.0.0.10,nw_dst=10.0.0.11,tp_src=40001,tp_dst=80',
      '--packet', 'in_port=2,dl_vlan=20,dl_src=00:00:00:00:00:0c,dl_dst=ff:ff:ff:ff:ff:ff,dl_type=0x88b5',
      '--json',
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    // ofproto/trace's parts, as OVS 3.1 printed them for these packets (example/trace.log #4, #22).
    expect(lines[0]).toMatchObject({
      rules: [{ table: 0, priority: 700, cookie: '0x0', match: 'tcp,in_port=1,nw_src=10.0.0.0/24,tp_dst=80', actions: 'mod_vlan_vid:20,output:3' }],
      megaflow: 'recirc_id=0,eth,tcp,in_port=1,dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b,nw_src=10.0.0.0/24,nw_frag=no,tp_dst=80',
      datapath_actions: 'push_vlan(vid=20,pcp=0),3',
    });
    expect(lines[1]).toMatchObject({ final_flow: 'unchanged', datapath_actions: 'drop' });
    const base = lines.map(({ rules: _r, final_flow: _f, megaflow: _m, datapath_actions: _d, ...rest }) => rest);
    expect(base).toEqual([
      {
        packet: 'in_port=1,tcp,dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b,nw_src=10.0.0.10,nw_dst=10.0.0.11,tp_src=40001,tp_dst=80',
        outputs: [{ port: 'p3', ofport: 3, vlan: 20, set: {} }],
        drop: null,
      },
      { packet: 'in_port=2,dl_vlan=20,dl_src=00:00:00:00:00:0c,dl_dst=ff:ff:ff:ff:ff:ff,dl_type=0x88b5', outputs: [], drop: 'vlan-filter' },
    ]);
  });

  it('exits 2 with file:line:col for a bad flow file and a bad packets file', () => {
    const flows = join(dir, 'bad.flows');
    writeFileSync(flows, 'priority=1,actions=normal\npriority=2,udp,tp_dst=53,actions=ct(bogus)\n');
    const r = vfab('trace', '--flows', flows, '--port', 'p1:1', '--packet', 'in_port=1');
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(`${flows}:2:37: invalid argument to "ct" action: \`bogus'`);
    const pk = join(dir, 'bad.packets');
    writeFileSync(pk, '# comment\nin_port=1,arp\nin_port=1,tcp,tp_dts=1\n');
    const r2 = vfab('trace', '--flows', `${FIX}/flows.txt`, '--port', 'p1:1', '--packets', pk);
    expect(r2.status).toBe(2);
    expect(r2.stderr.split('\n')[0]).toBe(`${pk}:3:15: unknown or unsupported packet field "tp_dts"`);
  });
});

describe('vfab trace (topology), flows, fdb', () => {
  it('follows a packet across the two-hosts fabric', () => {
    const r = vfab('trace', 'topologies/two-hosts.yaml', '--from', 'vm2.eth0', '--packet', 'dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1,arp_spa=10.0.0.2,arp_tpa=10.0.0.4', '--json');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { delivered: string[] };
    expect(j.delivered).toEqual(['vm4.eth0']);
  });

  it('prints dump-flows and fdb/show after the scenario', () => {
    const f = vfab('flows', 'topologies/two-hosts.yaml', '--bridge', 'tor', '--until', '1s');
    expect(f.status).toBe(0);
    // The header is the one ovs-ofctl prints for an OpenFlow 1.0 reply (test/fixtures/ovs-dump).
    expect(f.stdout).toMatch(/^NXST_FLOW reply \(xid=0x4\):\n cookie=0x0, duration=1s, table=0, n_packets=\d+, n_bytes=\d+, idle_age=\d+, priority=0 actions=NORMAL\n$/);
    const ns = vfab('flows', 'topologies/two-hosts.yaml', '--bridge', 'tor', '--until', '1s', '--no-stats', '-O', 'OpenFlow13');
    expect(ns.stdout).toBe(' reset_counts priority=0 actions=NORMAL\n');
    const d = vfab('fdb', 'topologies/two-hosts.yaml', '--bridge', 'tor', '--until', '1s', '--json');
    expect(d.status).toBe(0);
    const j = JSON.parse(d.stdout) as { entries: { mac: string; vlan: number; port: string }[] };
    expect(j.entries.map((e) => `${e.port}/${e.vlan}/${e.mac}`).sort()).toEqual([
      'p1/10/02:00:00:00:0a:01',
      'p1/20/02:00:00:00:14:02',
      'p2/10/02:00:00:00:0a:03',
      'p2/20/02:00:00:00:14:04',
    ]);
    const bad = vfab('fdb', 'topologies/two-hosts.yaml', '--bridge', 'hv3.br0');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^--bridge: no bridge or switch hv3\.br0\n {2}hint: one of: hv1\.br0, hv2\.br0, tor\n$/);
  });
});
