/**
 * "Would this flow be offloaded to the NIC?" — a hint for switchdev users, shown by `vfab flows`.
 *
 * With `other_config:hw-offload=true`, OVS translates datapath flows into TC flower rules
 * (`lib/netdev-offload-tc.c`, `Documentation/howto/tc-offload.rst`) and the NIC driver accepts the
 * subset its eswitch can do. We judge an OpenFlow rule by a conservative common subset that
 * ConnectX-5/E810-class NICs accept:
 *
 * | matches | actions |
 * | --- | --- |
 * | `in_port`, `dl_src`/`dl_dst`/`dl_type` (and `eth_*`), `dl_vlan`/`dl_vlan_pcp`/`vlan_tci`/`vlan_vid`/`vlan_pcp`, `nw_src`/`nw_dst`/`nw_proto`/`nw_tos`/`nw_ecn`/`nw_ttl`/`ip_dscp`/`ip_frag`, `ipv6_src`/`ipv6_dst`, `tp_src`/`tp_dst` (`tcp_*`/`udp_*`/`sctp_*`), `tcp_flags`, `icmp_type`/`icmp_code` (and v6); protocol shorthands (`ip`, `tcp`, `udp`, `arp`, …) | `output`/port numbers/`in_port`, `drop`, `normal`/`flood`/`all` (they translate to outputs), `resubmit`/`goto_table` (translated away), `mod_vlan_vid`, `mod_vlan_pcp`, `strip_vlan`/`pop_vlan`, `push_vlan`, `mod_dl_src`/`mod_dl_dst`, `mod_nw_src`/`mod_nw_dst`/`mod_nw_tos`, `mod_tp_src`/`mod_tp_dst`, `set_field` on a supported field |
 *
 * Not offloadable here: `controller` and `local` (they need the CPU), `learn`, `meter`, `ct` and
 * `ct_*` matches, tunnel (`tun_*`) and register (`reg*`, `metadata`) matches, ARP field matches
 * (`arp_*`), `dec_ttl`, `enqueue`/`set_queue`. Real offload also depends on firmware and on the
 * datapath flow after translation, so this stays a hint.
 */

const MATCH_OK = new Set([
  'in_port', 'dl_src', 'dl_dst', 'dl_type', 'eth_src', 'eth_dst', 'eth_type',
  'dl_vlan', 'dl_vlan_pcp', 'vlan_tci', 'vlan_vid', 'vlan_pcp',
  'nw_src', 'nw_dst', 'ip_src', 'ip_dst', 'nw_proto', 'ip_proto', 'nw_tos', 'ip_dscp', 'nw_ecn', 'ip_ecn', 'nw_ttl', 'ip_frag', 'nw_frag',
  'ipv6_src', 'ipv6_dst', 'tp_src', 'tp_dst', 'tcp_src', 'tcp_dst', 'udp_src', 'udp_dst', 'sctp_src', 'sctp_dst', 'tcp_flags',
  'icmp_type', 'icmp_code', 'icmpv6_type', 'icmpv6_code',
  'ip', 'ipv6', 'tcp', 'tcp6', 'udp', 'udp6', 'sctp', 'sctp6', 'icmp', 'icmp6', 'arp', 'rarp',
]);

/** Rule attributes that are not matches at all. */
const NOT_A_MATCH = new Set(['priority', 'table', 'cookie', 'idle_timeout', 'hard_timeout', 'importance', 'send_flow_rem', 'check_overlap', 'out_port', 'out_group']);

const ACTION_OK = new Set([
  'output', 'drop', 'normal', 'flood', 'all', 'in_port', 'resubmit', 'goto_table',
  'mod_vlan_vid', 'mod_vlan_pcp', 'strip_vlan', 'pop_vlan', 'push_vlan',
  'mod_dl_src', 'mod_dl_dst', 'mod_nw_src', 'mod_nw_dst', 'mod_nw_tos', 'mod_tp_src', 'mod_tp_dst',
]);

