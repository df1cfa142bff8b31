/**
 * Tunnel ports and host underlay addresses (issue 14): `type: vxlan` bridge ports and
 * `hosts.X.underlay`. A tunnel port needs a remote_ip and a host with an underlay address.
 */
import type { YamlPath } from '../util/yaml-source.js';
import { DEFAULTS, type HostModel, type TunnelModel, type UnderlayModel } from './model.js';
import type { HostDoc, PortDoc } from './schema.js';
import { ipv4Num, type RouterResolver } from './routers.js';

/** Underlay MACs not written in the file: 02:fd:00:00:HH:HH, file order. */
const UNDERLAY_MAC_BASE = 0x02fd_0000_0000;

export function resolveTunnelPort(r: RouterResolver, d: PortDoc, y: YamlPath): TunnelModel | undefined {
  if (d.type === undefined) {
    for (const k of ['remote_ip', 'key', 'dst_port', 'csum'] as const) {
      if (d[k] !== undefined) r.err('TUNNEL_CONFIG', [...y, k], `"${k}" is a tunnel option; add "type: vxlan"`, { key: true });
    }
    return undefined;
  }
  if (d.remote_ip === undefined) {
    r.err('TUNNEL_CONFIG', [...y, 'type'], `a vxlan port needs "remote_ip" (the remote VTEP's underlay address)`);
    return undefined;
  }
  return { type: d.type, remoteIp: ipv4Num(d.remote_ip), vni: d.key ?? 0, dstPort: d.dst_port ?? 4789, csum: d.csum ?? false };
}

/** `index`: the host's position in the file (1-based), for the default MAC. */
export function resolveUnderlay(r: RouterResolver, host: string, index: number, d: HostDoc['underlay'], hy: YamlPath): UnderlayModel | undefined {
  if (d === undefined) return undefined;
  const y = [...hy, 'underlay'];
  const path = `${host}.underlay`;
  r.declarePort(path, 'host-underlay', true, y);
  const [a, l] = d.ipv4.split('/');
  const u: UnderlayModel = {
    path,
    mac: d.mac !== undefined ? parseInt(d.mac.replace(/:/g, ''), 16) : UNDERLAY_MAC_BASE + (index & 0xffff),
    ipv4: { address: ipv4Num(a!), prefixLength: Number(l), text: d.ipv4 },
    mtu: d.mtu ?? DEFAULTS.mtu,
    yaml: y,
  };
  if (d.gateway !== undefined) u.gateway = ipv4Num(d.gateway);
  return u;
}

/** A tunnel port on a host with no underlay address cannot send: a located error. */
export function checkTunnelHost(r: RouterResolver, h: HostModel): void {
  for (const b of h.bridges) {
    for (const p of b.ports) {
      if (p.tunnel && !h.underlay) {
        r.err('TUNNEL_NO_UNDERLAY', [...p.yaml, 'type'], `tunnel port ${p.path} needs an underlay address on host ${h.name}: add "underlay: { ipv4: …, gateway: … }" to the host`);
      }
    }
  }
}
