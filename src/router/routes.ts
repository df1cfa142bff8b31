/**
 * The router's forwarding table: longest-prefix match over IPv4 routes, and ECMP selection among
 * equal-cost next hops.
 *
 * Design: one `Map<network, Route>` per prefix length (33 maps), probed from /32 down to /0, so a
 * lookup costs at most one hash probe per prefix length in use (`lengths` lists only those). Adding
 * the same prefix twice merges next hops (an ECMP group), as `ip route add … nexthop via A
 * nexthop via B` builds one multipath route.
 *
 * Maps are keyed by the network as an int32 (`net | 0`), so addresses above 127.255.255.255 are
 * small integers, not heap numbers a lookup would box and hash as doubles. In front of them, a
 * direct-mapped cache of the last answer per destination (256 slots: a whole-key compare, so a
 * slot collision is a miss, never a wrong route) answers a repeated destination with no probe;
 * `add` empties it, the only change a table sees, so a cached answer is always the uncached one
 * (test/router/route-cache.test.ts: cache on ≡ cache off). Only found routes are cached (a
 * destination with no route is the ICMP slow path anyway).
 *
 * ECMP: Linux's hash-threshold selection (`fib_select_multipath`, RFC 2992): the flow hash is
 * mapped onto equal slices of the hash space, so a flow keeps its path while next hops stay the
 * same. The hash is the L4 five-tuple (Linux `fib_multipath_hash_policy = 1`), mixed with a
 * per-router seed from the simulation's PRNG (Linux seeds its hash per boot: `net_get_random_once`)
 * so different routers do not make correlated choices (the "ECMP polarisation" problem), and a run
 * with the same seed picks the same paths.
 */
import { ipv4Mask } from '../wire/ip.js';

export interface NextHop {
  /** Gateway address, or 0 for a directly connected route (next hop = the destination). */
  via: number;
  /** Interface index the next hop is reached through. */
  iface: number;
}

export interface Route {
  network: number;
  prefixLength: number;
  nextHops: NextHop[];
  /** `connected` (an interface subnet) or `static`. */
  kind: 'connected' | 'static';
}

const CACHE_SLOTS = 256;

export class RouteTable {
  private readonly byLen: Array<Map<number, Route> | undefined> = new Array<Map<number, Route> | undefined>(33);
  /** Prefix lengths in use, longest first. */
  private lengths: number[] = [];
  /** Lookup cache: destination (int32) and its route per slot; an undefined route = empty slot. */
  private readonly cacheKeys = new Int32Array(CACHE_SLOTS);
  private readonly cacheRoutes: Array<Route | undefined> = new Array<Route | undefined>(CACHE_SLOTS).fill(undefined);
  /** Off: every lookup probes the maps (the cache-on ≡ cache-off test compares the two). */
  cacheEnabled = true;

  add(network: number, prefixLength: number, hop: NextHop, kind: Route['kind']): Route {
    const net = (network & ipv4Mask(prefixLength)) >>> 0;
    let m = this.byLen[prefixLength];
    if (m === undefined) {
      m = new Map();
      this.byLen[prefixLength] = m;
      this.lengths = [...this.lengths, prefixLength].sort((a, b) => b - a);
    }
    let r = m.get(net | 0);
    if (r === undefined) {
      r = { network: net, prefixLength, nextHops: [], kind };
      m.set(net | 0, r);
    }
    if (!r.nextHops.some((h) => h.via === hop.via && h.iface === hop.iface)) r.nextHops.push(hop);
    // A new route or next hop may change any destination's answer.
    this.cacheRoutes.fill(undefined);
    return r;
  }

  /** The longest-prefix route covering `dst`, or undefined (no default route). */
  lookup(dst: number): Route | undefined {
    if (!this.cacheEnabled) return this.probe(dst);
    const d = dst | 0;
    const slot = Math.imul(d, 0x9e3779b1) >>> 24;
    const hit = this.cacheRoutes[slot];
    if (hit !== undefined && this.cacheKeys[slot] === d) return hit;
    const r = this.probe(dst);
    if (r !== undefined) {
      this.cacheKeys[slot] = d;
      this.cacheRoutes[slot] = r;
    }
    return r;
  }

  /** The longest-prefix match itself: one map probe per prefix length in use, longest first. */
  private probe(dst: number): Route | undefined {
    const ls = this.lengths;
    for (let i = 0; i < ls.length; i++) {
      const len = ls[i]!;
      const r = this.byLen[len]!.get(dst & ipv4Mask(len));
      if (r !== undefined) return r;
    }
    return undefined;
  }

  /** Every route, longest prefix first then by network (for `show` output and the summary). */
  all(): Route[] {
    const out: Route[] = [];
    for (const len of this.lengths) out.push(...[...this.byLen[len]!.values()].sort((a, b) => a.network - b.network));
    return out;
  }
}

/** 32-bit avalanche mix (murmur3 fmix32); the IPv6 routes' hash uses it too. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Seeded hash of the five-tuple (ports 0 for non-TCP/UDP, as Linux's L4 policy does). */
export function flowHash(seed: number, src: number, dst: number, proto: number, sport: number, dport: number): number {
  let h = seed >>> 0;
  h = fmix32(h ^ src);
  h = fmix32(h ^ dst);
  h = fmix32(h ^ proto);
  h = fmix32(h ^ (((sport & 0xffff) << 16) | (dport & 0xffff)));
  return h;
}

/** Hash-threshold choice of one of `n` next hops (RFC 2992 §3): equal slices of the hash space. */
export function selectHop(hash: number, n: number): number {
  if (n <= 1) return 0;
  return Math.floor((hash / 4294967296) * n);
}
