export { Router, decrementTtl, type RouterInterfaceConfig, type RouterOptions, type StaticRoute, type RouterInterface, type RouterInterfaceCounters } from './router.js';
export { RouteTable, flowHash, selectHop, type Route, type NextHop } from './routes.js';
export { fragmentIpv4 } from './fragment.js';
export { Ipv6Plane, type Ipv6Address, type StaticRoute6, type Ipv6Counters } from './router6.js';
export { RouteTable6, flowHash6, type Route6, type NextHop6 } from './routes6.js';
