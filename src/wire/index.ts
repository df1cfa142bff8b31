/**
 * Wire formats: the public barrel. Modules name their views `Frame`/`Packet`/`Repr` (smoltcp
 * style); here they get protocol-prefixed names.
 *
 * The rule, once: **checked on parse, unchecked on emit.** Bytes from outside (a frame off a port,
 * a file) go through `X.checked(bytes)` and `XRepr.parse(view)`, which return a `WireError` value
 * instead of throwing. Emitting (`XRepr.emit(repr, view)`) and the plain view constructors trust
 * the caller: the buffer must be `XRepr.bufferLen(repr)` bytes, as the builders in build.ts ensure.
 */
export * from './errors.js';
export * from './mac.js';
export * from './ip.js';
export * from './checksum.js';
export * from './ip-protocol.js';
export type { FlowKey } from './flow-key.js';
export { emptyFlowKey } from './flow-key.js';
export { extractFlowKey } from './extract.js';
export * from './build.js';

export {
  Frame as EthernetFrame,
  Repr as EthernetRepr,
  Field as EthernetField,
  HEADER_LEN as ETHERNET_HEADER_LEN,
  MIN_FRAME_LEN,
  EtherType,
  etherType,
  etherTypeName,
} from './ethernet.js';
export {
  Tag as VlanTag,
  Repr as VlanRepr,
  Field as VlanField,
  TAG_LEN as VLAN_TAG_LEN,
  TPID_8021Q,
  TPID_8021AD,
  isVlanTpid,
  makeTci,
  readVlanTci,
  pushVlan,
  popVlan,
  innerEtherTypeOffset,
  type VlanTag as VlanTagInfo,
  type PushVlanOptions,
} from './vlan.js';
export { Packet as ArpPacket, Repr as ArpRepr, Field as ArpField, ArpOperation, PACKET_LEN as ARP_PACKET_LEN } from './arp.js';
export { Packet as Ipv4Packet, Repr as Ipv4Repr, Field as Ipv4Field, HEADER_LEN as IPV4_HEADER_LEN } from './ipv4.js';
export { Packet as IcmpPacket, Repr as IcmpRepr, Field as IcmpField, IcmpType } from './icmp.js';
export { Packet as UdpPacket, Repr as UdpRepr, Field as UdpField, HEADER_LEN as UDP_HEADER_LEN } from './udp.js';
export { Packet as TcpPacket, Repr as TcpRepr, Field as TcpField, TcpFlags, HEADER_LEN as TCP_HEADER_LEN } from './tcp.js';
export {
  Packet as Ipv6Packet,
  Repr as Ipv6Repr,
  Field as Ipv6Field,
  HEADER_LEN as IPV6_HEADER_LEN,
  readIpv6,
  writeIpv6,
} from './ipv6.js';
export {
  Packet as Icmpv6Packet,
  Repr as Icmpv6Repr,
  Field as Icmpv6Field,
  Icmpv6Type,
  NdOption,
} from './icmpv6.js';
