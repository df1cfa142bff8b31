/**
 * `routers:` → `RouterModel`s: names, interface ports (linkable `router.if` paths), addresses,
 * MTUs, default MACs, and static routes whose next hops must sit on a connected subnet (Linux
 * refuses them too: `ip route add … via X` → "Nexthop has invalid gateway").
 */
import type { YamlPath } from '../util/yaml-source.js';
import { DEFAULTS, type PortKind, type Route6Model, type RouteModel, type RouterInterfaceModel, type RouterModel } from './model.js';
import type { TopologyDoc } from './schema.js';
import { isRoute6, resolveRoute6, resolveRouterInterface6 } from './routers6.js';

export interface RouterResolver {
  err(code: string, path: YamlPath, message: string, o?: { key?: boolean; hint?: string }): void;
  checkName(kind: string, name: string, path: YamlPath): boolean;
  declareNode(kind: string, name: string, path: YamlPath): void;
  declarePort(path: string, kind: PortKind, linkable: boolean, yaml: YamlPath): void;
}

/** Router MACs not written in the file: 02:fe:00:RR:RR:II (locally administered), file order. */
const ROUTER_MAC_BASE = 0x02fe_0000_0000;

export function ipv4Num(s: string): number {
  const p = s.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

export function resolveRouters(r: RouterResolver, doc: TopologyDoc): RouterModel[] {
  const out: RouterModel[] = [];
  let ri = 0;
  for (const [name, rdoc] of Object.entries(doc.routers ?? {})) {
    const ry = ['routers', name];
    r.declareNode('router', name, ry);
    ri++;
    const interfaces: RouterInterfaceModel[] = [];
    let ii = 0;
    for (const [ifName, idoc] of Object.entries(rdoc.interfaces)) {
      const iy = [...ry, 'interfaces', ifName];
      ii++;
      if (!r.checkName('interface', ifName, iy)) continue;
      const path = `${name}.${ifName}`;
      r.declarePort(path, 'router-port', true, iy);
      const mac = idoc.mac !== undefined ? parseInt(idoc.mac.replace(/:/g, ''), 16) : ROUTER_MAC_BASE + ri * 256 + ii;
      const itf: RouterInterfaceModel = { name: ifName, path, mac, mtu: idoc.mtu ?? DEFAULTS.mtu, yaml: iy };
      if (idoc.ipv4 !== undefined) {
        const [addr, len] = idoc.ipv4.split('/');
        itf.ipv4 = { address: ipv4Num(addr!), prefixLength: Number(len), text: idoc.ipv4 };
      } else if (idoc.ipv6 === undefined) {
        r.err('ROUTER_INTERFACE', iy, `router interface ${path} needs an address: "ipv4: …/24", "ipv6: …/64" or both`);
      }
      resolveRouterInterface6(r, itf, idoc.ipv6, [...iy, 'ipv6']);
      interfaces.push(itf);
    }
    const routes: RouteModel[] = [];
    const routes6: Route6Model[] = [];
    (rdoc.routes ?? []).forEach((rt, i) => {
      const y = [...ry, 'routes', i];
      if (isRoute6(rt)) {
        const r6 = resolveRoute6(r, name, interfaces, rt, y);
        if (r6) routes6.push(r6);
        return;
      }
      let network = 0;
      let prefixLength = 0;
      if (rt.to !== 'default') {
        const m = /^((?:\d{1,3}\.){3}\d{1,3})\/(\d{1,2})$/.exec(rt.to);
        if (!m || Number(m[2]) > 32 || m[1]!.split('.').some((o) => Number(o) > 255)) {
          r.err('ROUTE', [...y, 'to'], `"${rt.to}" is not a destination prefix; write an IPv4 prefix such as 10.1.0.0/16, or "default"`);
          return;
        }
        prefixLength = Number(m[2]);
        network = (ipv4Num(m[1]!) & maskOf(prefixLength)) >>> 0;
      }
      const via = (Array.isArray(rt.via) ? rt.via : [rt.via]).map(ipv4Num);
      via.forEach((v, k) => {
        const onLink = interfaces.some((itf) => itf.ipv4 !== undefined && ((v ^ itf.ipv4.address) & maskOf(itf.ipv4.prefixLength)) === 0);
        if (!onLink) {
          const at = Array.isArray(rt.via) ? [...y, 'via', k] : [...y, 'via'];
          r.err('ROUTE', at, `next hop ${Array.isArray(rt.via) ? rt.via[k] : rt.via} is on no subnet of router ${name} (${interfaces.flatMap((x) => (x.ipv4 ? [x.ipv4.text] : [])).join(', ') || 'no interface has ipv4'})`);
        }
      });
      routes.push({ network, prefixLength, via, yaml: y });
    });
    out.push({ name, interfaces, routes, ...(routes6.length > 0 ? { routes6 } : {}), ...(rdoc.ipv6_multipath_hash_policy !== undefined ? { ipv6HashPolicy: rdoc.ipv6_multipath_hash_policy } : {}), yaml: ry });
  }
  return out;
}