const ACTION_WHY: Record<string, string> = {
  controller: 'sends to the controller (needs the CPU)',
  local: 'outputs to the bridge\'s LOCAL port (host stack)',
  learn: 'learn() changes flow tables at run time',
  meter: 'meters are not in the TC-flower subset',
  ct: 'connection tracking is not in the offload subset modelled here',
  dec_ttl: 'dec_ttl is not in the TC-flower subset',
  enqueue: 'queues are not offloaded',
  set_queue: 'queues are not offloaded',
};

export interface OffloadFlowShape {
  /** Match field names as written in ovs-ofctl (`in_port`, `dl_dst`, `tcp`, …). */
  matchFields: Iterable<string>;
  /** Action names (`output`, `mod_vlan_vid`, `normal`, `controller`, …); a bare port number = output. */
  actions: Iterable<string>;
  /** For `set_field`: the target field names, in the same order as they appear. */
  setFields?: Iterable<string>;
}

export interface OffloadVerdict {
  offloadable: boolean;
  /** Why not (empty when offloadable). */
  reasons: string[];
}

export function offloadable(flow: OffloadFlowShape): OffloadVerdict {
  const reasons: string[] = [];
  for (const raw of flow.matchFields) {
    const f = raw.trim().toLowerCase();
    if (f === '' || NOT_A_MATCH.has(f) || MATCH_OK.has(f)) continue;
    if (f.startsWith('ct_')) reasons.push(`match ${f}: connection tracking is not in the offload subset`);
    else if (f.startsWith('tun_')) reasons.push(`match ${f}: tunnel metadata is not in the offload subset`);
    else if (f.startsWith('reg') || f.startsWith('xreg') || f === 'metadata') reasons.push(`match ${f}: registers/metadata exist only in the slow path`);
    else if (f.startsWith('arp_')) reasons.push(`match ${f}: ARP fields are not in the offload subset`);
    else reasons.push(`match ${f}: not in the TC-flower subset`);
  }
  for (const raw of flow.actions) {
    const a = raw.trim().toLowerCase();
    if (a === '' || ACTION_OK.has(a) || /^\d+$/.test(a) || a === 'set_field' || a === 'load' || a === 'move') {
      if (a === 'load' || a === 'move') reasons.push(`action ${a}: register actions exist only in the slow path`);
      continue;
    }
    reasons.push(`action ${a}: ${ACTION_WHY[a] ?? 'not in the TC-flower subset'}`);
  }
  for (const raw of flow.setFields ?? []) {
    const f = raw.trim().toLowerCase();
    if (!MATCH_OK.has(f) || f === 'in_port') reasons.push(`set_field ${f}: not a rewrite the NIC can do`);
  }
  return { offloadable: reasons.length === 0, reasons };
}

/** Splits at commas that are not inside parentheses or brackets (OVS subfields `[0..3]`). */
export function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out.map((x) => x.trim()).filter((x) => x !== '');
}

/**
 * The same verdict from one `ovs-ofctl add-flow` line (`priority=10,in_port=1,actions=output:2`).
 * A line without `actions=` is judged on its matches alone.
 */
export function offloadableText(rule: string): OffloadVerdict {
  const m = /(^|[\s,])actions\s*=/i.exec(rule);
  const matchPart = m ? rule.slice(0, m.index) : rule;
  const actionPart = m ? rule.slice(m.index + m[0].length) : '';
  const matchFields = splitTop(matchPart.replace(/\s+/g, ',')).map((x) => x.split('=')[0]!);
  const actions: string[] = [];
  const setFields: string[] = [];
  for (const a of splitTop(actionPart)) {
    const name = /^[A-Za-z_0-9]+/.exec(a)?.[0] ?? a;
    actions.push(name);
    if (name.toLowerCase() === 'set_field') {
      const target = /->\s*([A-Za-z_0-9]+)/.exec(a)?.[1];
      if (target !== undefined) setFields.push(target);
    }
  }
  return offloadable({ matchFields, actions, setFields });
}

/** The verdict for a bridge rule as `vswitch/` keeps it (`matchText` + `actionsText`, e.g. a `FlowRule`). */
export function offloadableRule(rule: { matchText: string; actionsText: string }): OffloadVerdict {
  return offloadableText(`${rule.matchText},actions=${rule.actionsText}`);
}
