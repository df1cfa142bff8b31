/**
 * Tunnel encapsulation offloaded to an SR-IOV switchdev eswitch (issue 14 deliverable 6):
 * `vfab flows --offload` marks the flows of a VF representor that end in a tunnel output as
 * offloaded and prints them in TC-flower form, as OVS's `hw-offload=true` installs them
 * (lib/netdev-offload-tc.c: the flow becomes a flower filter on the representor's ingress with a
 * `tunnel_key set` action and a `mirred egress redirect` to the tunnel's `vxlan_sys_PORT` /
 * `genev_sys_PORT` device) and `tc filter show dev REP ingress` prints them (iproute2
 * tc/f_flower.c, m_tunnel_key.c, m_mirred.c).
 *
 * The wire result does not change: the frames a NIC would encapsulate are the ones the bridge and
 * tunnel port already produce (same outer headers: TTL 64, no UDP checksum unless `csum`, DF), so
 * offload is a marking, not a second data path.
 *
 * A flow is offloaded when all of these hold; otherwise `offloaded: false` with the reasons:
 * 1. It is in the TC-flower subset of `sriov/offload.ts` (ignoring the tun_* actions it ends with).
 * 2. Its `in_port` is a VF representor of a PF in switchdev mode on this bridge: TC rules offload
 *    only on eswitch representors (mlx5 en_tc.c mlx5e_configure_flower: a filter on a non-rep
 *    netdev is a NIC (non-eswitch) rule, which cannot encapsulate).
 * 3. Its last action outputs to a tunnel port, and only one tunnel output is in the list (mlx5
 *    en_tc.c parse_tc_fdb_actions: one encap destination per rule in this model; a mirror to a
 *    second tunnel is refused).
 * 4. VXLAN: the UDP destination port is one the NIC has registered. mlx5 registers IANA 4789 at
 *    probe (lib/vxlan.c mlx5_vxlan_create) and refuses others (en/tc_tun_vxlan.c
 *    mlx5e_tc_tun_init_encap_attr_vxlan: "vxlan udp dport was not registered with the HW").
 *    vfab models only the default registration.
 * 5. Geneve: at most one option on encap (mlx5 en/tc_tun_geneve.c handles one TLV option: the
 *    flex parser has one Geneve option slot), and the tunnel must resolve to a remote address
 *    (remote_ip=flow needs a set_field:…->tun_dst, or …->tun_ipv6_dst, in the flow).
 *
 * IPv6 tunnels (an IPv6 remote_ip or local_ip, or remote_ip=flow with only a tun_ipv6_dst on a
 * host with an IPv6 underlay, as flow_tnl_dst picks the IPv4 destination first): the same rules.
 * OVS puts the IPv6 addresses in the tunnel_key action (netdev-offload-tc.c: `action->encap.ipv6`
 * from `tunnel.ipv6_src/ipv6_dst`), and iproute2 prints them with the same `src_ip`/`dst_ip` keys
 * in inet_ntop's text (m_tunnel_key.c tunnel_key_print_ip_addr). mlx5 builds the IPv6 encap header
 * in en/tc_tun.c `mlx5e_tc_tun_create_header_ipv6` with `ip6_flow_hdr(ip6h, tos, 0)`: flow label
 * 0 and traffic class from the key (0 here), the hop limit from the key (64) — the header vfab's
 * software path writes; the outer UDP checksum is `csum` because OVS enables it for every IPv6
 * tunnel. What mlx5 refuses differs in one place that vfab models: the IPv6 route lookup
 * (`mlx5e_route_lookup_ipv6_get`, ipv6_stub->ipv6_dst_lookup_flow) needs a route from the source,
 * so a `local_ip` the host does not own is refused here, as the software path drops it
 * `no-route`. Its other IPv6 check, "encap size %d too big, max supported is %d" against the
 * device's `max_encap_header_size`, depends on a firmware capability vfab does not model (70 bytes,
 * plus the one Geneve option, is what the header needs).
 */
import type { Bridge } from '../vswitch/bridge.js';
import type { FlowStats } from '../vswitch/flow-table.js';
import { offloadableText, splitTop } from '../sriov/offload.js';
import type { TopologyModel, TunnelModel } from '../topology/model.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6, type Ipv6Words } from '../wire/ip.js';
import { ipv6Equal } from '../wire/ipv6-frame.js';

