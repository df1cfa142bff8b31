export { UnderlayEndpoint, type UnderlayOptions, type TunnelRx } from './underlay.js';
export { VxlanPort, type VxlanPortOptions, type VxlanCounters } from './vxlan-port.js';
