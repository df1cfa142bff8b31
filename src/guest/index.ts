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
export { startIperf, type IperfOptions, type IperfResult, type IperfApp, type IperfInterval } from './iperf.js';
export { startRpc, type RpcOptions, type RpcResult, type RpcApp, type RpcInterval } from './rpc.js';
