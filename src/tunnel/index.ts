export { UnderlayEndpoint, type UnderlayOptions, type TunnelRx } from './underlay.js';
export { TunnelPort, VxlanPort, type TunnelPortOptions, type TunnelCounters, type TunnelType } from './tunnel-port.js';
