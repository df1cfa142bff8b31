/**
 * The IPv6 forwarding table: longest-prefix match over a list kept sorted by prefix length (router
 * tables in topologies hold a handful of routes; a lookup is one pass), ECMP groups as in
 * `routes.ts` (`ip -6 route add … nexthop via A nexthop via B`).
 *
 * ECMP hash: Linux `rt6_multipath_hash` under `net.ipv6.fib_multipath_hash_policy`. Policy 0 (the
 * kernel default) hashes source, destination, flow label and next header
 * (`ip6_multipath_l3_keys`); policy 1 hashes the L4 five-tuple (source, destination, source
 * port, destination port, next header) and no flow label. vfab's IPv4 routers use policy 1
 * (routes.ts), so IPv6 routers do the same by default: the five-tuple, without the flow label,
 * seeded per router, hash-threshold selection (`selectHop`). A router's
 * `ipv6_multipath_hash_policy: 0` selects the kernel default instead (flowHash6L3): over a VXLAN or
 * Geneve underlay, whose outer flow label is 0, every flow between two VTEPs then takes one path.
 */
import type { Ipv6Words } from '../wire/ip.js';
import { ipv6Equal, ipv6InPrefix, ipv6Network } from '../wire/ipv6-frame.js';
import { fmix32, selectHop } from './routes.js';

export interface NextHop6 {
  /** Gateway, or undefined for a connected route (next hop = the destination). */
  via: Ipv6Words | undefined;
  iface: number;
}

export interface Route6 {
  network: Ipv6Words;
  prefixLength: number;
  nextHops: NextHop6[];
  kind: 'connected' | 'static';
}

export class RouteTable6 {
  private routes: Route6[] = [];

  add(network: Ipv6Words, prefixLength: number, hop: NextHop6, kind: Route6['kind']): Route6 {
    const net = ipv6Network(network, prefixLength);
    let r = this.routes.find((x) => x.prefixLength === prefixLength && ipv6Equal(x.network, net));
    if (r === undefined) {
      r = { network: net, prefixLength, nextHops: [], kind };
      this.routes.push(r);
      this.routes.sort((a, b) => b.prefixLength - a.prefixLength);
    }
    const same = (h: NextHop6): boolean => h.iface === hop.iface && (h.via === undefined ? hop.via === undefined : hop.via !== undefined && ipv6Equal(h.via, hop.via));
    if (!r.nextHops.some(same)) r.nextHops.push(hop);
    return r;
  }

  lookup(dst: Ipv6Words): Route6 | undefined {
    for (const r of this.routes) if (ipv6InPrefix(dst, r.network, r.prefixLength)) return r;
    return undefined;
  }

  all(): Route6[] {
    return [...this.routes];
  }
}

/** Seeded five-tuple hash (policy 1): both addresses word by word, next header, ports. */
export function flowHash6(seed: number, src: Ipv6Words, dst: Ipv6Words, proto: number, sport: number, dport: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < 4; i++) h = fmix32(h ^ src[i]!);
  for (let i = 0; i < 4; i++) h = fmix32(h ^ dst[i]!);
  h = fmix32(h ^ proto);
  return fmix32(h ^ (((sport & 0xffff) << 16) | (dport & 0xffff)));
}

/**
 * Seeded policy-0 hash (`ip6_multipath_l3_keys`): addresses, flow label, next header; no ports.
 * (Linux hashes the inner header of an ICMPv6 error instead; vfab hashes the outer one.)
 */
export function flowHash6L3(seed: number, src: Ipv6Words, dst: Ipv6Words, flowLabel: number, proto: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < 4; i++) h = fmix32(h ^ src[i]!);
  for (let i = 0; i < 4; i++) h = fmix32(h ^ dst[i]!);
  h = fmix32(h ^ (flowLabel & 0xfffff));
  return fmix32(h ^ proto);
}

export function pickHop6(route: Route6, hash: number): NextHop6 {
  const hops = route.nextHops;
  return hops.length === 1 ? hops[0]! : hops[selectHop(hash, hops.length)]!;
}
