import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { parseFlows, parseTraceFlow, type FlowWarning, type ParsedFlow } from '../../src/vswitch/flow-parser.js';

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
      [0, 32768, 'tcp,nw_src=10.0.0.0/8,tp_dst=0x50/0xfff0', 'output:3'],
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
      'tcp,dl_vlan=5,actions=output:1,normal,flood,all,in_port,local,controller,mod_vlan_vid:10,mod_vlan_pcp:3,strip_vlan,push_vlan:0x8100,pop_vlan,push_vlan:0x8100,' +
        'mod_dl_src:00:00:00:00:00:01,mod_dl_dst:00:00:00:00:00:02,mod_nw_src:1.2.3.4,mod_nw_dst:5.6.7.8,mod_nw_tos:8,mod_tp_src:1,mod_tp_dst:2,' +
        'dec_ttl,set_field:9->nw_ttl,resubmit(,1),resubmit(2,3),resubmit:4,2,goto_table:5',
      { protocols: 13 },
    )[0]!;
    expect(f.actionsText).toBe(
      'output:1,NORMAL,FLOOD,ALL,IN_PORT,LOCAL,CONTROLLER:65535,mod_vlan_vid:10,mod_vlan_pcp:3,strip_vlan,push_vlan:0x8100,pop_vlan,push_vlan:0x8100,' +
        'mod_dl_src:00:00:00:00:00:01,mod_dl_dst:00:00:00:00:00:02,mod_nw_src:1.2.3.4,mod_nw_dst:5.6.7.8,mod_nw_tos:8,mod_tp_src:1,mod_tp_dst:2,' +
        'dec_ttl,set_field:9->nw_ttl,resubmit(,1),resubmit(2,3),resubmit(4,),output:2,resubmit(,5)',
    );
  });

  it('reports unknown fields and actions at file:line:col, in ovs-ofctl\'s words', () => {
    const e1 = errorOf('priority=1,arp,actions=normal\n  priority=2,foo=1,actions=drop');
    expect(e1.render()).toBe('br0.flows:2:14: unknown keyword foo\n  hint: see docs/flows.md for the supported fields');
    const e2 = errorOf('actions=output:2,learnx(table=1)', { line: 10, col: 5 });
    expect(e2.location).toEqual({ file: 'br0.flows', line: 10, col: 22 });
    expect(e2.message).toBe('unknown action learnx');
    expect(e2.code).toBe('FLOW_UNSUPPORTED_ACTION');
  });

  // Expected behaviour recorded with `ovs-ofctl parse-flow` (Open vSwitch 3.1.0): OVS drops a
  // field whose prerequisite is missing and logs "normalization changed ofp_match".
  it('names the MPLS gap for MPLS fields in a match and a set_field, not "unknown keyword"', () => {
    for (const [text, col] of [
      ['priority=1,mpls_label=5,actions=drop', 12],
      ['mpls_tc=1,actions=drop', 1],
      ['ip,actions=set_field:3->mpls_ttl', 25],
      ['priority=1,mpls_bos=1,actions=drop', 12],
    ] as const) {
      const e = errorOf(text);
      expect(e.code, text).toBe('FLOW_UNSUPPORTED_FIELD');
      expect(e.message, text).toMatch(/vfab does not model MPLS \(OVS accepts it\)/);
      expect(e.location?.col, text).toBe(col);
    }
  });

  it('drops a field without its prerequisite with a located warning, or errors with strict', () => {
    const warnings: FlowWarning[] = [];
    const f = parseFlows('priority=5,tp_dst=80,actions=drop', { file: 'br0.flows', warnings })[0]!;
    expect(f.matchText).toBe('');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.location).toEqual({ file: 'br0.flows', line: 1, col: 12 });
    expect(warnings[0]!.message).toMatch(/^tp_dst is ignored/);
    const e = errorOf('priority=5,tp_dst=80,actions=drop', { strict: true });
    expect(e.code).toBe('FLOW_PREREQ');
    expect(e.location?.col).toBe(12);
    // icmp_type lives in the transport-source slot: kept with tcp (OVS prints tcp,tp_src=3).
    expect(parseFlows('tcp,icmp_type=3,actions=drop')[0]!.matchText).toBe('tcp,tp_src=3');
    expect(parseFlows('icmp6,icmp_type=134,actions=drop')[0]!.matchText).toBe('icmp6,icmp_type=134');
    expect(parseFlows('ip,icmp_type=3,actions=drop')[0]!.matchText).toBe('ip');
    expect(errorOf('actions=set_field:1.2.3.4->ip_src').code).toBe('FLOW_PREREQ');
    expect(errorOf('actions=set_field:0x1fa0->vlan_vid').code).toBe('FLOW_PREREQ');
    expect(parseFlows('actions=push_vlan:0x8100,set_field:4196->vlan_vid', { protocols: 13 })[0]!.actions).toHaveLength(2);
    expect(errorOf('actions=push_vlan:0x8100,set_field:4196->vlan_vid').code).toBe('FLOW_PROTOCOL');
  });

  it('rejects malformed values, ranges and orderings like ovs-ofctl', () => {
    expect(errorOf('priority=70000,actions=drop').message).toBe('invalid priority "70000"');
    expect(errorOf('priority=08,actions=drop').message).toBe('invalid priority "08"');
    expect(errorOf('table=256,actions=drop').message).toMatch(/unknown table/);
    expect(errorOf('table=0x1,actions=drop').message).toMatch(/unknown table/);
    expect(errorOf('table=254,actions=drop').code).toBe('FLOW_BAD_TABLE');
    expect(errorOf('dl_src=00:00:00:00:00,actions=drop').message).toMatch(/invalid Ethernet address/);
    expect(errorOf('ip,nw_src=10.0.0.0/33,actions=drop').message).toMatch(/prefix bits/);
    expect(errorOf('in_port=1').code).toBe('FLOW_NO_ACTIONS');
    expect(errorOf('ACTIONS=drop').code).toBe('FLOW_NO_ACTIONS');
    expect(errorOf('actions=drop,output:1').message).toMatch(/must not be accompanied/);
    expect(errorOf('table=1,actions=goto_table:1').message).toMatch(/OFPBIC_BAD_TABLE_ID/);
    expect(errorOf('actions=goto_table:2,output:1').code).toBe('FLOW_ACTION_ORDER');
    expect(errorOf('actions=mod_vlan_vid:4096').message).toBe('4096: not a valid VLAN VID');
    expect(errorOf('actions=mod_nw_tos:3').message).toBe('3: not a valid TOS');
    expect(errorOf('actions=output:p9').message).toMatch(/output to unknown port/);
    expect(errorOf('actions=output:0x1').message).toMatch(/output to unknown port/);
    expect(errorOf('tcp,tp_dst=080,actions=drop').message).toMatch(/bad syntax/);
    expect(errorOf('tcp,tp_dst=65536,actions=drop').message).toMatch(/too large/);
    expect(errorOf('actions=ANY').code).toBe('FLOW_BAD_OUT_PORT');
    expect(errorOf('Ip,actions=drop').message).toBe('field Ip missing value');
  });

  it('accepts what ovs-ofctl accepts, with its meaning', () => {
    const one = (t: string): ParsedFlow => parseFlows(t)[0]!;
    expect(one('priority=010,actions=drop').priority).toBe(8);
    expect(one('priority=0x10,actions=drop').priority).toBe(16);
    expect(one('priority=+1,priority=2,actions=drop').priority).toBe(2);
    expect(one('table=255,actions=drop').table).toBe(0);
    expect(one('table=+1,actions=drop').table).toBe(1);
    expect(one('cookie=-1,actions=drop').cookie).toBe(0xffff_ffff_ffff_ffffn);
    expect(one('dl_vlan=5000,actions=drop').matchText).toBe('dl_vlan=904');
    expect(one('ip,nw_tos=3,actions=drop').matchText).toBe('ip,nw_tos=0');
    expect(one('ip,nw_src=10.0.0.256,actions=drop').matchText).toBe('ip,nw_src=10.0.0.0');
    expect(one('tcp,udp,tp_dst=80,actions=drop').matchText).toBe('udp,tp_dst=80');
    expect(one('tcp=5,tp_dst=,actions=drop').matchText).toBe('tcp');
    expect(one('in_port=1actions=drop').matchText).toBe('in_port=1');
    expect(one('priority:5 action= 1,2,').actionsText).toBe('output:1,output:2');
    expect(one('actions=').actions).toEqual([]);
    expect(one('actions=Normal').actionsText).toBe('NORMAL');
    expect(one('priority=1,actions=NORMAL\r').actionsText).toBe('NORMAL');
    expect(one('dl_dst=ff:ff:ff:ff:ff:ff,duration=5s,n_packets=3,actions=note:01.02').actionsText).toBe('note:01.02');
    // Comments anywhere, CRLF endings, a lone "\r" line is not blank to OVS.
    expect(parseFlows('priority=10,actions=NORMAL  # uplink\r\n# all\n\t \n').length).toBe(1);
    expect(errorOf('actions=drop\n\r\n').location?.line).toBe(2);
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
