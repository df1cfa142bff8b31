import { describe, expect, it } from 'vitest';
import { Simulation } from '../../src/sim/index.js';
import { offloadable, offloadableRule, offloadableText } from '../../src/sriov/index.js';
import { Bridge } from '../../src/vswitch/bridge.js';

describe('TC-flower offload hint', () => {
  it('accepts L2-L4 matches with output, VLAN and MAC rewrite actions', () => {
    expect(offloadableText('priority=100,in_port=1,dl_dst=02:00:00:00:00:01,actions=output:2').offloadable).toBe(true);
    expect(offloadableText('tcp,nw_dst=10.0.0.1,tp_dst=80 actions=mod_vlan_vid:10,mod_dl_src:02:00:00:00:00:09,output:3').offloadable).toBe(true);
    expect(offloadableText('priority=0,actions=normal').offloadable).toBe(true);
    expect(offloadableText('in_port=2,actions=drop').offloadable).toBe(true);
    expect(offloadableText('udp,actions=set_field:10.0.0.9->nw_dst,strip_vlan,4').offloadable).toBe(true);
  });

  it('refuses controller actions, learn and slow-path-only matches, with the reasons', () => {
    const v = offloadableText('arp,arp_tpa=10.0.0.1,reg0=1,actions=controller,learn(table=1,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[])');
    expect(v.offloadable).toBe(false);
    expect(v.reasons).toEqual([
      'match arp_tpa: ARP fields are not in the offload subset',
      'match reg0: registers/metadata exist only in the slow path',
      'action controller: sends to the controller (needs the CPU)',
      'action learn: learn() changes flow tables at run time',
    ]);
  });

  it('judges structured flows the same way', () => {
    expect(offloadable({ matchFields: ['in_port', 'ct_state'], actions: ['output'] }).reasons).toEqual(['match ct_state: connection tracking is not in the offload subset']);
    expect(offloadable({ matchFields: [], actions: ['set_field'], setFields: ['in_port'] }).offloadable).toBe(false);
  });
});

describe('offload hint on bridge rules', () => {
  it('judges the rules a Bridge parsed', () => {
    const br = new Bridge({ path: 'hv1.br0', sim: new Simulation(1) });
    br.addPort({ name: 'pf0vf0' });
    br.addPort({ name: 'pf0vf1' });
    const rules = br.addFlows('priority=100,in_port=pf0vf0,ip,nw_dst=10.0.0.2,actions=output:pf0vf1\npriority=50,arp,actions=controller');
    expect(rules.map((r) => offloadableRule(r).offloadable)).toEqual([true, false]);
  });
});
