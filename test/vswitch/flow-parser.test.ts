import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { parseFlows, parseTraceFlow } from '../../src/vswitch/flow-parser.js';

function errorOf(text: string, opts = {}): UserError {
  try {
    parseFlows(text, { file: 'br0.flows', ...opts });
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
  throw new Error(`no error for ${text}`);
}

describe('flow parser', () => {
  it('parses the OVS tutorial style table with comments, defaults and dump-flows text', () => {
    const flows = parseFlows(
      [
        '# VLAN tutorial (Documentation/tutorials/ovs-advanced.rst)',
        'table=0, dl_src=01:00:00:00:00:00/01:00:00:00:00:00, actions=drop',
        'table=0, dl_dst=01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0, actions=drop',
        'table=0, priority=0, actions=resubmit(,1)',
        '',
        'table=1, priority=99, in_port=1, actions=resubmit(,2)',
        'table=1, priority=99, in_port=2, vlan_tci=0, actions=mod_vlan_vid:20, resubmit(,2)',
        'table=1, priority=99, in_port=3, vlan_tci=0/0xfff, actions=mod_vlan_vid:30, resubmit(,2)',
        'cookie=0x10,idle_timeout=30,hard_timeout=60,tcp,nw_src=10.0.0.0/8,tp_dst=0x50/0xfff0 actions=output:3',
      ].join('\n'),
    );
    expect(flows.map((f) => [f.table, f.priority, f.matchText, f.actionsText])).toEqual([
      [0, 32768, 'dl_src=01:00:00:00:00:00/01:00:00:00:00:00', 'drop'],
      [0, 32768, 'dl_dst=01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0', 'drop'],
      [0, 0, '', 'resubmit(,1)'],
      [1, 99, 'in_port=1', 'resubmit(,2)'],
      [1, 99, 'in_port=2,vlan_tci=0x0000', 'mod_vlan_vid:20,resubmit(,2)'],
      [1, 99, 'in_port=3,vlan_tci=0x0000/0x0fff', 'mod_vlan_vid:30,resubmit(,2)'],
      [0, 32768, 'tcp,nw_src=10.0.0.0/8,tp_dst=0x0050/0xfff0', 'output:3'],
    ]);
    expect(flows[6]!.cookie).toBe(0x10n);
    expect(flows[6]!.idleTimeout).toBe(30);
    expect(flows[6]!.hardTimeout).toBe(60);
    expect(flows[6]!.location).toEqual({ file: '<flows>', line: 9, col: 1 });
  });

  it('prints matches like ovs-ofctl dump-flows', () => {
    const m = (s: string) => parseFlows(`${s},actions=drop`)[0]!.matchText;
    expect(m('priority=700,in_port=1,tcp,nw_src=10.0.0.0/24,tp_dst=80')).toBe('tcp,in_port=1,nw_src=10.0.0.0/24,tp_dst=80');
    expect(m('in_port=3,dl_vlan=10')).toBe('in_port=3,dl_vlan=10');
    expect(m('dl_vlan=0xffff')).toBe('vlan_tci=0x0000');
    expect(m('arp,nw_src=10.0.0.1')).toBe('arp,arp_spa=10.0.0.1');
    expect(m('ip,nw_src=10.0.0.1/255.0.255.0')).toBe('ip,nw_src=10.0.0.0/255.0.255.0');
    expect(m('ip,nw_tos=3')).toBe('ip,nw_tos=0');
    expect(m('icmp,icmp_type=8,icmp_code=0')).toBe('icmp,icmp_type=8,icmp_code=0');
    expect(m('ipv6,ipv6_src=fd00::/64')).toBe('ipv6,ipv6_src=fd00::/64');
    expect(m('eth_type=0x88cc,eth_src=00:00:00:00:00:01')).toBe('dl_src=00:00:00:00:00:01,dl_type=0x88cc');
  });

  it('parses every action and prints them the OVS way', () => {
    const f = parseFlows(
      'ip,actions=output:1,normal,flood,all,in_port,local,controller,mod_vlan_vid:10,mod_vlan_pcp:3,strip_vlan,pop_vlan,push_vlan:0x8100,' +
        'mod_dl_src:00:00:00:00:00:01,mod_dl_dst:00:00:00:00:00:02,mod_nw_src:1.2.3.4,mod_nw_dst:5.6.7.8,mod_nw_tos:8,mod_tp_src:1,mod_tp_dst:2,' +
        'dec_ttl,set_field:9->nw_ttl,resubmit(,1),resubmit(2,3),resubmit:4,2,goto_table:5',
    )[0]!;
    expect(f.actionsText).toBe(
      'output:1,NORMAL,FLOOD,ALL,IN_PORT,LOCAL,CONTROLLER:65535,mod_vlan_vid:10,mod_vlan_pcp:3,strip_vlan,pop_vlan,push_vlan:0x8100,' +
        'mod_dl_src:00:00:00:00:00:01,mod_dl_dst:00:00:00:00:00:02,mod_nw_src:1.2.3.4,mod_nw_dst:5.6.7.8,mod_nw_tos:8,mod_tp_src:1,mod_tp_dst:2,' +
        'dec_ttl,set_field:9->nw_ttl,resubmit(,1),resubmit(2,3),resubmit(4,),output:2,resubmit(,5)',
    );
  });

  it('reports unknown fields and actions at file:line:col', () => {
    const e1 = errorOf('priority=1,arp,actions=normal\n  priority=2,foo=1,actions=drop');
    expect(e1.render()).toBe('br0.flows:2:14: unknown or unsupported match field "foo"\n  hint: see docs/flows.md for the supported fields');
    const e2 = errorOf('actions=output:2,learn(table=1)', { line: 10, col: 5 });
    expect(e2.location).toEqual({ file: 'br0.flows', line: 10, col: 22 });
    expect(e2.message).toBe('unknown or unsupported action "learn"');
    expect(e2.code).toBe('FLOW_UNSUPPORTED_ACTION');
  });

  it('enforces prerequisites (OVS would silently drop the field)', () => {
    const e = errorOf('priority=5,tp_dst=80,actions=drop');
    expect(e.code).toBe('FLOW_PREREQ');
    expect(e.message).toBe('tp_dst requires tcp, udp or sctp (or their IPv6 forms) in the same match');
    expect(e.location?.col).toBe(12);
    expect(errorOf('arp,icmp_type=1,actions=drop').code).toBe('FLOW_PREREQ');
    expect(errorOf('actions=set_field:1.2.3.4->ip_src').code).toBe('FLOW_PREREQ');
    expect(errorOf('actions=set_field:0x1fa0->vlan_vid').code).toBe('FLOW_PREREQ');
  });

  it('rejects malformed values, ranges and orderings like ovs-ofctl', () => {
    expect(errorOf('priority=70000,actions=drop').message).toMatch(/priority/);
    expect(errorOf('table=255,actions=drop').message).toMatch(/table/);
    expect(errorOf('dl_src=00:00:00:00:00,actions=drop').message).toMatch(/dl_src: invalid value/);
    expect(errorOf('ip,nw_src=10.0.0.0/33,actions=drop').message).toMatch(/prefix length 33/);
    expect(errorOf('in_port=1').code).toBe('FLOW_NO_ACTIONS');
    expect(errorOf('actions=drop,output:1').message).toMatch(/must not be accompanied/);
    expect(errorOf('table=1,actions=goto_table:1').message).toMatch(/later table/);
    expect(errorOf('actions=goto_table:2,output:1').code).toBe('FLOW_ACTION_ORDER');
    expect(errorOf('actions=mod_vlan_vid:4096').message).toMatch(/0\.\.4095/);
    expect(errorOf('actions=mod_nw_tos:3').message).toMatch(/ECN/);
    expect(errorOf('actions=resubmit(,1').message).toMatch(/unbalanced/);
    expect(errorOf('actions=output:p9').message).toMatch(/unknown port/);
  });

  it('resolves port names when a resolver is given', () => {
    const f = parseFlows('in_port=uplink,actions=output:vm1,LOCAL', { portByName: (n) => ({ uplink: 1, vm1: 2 })[n] })[0]!;
    expect(f.matchText).toBe('in_port=1');
    expect(f.actionsText).toBe('output:2,LOCAL');
  });

  it('parses ofproto/trace packets without masks', () => {
    const { value, mask } = parseTraceFlow('in_port=1,tcp,dl_src=00:00:00:00:00:0a,tp_dst=22');
    expect(value[0]).toBe(1);
    expect(mask[5]).toBe(0xffff);
    expect(value[13]).toBe(22);
  });

  it('never throws anything but UserError on random text (property)', () => {
    const alphabet = fc.constantFrom(...'abcdefilmnoprstuvwxy_0123456789,=:/()->. \t#x'.split(''), 'actions=', 'tcp', 'ip', 'nw_src=', 'tp_dst=', 'resubmit(', 'set_field:', 'output:', 'dl_vlan=', 'priority=', ',');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 40 }), fc.string({ maxLength: 30 }), (parts, junk) => {
        for (const text of [parts.join(''), junk, `${parts.join('')}\n${junk}`, `ip,actions=${junk}`]) {
          try {
            parseFlows(text);
          } catch (e) {
            if (!(e instanceof UserError)) throw e;
            expect(e.location?.line).toBeGreaterThan(0);
          }
          try {
            parseTraceFlow(text);
          } catch (e) {
            if (!(e instanceof UserError)) throw e;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
