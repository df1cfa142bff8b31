/**
 * The flow key: the header fields an OpenFlow match can test, extracted in one pass over a frame.
 *
 * Field meanings follow Open vSwitch (`lib/meta-flow.xml`), so the classifier can match them
 * directly:
 * - MACs are 48-bit integers (exact in a JS number), e.g. 0x0200_0000_0001;
 * - `vlanTci` is OVS's `vlan_tci` of the outermost 802.1Q/802.1ad tag: 0 when untagged, otherwise
 *   `0x1000 | pcp << 13 | vid` (the CFI bit marks "a tag is present");
 * - `dlType` is the ethertype after the VLAN tags (ARP 0x0806, IPv4 0x0800, IPv6 0x86dd, RARP 0x8035);
 * - for IPv4 `nwSrc`/`nwDst` are the addresses as unsigned 32-bit integers, `nwProto` the protocol,
 *   `nwTos` the whole TOS byte (DSCP << 2 | ECN), `nwTtl` the TTL;
 * - for ARP/RARP `nwSrc`/`nwDst` hold SPA/TPA, `nwProto` the opcode (low 8 bits), and
 *   `arpSha`/`arpTha` the hardware addresses, as OVS does;
 * - `tpSrc`/`tpDst` are TCP/UDP ports, or ICMP/ICMPv6 type and code;
 * - IPv6 addresses are four big-endian 32-bit words;
 * - `nwFrag` is OVS `nw_frag`: 1 (FLOW_NW_FRAG_ANY) for any IPv4/IPv6 fragment, | 2
 *   (FLOW_NW_FRAG_LATER) when it is not the first;
 * - `ndTarget`/`ndSll`/`ndTll` are OVS `nd_target`/`nd_sll`/`nd_tll` of an IPv6 Neighbor
 *   Solicitation (target, source link-layer option) or Advertisement (target, target link-layer
 *   option).
 * Fields a frame does not have are 0. `inPort` is set by the bridge that classifies the frame.
 */
export interface FlowKey {
  inPort: number;
  dlSrc: number;
  dlDst: number;
  dlType: number;
  vlanTci: number;
  /** 802.1ad outer tag TPID when the frame is double-tagged (0x88a8), else 0. */
  vlanOuterTpid: number;
  nwSrc: number;
  nwDst: number;
  nwProto: number;
  nwTos: number;
  nwTtl: number;
  tpSrc: number;
  tpDst: number;
  arpSha: number;
  arpTha: number;
  ipv6Src: [number, number, number, number];
  ipv6Dst: [number, number, number, number];
  nwFrag: number;
  ndTarget: [number, number, number, number];
  ndSll: number;
  ndTll: number;
  /** Byte offset of the L3 header in the frame (after VLAN tags), or -1. */
  l3Offset: number;
  /** Byte offset of the L4 header, or -1. */
  l4Offset: number;
}

export function emptyFlowKey(): FlowKey {
  return {
    inPort: 0, dlSrc: 0, dlDst: 0, dlType: 0, vlanTci: 0, vlanOuterTpid: 0,
    nwSrc: 0, nwDst: 0, nwProto: 0, nwTos: 0, nwTtl: 0, tpSrc: 0, tpDst: 0, arpSha: 0, arpTha: 0,
    ipv6Src: [0, 0, 0, 0], ipv6Dst: [0, 0, 0, 0], nwFrag: 0, ndTarget: [0, 0, 0, 0], ndSll: 0, ndTll: 0,
    l3Offset: -1, l4Offset: -1,
  };
}
