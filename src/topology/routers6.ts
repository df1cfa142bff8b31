/**
 * IPv6 on routers (issue 14, IPv6 underlay): `ipv6: 2001:db8:ff::1/64` on a router interface and
 * IPv6 static routes (`{ to: 2001:db8:2::/48, via: 2001:db8:ff::2 }`, or `to: default` / `::/0`
 * with IPv6 next hops). A route is IPv6 when its next hops are; mixing families in one route is an
 * error, as is a next hop on no IPv6 prefix of the router (Linux: "Nexthop has invalid gateway").
 */
import type { YamlPath } from '../util/yaml-source.js';
import { ipv6InPrefix, ipv6Network } from '../wire/ipv6-frame.js';
import type { Ipv6Words } from '../wire/ip.js';
import type { Route6Model, RouterInterfaceModel } from './model.js';
import type { RouterResolver } from './routers.js';
import { ipv6At } from './tunnels6.js';

type RouteDoc = { to: string; via: string | string[] };

/** A route whose next hops are IPv6 (any of them: a mix is reported by resolveRoute6). */
export function isRoute6(rt: RouteDoc): boolean {
  return (Array.isArray(rt.via) ? rt.via : [rt.via]).some((v) => v.includes(':'));
}

export function resolveRouterInterface6(r: RouterResolver, itf: RouterInterfaceModel, text: string | undefined, y: YamlPath): void {
  if (text === undefined) return;
  const [a, l] = text.split('/');
  const address = ipv6At(r, a!, y);
  if (address !== undefined) itf.ipv6 = { address, prefixLength: Number(l), text };
}

export function resolveRoute6(r: RouterResolver, router: string, interfaces: RouterInterfaceModel[], rt: RouteDoc, y: YamlPath): Route6Model | undefined {
  let network: Ipv6Words = [0, 0, 0, 0];
  let prefixLength = 0;
  if (rt.to !== 'default') {
    const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(rt.to);
    const len = m ? Number(m[2]) : -1;
    if (!m || len > 128 || !m[1]!.includes(':')) {
      r.err('ROUTE', [...y, 'to'], `"${rt.to}" is not an IPv6 destination prefix; write one such as 2001:db8:2::/48, or "default" (the next hops are IPv6)`);
      return undefined;
    }
    const a = ipv6At(r, m[1]!, [...y, 'to']);
    if (a === undefined) return undefined;
    prefixLength = len;
    network = ipv6Network(a, len);
  }
  const vias = Array.isArray(rt.via) ? rt.via : [rt.via];
  const out: Ipv6Words[] = [];
  vias.forEach((v, k) => {
    const at = Array.isArray(rt.via) ? [...y, 'via', k] : [...y, 'via'];
    if (!v.includes(':')) {
      r.err('ROUTE', at, `next hop ${v} is IPv4 but the route's other next hops are IPv6; one route has one address family`);
      return;
    }
    const a = ipv6At(r, v, at);
    if (a === undefined) return;
    if (!interfaces.some((i) => i.ipv6 && ipv6InPrefix(a, i.ipv6.address, i.ipv6.prefixLength))) {
      const have = interfaces.flatMap((i) => (i.ipv6 ? [i.ipv6.text] : []));
      r.err('ROUTE', at, `next hop ${v} is on no IPv6 prefix of router ${router} (${have.length > 0 ? have.join(', ') : 'no interface has ipv6'})`);
      return;
    }
    out.push(a);
  });
  return out.length === vias.length ? { network, prefixLength, via: out, yaml: y } : undefined;
}
