export {
  GuestStack, findStacksByIpv4, type GuestStackOptions, type InterfaceConfig, type GuestInterface, type GuestCounters,
  type EchoReplyHandler, type IcmpErrorHandler,
} from './stack.js';
export {
  startPing, startUdpCbr, type PingOptions, type PingResult, type PingReply, type PingApp, type UdpCbrOptions,
  type UdpResult, type UdpApp,
} from './apps.js';
export { UdpSink, type UdpFlowStats, type UdpSinkTotals } from './udp-sink.js';
export { NeighborTable, DEFAULT_NEIGHBOR_OPTIONS, type NeighborOptions, type NeighborState, type NeighborSnapshot } from './neighbor.js';
export { startTraceroute, type TracerouteOptions, type TracerouteResult, type TracerouteHop, type TracerouteApp } from './traceroute.js';
