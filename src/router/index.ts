export { Router, decrementTtl, type RouterInterfaceConfig, type RouterOptions, type StaticRoute, type RouterInterface, type RouterInterfaceCounters } from './router.js';
export { RouteTable, flowHash, selectHop, type Route, type NextHop } from './routes.js';
export { fragmentIpv4 } from './fragment.js';
