/** A TCP port on 127.0.0.1 that was free a moment ago (for the real servers tests start): the bench's helper. */
export { freePort } from '../../src/bench/free-port.js';
