/**
 * Tunnel ports and host underlay addresses (issue 14): `type: vxlan` bridge ports and
 * `hosts.X.underlay`. A tunnel port needs a remote_ip and a host with an underlay address.
 */
import type { YamlPath } from '../util/yaml-source.js';
import { formatLocation } from '../errors.js';
import { DEFAULTS, type HostModel, type InterfaceModel, type TopologyModel, type TunnelModel, type UnderlayModel } from './model.js';
import type { HostDoc, PortDoc } from './schema.js';
import { ipv4Num, type RouterResolver } from './routers.js';
import { checkTunnelFamily, overlayWarnings6, resolveLocalIp, resolveTunnel6, resolveUnderlay6, tunnelIsIpv6 } from './tunnels6.js';

/** Underlay MACs not written in the file: 02:fd:00:00:HH:HH, file order. */
const UNDERLAY_MAC_BASE = 0x02fd_0000_0000;

export function resolveTunnelPort(r: RouterResolver, d: PortDoc, y: YamlPath): TunnelModel | undefined {
  if (d.type === undefined) {
    for (const k of ['remote_ip', 'local_ip', 'key', 'dst_port', 'csum'] as const) {
      if (d[k] !== undefined) r.err('TUNNEL_CONFIG', [...y, k], `"${k}" is a tunnel option; add "type: vxlan" or "type: geneve"`, { key: true });
    }
    return undefined;
  }
  if (d.remote_ip === undefined) {
    r.err('TUNNEL_CONFIG', [...y, 'type'], `a ${d.type} port needs "remote_ip" (the remote VTEP's underlay address, or "flow")`);
    return undefined;
  }
  const t: TunnelModel | undefined = d.remote_ip.includes(':')
    ? resolveTunnel6(r, d, y)
    : {
        type: d.type,
        remoteIp: d.remote_ip === 'flow' ? 'flow' : ipv4Num(d.remote_ip),
        vni: d.key ?? 0,
        dstPort: d.dst_port ?? (d.type === 'geneve' ? 6081 : 4789),
        csum: d.csum ?? false,
      };
  if (t !== undefined && d.local_ip !== undefined && !resolveLocalIp(r, t, d.local_ip, [...y, 'local_ip'])) return undefined;
  return t;
}

/** `index`: the host's position in the file (1-based), for the default MAC. */
export function resolveUnderlay(r: RouterResolver, host: string, index: number, d: HostDoc['underlay'], hy: YamlPath): UnderlayModel | undefined {
  if (d === undefined) return undefined;
  const y = [...hy, 'underlay'];
  const path = `${host}.underlay`;
  r.declarePort(path, 'host-underlay', true, y);
  const u: UnderlayModel = {
    path,
    mac: d.mac !== undefined ? parseInt(d.mac.replace(/:/g, ''), 16) : UNDERLAY_MAC_BASE + (index & 0xffff),
    mtu: d.mtu ?? DEFAULTS.mtu,
    yaml: y,
  };
  if (d.ipv4 !== undefined) {
    const [a, l] = d.ipv4.split('/');
    u.ipv4 = { address: ipv4Num(a!), prefixLength: Number(l), text: d.ipv4 };
  }
  if (d.gateway !== undefined) u.gateway = ipv4Num(d.gateway);
  resolveUnderlay6(r, u, d, y);
  return u;
}

/** A tunnel port on a host with no underlay address cannot send: a located error. */
export function checkTunnelHost(r: RouterResolver, h: HostModel): void {
  for (const b of h.bridges) {
    for (const p of b.ports) {
      if (p.tunnel && !h.underlay) {
        r.err('TUNNEL_NO_UNDERLAY', [...p.yaml, 'type'], `tunnel port ${p.path} needs an underlay address on host ${h.name}: add "underlay: { ipv4: …, gateway: … }" to the host`);
      } else if (p.tunnel && h.underlay) checkTunnelFamily(r, h.name, h.underlay, p.path, p.tunnel, p.yaml);
    }
  }
}

function fmt4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/** Outer Ethernet + IPv4 + UDP + VXLAN bytes around an inner frame (RFC 7348); Geneve with no options is the same (RFC 8926). */
const VXLAN_OVERHEAD = 50;

/**
 * Overlay problems that are legal but hurt (`vfab validate` prints them as warnings, located):
 * inner MTU + 50 > underlay MTU (full-size packets will be dropped `mtu`), and a `remote_ip` that is
 * no host's underlay address or is not routable from the host (off-link with no gateway).
 */
export function overlayWarnings(model: TopologyModel): string[] {
  const out: string[] = [];
  const at = (y: YamlPath): string => formatLocation(model.source.locate(y));
  const underlays = new Map<number, string>();
  for (const h of model.hosts) if (h.underlay?.ipv4) underlays.set(h.underlay.ipv4.address, h.underlay.path);
  for (const h of model.hosts) {
    const u = h.underlay;
    if (!u?.ipv4) continue;
    const u4 = u.ipv4;
    for (const b of h.bridges) {
      const tunnels = b.ports.filter((p) => p.tunnel);
      if (tunnels.length === 0) continue;
      const ifs = model.vms.flatMap((v) => v.interfaces).filter((i) => i.bridgePath === b.path && model.vms.find((v) => v.name === i.vm)?.host === h.name);
      const widest = ifs.reduce<InterfaceModel | undefined>((w, i) => (w === undefined || i.mtu > w.mtu ? i : w), undefined);
      for (const p of tunnels) {
        const t = p.tunnel!;
        if (tunnelIsIpv6(t)) continue; // overlayWarnings6
        if (widest && widest.mtu + VXLAN_OVERHEAD > u.mtu) {
          out.push(`${at([...p.yaml, 'type'])}: warning: ${p.path}: inner MTU ${widest.mtu} (${widest.path}) + ${VXLAN_OVERHEAD} bytes of ${t.type === 'geneve' ? 'Geneve' : 'VXLAN'} overhead = ${widest.mtu + VXLAN_OVERHEAD} > underlay MTU ${u.mtu} (${u.path}); full-size packets will be dropped (mtu). Lower the guest MTU to ${u.mtu - VXLAN_OVERHEAD} or raise the underlay MTU to ${widest.mtu + VXLAN_OVERHEAD}`);
        }
        if (t.localIp !== undefined && t.localIp !== u4.address) {
          out.push(`${at([...p.yaml, 'local_ip'])}: warning: ${p.path}: local_ip ${fmt4(t.localIp)} is not ${u.path}'s address ${u4.text}; no route has that source, so frames will be dropped (no-route) and none received (OVS: the route lookup from local_ip fails; tnl_find matches the packet's destination against it)`);
        }
        if (t.remoteIp === 'flow' || t.remoteIp === 'ipv6') continue; // the flows choose the remote at run time
        const remote = fmt4(t.remoteIp);
        const onLink = ((t.remoteIp ^ u4.address) & (u4.prefixLength === 0 ? 0 : (0xffffffff << (32 - u4.prefixLength)) >>> 0)) === 0;
        if (!onLink && u.gateway === undefined) {
          out.push(`${at([...p.yaml, 'remote_ip'])}: warning: ${p.path}: remote_ip ${remote} is off ${u.path}'s subnet ${u4.text} and the host has no underlay gateway; frames will be dropped (no-route)`);
        } else if (!underlays.has(t.remoteIp)) {
          out.push(`${at([...p.yaml, 'remote_ip'])}: warning: ${p.path}: remote_ip ${remote} is no host's underlay address; nothing will decapsulate these frames`);
        }
      }
    }
  }
  return [...out, ...overlayWarnings6(model)];
}