export interface TcOffload {
  /** The flow as `table=…,priority=…,MATCH actions=…`. */
  rule: string;
  /** The eswitch would run it (only flows that end in a tunnel output are candidates). */
  offloaded: boolean;
  /** Why not (empty when offloaded, or when the flow does not end in a tunnel output). */
  reasons: string[];
  /** `tc filter show dev REP ingress` text, when offloaded. */
  tc?: string;
}

interface TunnelPortInfo {
  name: string;
  tunnel: TunnelModel;
}

const MAC_KEYS: Record<string, string> = { dl_src: 'src_mac', eth_src: 'src_mac', dl_dst: 'dst_mac', eth_dst: 'dst_mac' };
const PROTO: Record<string, { eth: string; proto?: string }> = {
  ip: { eth: 'ipv4' },
  tcp: { eth: 'ipv4', proto: 'tcp' },
  udp: { eth: 'ipv4', proto: 'udp' },
  icmp: { eth: 'ipv4', proto: 'icmp' },
  arp: { eth: 'arp' },
  ipv6: { eth: 'ipv6' },
  tcp6: { eth: 'ipv6', proto: 'tcp' },
  udp6: { eth: 'ipv6', proto: 'udp' },
};

/** Whether a port name on `bridgePath` is a VF representor (`pf0vf3`) of a PF in switchdev mode. */
export function representorTest(model: TopologyModel, bridgePath: string): (name: string) => boolean {
  const pfs = new Set<string>();
  for (const h of model.hosts) {
    for (const n of h.nics) if (n.doc.eswitch === 'switchdev' && n.doc.bridge !== undefined && `${h.name}.${n.doc.bridge}` === bridgePath) pfs.add(n.name);
  }
  return (name) => {
    const m = /^(.+)vf\d+$/.exec(name);
    return m !== null && pfs.has(m[1]!);
  };
}

/** The offload verdict and TC form of every flow of `br` (`vfab flows --offload`). */
export function tcOffloads(model: TopologyModel, br: Bridge): TcOffload[] {
  const bm = model.hosts.flatMap((h) => h.bridges).find((b) => b.path === br.path);
  const host = model.hosts.find((h) => h.bridges.some((b) => b.path === br.path));
  const tunnels = new Map<string, TunnelPortInfo>();
  for (const p of bm?.ports ?? []) if (p.tunnel) tunnels.set(p.name, { name: p.name, tunnel: p.tunnel });
  const isRep = representorTest(model, br.path);
  const local: Local = { v4: host?.underlay?.ipv4?.address, v6: host?.underlay?.ipv6?.address };
  return br.flowStats().map((f) => tcOffload(f, br, tunnels, isRep, local));
}

/** The host underlay's addresses (the tunnel source unless local_ip says otherwise). */
interface Local {
  v4: number | undefined;
  v6: Ipv6Words | undefined;
}

