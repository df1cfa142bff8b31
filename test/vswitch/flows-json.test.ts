/**
 * `vfab flows --json` carries each flow's match and actions as `ovs-ofctl dump-flows` spells them
 * (`ovs_match`, `ovs_actions`, for the `-O` version asked), beside `match`/`actions` in vfab's
 * spelling: the JSON must agree, flow for flow, with the `--no-stats` text (whose spelling the
 * OVS differential tests check), for OpenFlow 1.0 and 1.3.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'vfab-flows-json-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FLOWS = `        flows: |
          table=0,priority=100,ip,nw_src=10.0.0.1,actions=set_field:10->reg0,load:5->NXM_NX_REG1[0..7],mod_vlan_vid:5,resubmit(,1)
          table=0,priority=1,actions=NORMAL
          table=1,dl_type=0x0800,actions=learn(table=10,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],dec_ttl,output:vm2-eth0
          table=2,cookie=0x5,priority=7,tcp,tp_dst=0x50,actions=mod_nw_dst:10.0.0.9,output:1
`;

function topology(): string {
  const base = readFileSync(join(ROOT, 'topologies/ovs-conntrack-firewall.yaml'), 'utf8');
  const start = base.indexOf('        flows: |');
  const end = base.indexOf('\nvms:');
  const file = join(dir, 't.yaml');
  writeFileSync(file, base.slice(0, start) + FLOWS + base.slice(end));
  return file;
}

const vfab = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/run.js'), ...args], { encoding: 'utf8' });

describe('vfab flows --json: dump-flows spelling per flow', () => {
  const file = topology();
  const seen: string[] = [];
  for (const version of ['OpenFlow10', 'OpenFlow13']) {
    it(`agrees with the --no-stats text under -O ${version}`, () => {
      const j = vfab('flows', file, '--bridge', 'hv1.br0', '--json', '-O', version);
      expect(j.stderr).toBe('');
      const flows = (JSON.parse(j.stdout) as { flows: { table: number; priority: number; cookie: string; match: string; actions: string; ovs_match: string; ovs_actions: string; location: string }[] }).flows;
      const t = vfab('flows', file, '--bridge', 'hv1.br0', '--no-stats', '-O', version);
      expect(t.status).toBe(0);
      const lines = t.stdout.trimEnd().split('\n');
      expect(flows.length).toBe(lines.length);
      flows.forEach((f, i) => {
        // ofputil_flow_stats_format with --no-stats: cookie and table only when non-zero.
        let head = ' ';
        if (f.cookie !== '0x0') head += `cookie=${f.cookie}, `;
        if (f.table !== 0) head += `table=${f.table}, `;
        // OpenFlow 1.1+ replies carry the flow flags; flows added over 1.0 have reset_counts,
        // learned ones do not (learn_execute's flow_mod has no flags but send_flow_rem).
        if (version !== 'OpenFlow10' && !f.location.endsWith(' learn:0')) head += 'reset_counts ';
        const m = f.priority !== 32768 ? `priority=${f.priority}${f.ovs_match ? `,${f.ovs_match}` : ''}` : f.ovs_match;
        expect(lines[i]).toBe(`${head}${m ? `${m} ` : ''}actions=${f.ovs_actions}`);
      });
      // Not a copy of vfab's spelling (a set_field added over OpenFlow 1.0 is dumped as OVS
      // stores it), and the -O version is honoured (mod_vlan_vid has no OpenFlow 1.3 form).
      const sf = flows.find((f) => f.actions.startsWith('set_field'))!;
      expect(sf.ovs_actions).not.toBe(sf.actions);
      seen.push(sf.ovs_actions);
      if (seen.length === 2) expect(seen[1]).not.toBe(seen[0]);
    });
  }
});
