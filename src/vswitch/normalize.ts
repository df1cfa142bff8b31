/**
 * OVS's match normalization (`ofputil_normalize_match__`, lib/ofp-match.c): what a match may
 * constrain depends on its Ethernet type and IP protocol *values*, by category, not by field name.
 * A field outside every allowed category is dropped from the match (OVS logs "normalization
 * changed ofp_match" at INFO and installs the wider flow). So `ip,tp_dst=80` is a match on all IP,
 * while `tcp,icmp_type=3` keeps `tp_src=3` (ICMP type lives in the transport-source slot).
 *
 * Categories (OVS `may_match`):
 * - IPv4: nw_proto, tos/ecn/ttl, nw_src/dst; transport ports when nw_proto is TCP, UDP, SCTP or ICMP;
 * - IPv6: nw_proto, tos/ttl, ipv6_src/dst; ports for TCP/UDP/SCTP/ICMPv6; for ICMPv6 type 135
 *   (neighbour solicitation) nd_target and nd_sll, type 136 nd_target and nd_tll;
 * - ARP/RARP: arp_op (stored as nw_proto), arp_spa/tpa (nw_src/dst), arp_sha, arp_tha;
 * - Ethernet addresses, VLAN, in_port: always.
 */
import {
  ETH_TYPE_ARP,
  ETH_TYPE_IP,
  ETH_TYPE_IPV6,
  ETH_TYPE_RARP,
  W_ARP_SHA_HI,
  W_ARP_THA_HI,
  W_DL_TYPE,
  W_IPV6_DST,
  W_IPV6_LABEL,
  W_IPV6_SRC,
  W_ND_TARGET,
  W_NW_DST,
  W_NW_PROTO,
  W_NW_SRC,
  W_NW_TOS,
  W_NW_TTL,
  W_TP_DST,
  W_TP_SRC,
} from './fields.js';

const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_SCTP = 132;
const IPPROTO_ICMPV6 = 58;

/** Key words a category covers. */
const NW_ADDR = [W_NW_SRC, W_NW_DST];
const TP_ADDR = [W_TP_SRC, W_TP_DST];
const IPVX = [W_NW_TOS, W_NW_TTL];
const ARP_SHA = [W_ARP_SHA_HI, W_ARP_SHA_HI + 1];
const ARP_THA = [W_ARP_THA_HI, W_ARP_THA_HI + 1];
const IPV6 = [...[0, 1, 2, 3].flatMap((i) => [W_IPV6_SRC + i, W_IPV6_DST + i]), W_IPV6_LABEL];
const ND_TARGET = [0, 1, 2, 3].map((i) => W_ND_TARGET + i);

/**
 * Clears, in place, the mask (and value) words a match may not constrain, and returns the words
 * that lost bits (empty when the match was already normal).
 */
export function normalizeMatch(value: Int32Array, mask: Int32Array): number[] {
  const dlType = value[W_DL_TYPE]! & mask[W_DL_TYPE]! & 0xffff;
  const proto = value[W_NW_PROTO]! & mask[W_NW_PROTO]! & 0xff;
  const clear: number[][] = [];
  if (dlType === ETH_TYPE_IP) {
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP && proto !== IPPROTO_SCTP && proto !== IPPROTO_ICMP) clear.push(TP_ADDR);
    clear.push(ARP_SHA, ARP_THA, IPV6, ND_TARGET);
  } else if (dlType === ETH_TYPE_IPV6) {
    clear.push(NW_ADDR);
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP && proto !== IPPROTO_SCTP && proto !== IPPROTO_ICMPV6) clear.push(TP_ADDR);
    // vfab keeps nd_sll/nd_tll in the ARP hardware-address words, as OVS does (flow.arp_sha/tha).
    const nd = proto === IPPROTO_ICMPV6 ? value[W_TP_SRC]! & mask[W_TP_SRC]! : -1;
    if (nd !== 135) clear.push(ARP_SHA);
    if (nd !== 136) clear.push(ARP_THA);
    if (nd !== 135 && nd !== 136) clear.push(ND_TARGET);
  } else if (dlType === ETH_TYPE_ARP || dlType === ETH_TYPE_RARP) {
    clear.push(TP_ADDR, IPVX, IPV6, ND_TARGET);
  } else {
    clear.push(NW_ADDR, TP_ADDR, [W_NW_PROTO], IPVX, ARP_SHA, ARP_THA, IPV6, ND_TARGET);
  }
  const lost: number[] = [];
  for (const group of clear) {
    for (const w of group) {
      if (mask[w] !== 0) {
        lost.push(w);
        mask[w] = 0;
        value[w] = 0;
      }
    }
  }
  return lost;
}