function tcOffload(f: FlowStats, br: Bridge, tunnels: Map<string, TunnelPortInfo>, isRep: (name: string) => boolean, local: Local): TcOffload {
  const rule = `table=${f.table},priority=${f.priority}${f.match ? `,${f.match}` : ''} actions=${f.actions}`;
  const acts = splitTop(f.actions);
  const portOf = (a: string): string | undefined => {
    const m = /^(?:output:)?(\d+)$/.exec(a);
    return m ? br.portNameOf(Number(m[1])) : undefined;
  };
  const tunnelOuts = acts.map(portOf).filter((n): n is string => n !== undefined && tunnels.has(n));
  const last = acts.length > 0 ? portOf(acts[acts.length - 1]!) : undefined;
  if (last === undefined || !tunnels.has(last)) return { rule, offloaded: false, reasons: [] };
  const reasons: string[] = [];
  // 1. the TC-flower subset, without the tunnel metadata writes that become tunnel_key set
  const setTun: Record<string, string> = {};
  const rest: string[] = [];
  for (const a of acts) {
    const m = /^(?:set_field|load):(.+)->(tun_id|tun_dst|tun_src|tun_ipv6_dst|tun_ipv6_src|tun_metadata\d+)(?:\[\])?$/.exec(a) ?? /^set_tunnel(?:64)?:(.+)$/.exec(a);
    if (m) setTun[m[2] ?? 'tun_id'] = m[1]!;
    else rest.push(a);
  }
  const v = offloadableText(`${f.match},actions=${rest.join(',')}`);
  reasons.push(...v.reasons);
  // 2. a VF representor's flow
  const items = splitTop(f.match);
  const inPort = items.map((x) => /^in_port=(\d+)$/.exec(x)?.[1]).find((x) => x !== undefined);
  const inName = inPort !== undefined ? br.portNameOf(Number(inPort)) : undefined;
  if (inName === undefined || !isRep(inName)) {
    reasons.push(`in_port ${inName ?? '(any)'}: not a VF representor of a switchdev PF (TC offload runs on eswitch representors only: mlx5 en_tc.c)`);
  }
  // 3. one tunnel destination
  if (tunnelOuts.length > 1) reasons.push(`${tunnelOuts.length} tunnel outputs: one encap destination per rule (mlx5 en_tc.c parse_tc_fdb_actions)`);
  const t = tunnels.get(last)!.tunnel;
  // 4./5. the encapsulation the NIC would build
  const ends = endpoints(t, setTun, local);
  if (typeof ends === 'string') reasons.push(`${last}: ${ends}`);
  const vni = t.vni === 'flow' ? Number(setTun['tun_id'] ?? 0) & 0xffffff : t.vni;
  if (t.type === 'vxlan' && t.dstPort !== 4789) reasons.push(`${last}: VXLAN UDP port ${t.dstPort} is not registered with the NIC (mlx5 en/tc_tun_vxlan.c: "vxlan udp dport was not registered with the HW"; 4789 is registered at probe)`);
  const md = Object.keys(setTun).filter((k) => k.startsWith('tun_metadata'));
  if (t.type === 'geneve' && md.length > 1) reasons.push(`${md.length} Geneve options: the eswitch takes one (mlx5 en/tc_tun_geneve.c)`);
  if (t.type === 'vxlan' && md.length > 0) reasons.push('tun_metadata on a VXLAN port: VXLAN carries no options');
  if (reasons.length > 0) return { rule, offloaded: false, reasons };
  const dev = `${t.type === 'vxlan' ? 'vxlan_sys' : 'genev_sys'}_${t.dstPort}`;
  const [src, dst] = ends as [string, string];
  return { rule, offloaded: true, reasons: [], tc: flowerText(items, f.priority, src, dst, vni, t, dev, md.length === 1 ? geneveOpt(br, md[0]!, setTun[md[0]!]!) : undefined) };
}

/**
 * The tunnel_key source and destination text, or why there are none. The family follows the
 * software path (fabric/tunnels.ts): an IPv6 remote or local_ip is IPv6; remote_ip=flow is IPv4
 * when the flow sets tun_dst (flow_tnl_dst: IPv4 first), else IPv6 when it sets tun_ipv6_dst.
 */
function endpoints(t: TunnelModel, setTun: Record<string, string>, local: Local): [string, string] | string {
  const flow6 = t.remoteIp === 'flow' && t.localIp === undefined && setTun['tun_dst'] === undefined && setTun['tun_ipv6_dst'] !== undefined;
  if (t.remoteIp === 'ipv6' || t.localIp6 !== undefined || flow6) {
    const dst = t.remoteIp === 'ipv6' ? t.remoteIp6 : ipv6OrNull(setTun['tun_ipv6_dst']);
    if (dst === undefined || dst === null) return 'remote_ip=flow and the flow sets no tun_ipv6_dst: no tunnel destination to encode';
    if (local.v6 === undefined) return 'the host underlay has no IPv6 address to send from';
    if (t.localIp6 !== undefined && !ipv6Equal(t.localIp6, local.v6)) {
      return `local_ip ${formatIpv6(t.localIp6)} is not the underlay's address: no route from it (mlx5 en/tc_tun.c mlx5e_route_lookup_ipv6_get fails; the software path drops no-route)`;
    }
    return [formatIpv6(local.v6), formatIpv6(dst)];
  }
  const dstText = t.remoteIp === 'flow' ? setTun['tun_dst'] : formatIpv4(t.remoteIp);
  const dst = dstText !== undefined ? ipv4OrNull(dstText) : null;
  if (dst === null) return 'remote_ip=flow and the flow sets no tun_dst: no tunnel destination to encode';
  if (t.localIp !== undefined && t.localIp !== local.v4) return `local_ip ${formatIpv4(t.localIp)} is not the underlay's address: no route from it (the software path drops no-route)`;
  return [formatIpv4(local.v4 ?? 0), formatIpv4(dst)];
}

