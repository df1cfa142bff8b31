export { Link, serializationNs, ETHERNET_WIRE_OVERHEAD, ETHERNET_MIN_FRAME, type LinkOptions, type LinkDirectionStats } from './link.js';