function ipv4OrNull(s: string): number | null {
  try {
    return parseIpv4(s);
  } catch {
    return null;
  }
}

function ipv6OrNull(s: string | undefined): Ipv6Words | null {
  if (s === undefined) return null;
  try {
    return parseIpv6(s.split('/')[0]!);
  } catch {
    return null;
  }
}

/** `geneve_opts CLASS:TYPE:DATA` for one mapped tun_metadata field. */
function geneveOpt(br: Bridge, field: string, value: string): string | undefined {
  const e = br.tlv?.entry(Number(field.slice('tun_metadata'.length)));
  if (!e) return undefined;
  const v = BigInt(value.split('/')[0]!);
  return `${e.cls.toString(16).padStart(4, '0')}:${e.type.toString(16).padStart(2, '0')}:${v.toString(16).padStart(e.len * 2, '0')}`;
}

/** The filter as `tc filter show dev REP ingress` prints it (iproute2 6.1 flower_print_opt order). */
function flowerText(items: string[], priority: number, src: string, dst: string, vni: number, t: TunnelModel, dev: string, geneveOpts: string | undefined): string {
  const keys: string[] = [];
  let eth: string | undefined;
  let proto: string | undefined;
  const kv = new Map<string, string>();
  for (const it of items) {
    const eq = it.indexOf('=');
    const k = eq < 0 ? it : it.slice(0, eq);
    const val = eq < 0 ? '' : it.slice(eq + 1);
    if (PROTO[k]) {
      eth = PROTO[k].eth;
      proto = PROTO[k].proto ?? proto;
    } else kv.set(k, val);
  }
  if (kv.has('dl_vlan')) keys.push(`vlan_id ${kv.get('dl_vlan')}`);
  for (const k of ['dl_dst', 'eth_dst', 'dl_src', 'eth_src']) if (kv.has(k)) keys.push(`${MAC_KEYS[k]} ${kv.get(k)}`);
  if (eth === undefined && kv.has('dl_type')) eth = kv.get('dl_type') === '0x0800' ? 'ipv4' : kv.get('dl_type');
  if (eth !== undefined) keys.push(`eth_type ${eth}`);
  if (proto !== undefined) keys.push(`ip_proto ${proto}`);
  if (kv.has('nw_dst')) keys.push(`dst_ip ${kv.get('nw_dst')}`);
  if (kv.has('nw_src')) keys.push(`src_ip ${kv.get('nw_src')}`);
  for (const [k, n] of [['tp_dst', 'dst_port'], ['tcp_dst', 'dst_port'], ['udp_dst', 'dst_port'], ['tp_src', 'src_port'], ['tcp_src', 'src_port'], ['udp_src', 'src_port']] as const) if (kv.has(k)) keys.push(`${n} ${kv.get(k)}`);
  const protocol = eth === 'ipv4' ? 'ip' : eth ?? 'all';
  const lines = [`filter protocol ${protocol} pref ${priority} flower chain 0 handle 0x1`, ...keys.map((k) => `  ${k}`), '  in_hw in_hw_count 1'];
  lines.push('\taction order 1: tunnel_key  set', `\tsrc_ip ${src}`, `\tdst_ip ${dst}`, `\tkey_id ${vni}`, `\tdst_port ${t.dstPort}`);
  if (geneveOpts !== undefined) lines.push(`\tgeneve_opts ${geneveOpts}`);
  lines.push(`\t${t.csum ? 'csum' : 'nocsum'}`, '\tttl 64 pipe', '\t index 1 ref 1 bind 1', '', `\taction order 2: mirred (Egress Redirect to device ${dev}) stolen`, '\tindex 1 ref 1 bind 1');
  return `${lines.join('\n')}\n`;
}
