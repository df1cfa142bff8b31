/**
 * The IPv6 underlay in topology files (issue 14): `underlay: { ipv6: 2001:db8:1::11/64, gateway6:
 * 2001:db8:1::1 }`, tunnel ports with an IPv6 `remote_ip`, the address-family rule, and the
 * `vfab validate` warnings for IPv6 tunnels (the MTU check with Linux's 70 bytes of IPv6 tunnel
 * headroom, an unreachable or unknown remote).
 *
 * Address families: a tunnel's remote and the local (underlay) address must be one family, as OVS
 * requires (lib/netdev-vport.c set_tunnel_config: "'remote_ip' and 'local_ip' has to be of the same
 * address family"); a port whose remote has no same-family underlay address on its host is a
 * located error.
 */
import type { YamlPath } from '../util/yaml-source.js';
import { UserError, formatLocation } from '../errors.js';
import { formatIpv6, parseIpv6, type Ipv6Words } from '../wire/ip.js';
import { ipv6Equal, ipv6InPrefix } from '../wire/ipv6-frame.js';
import type { InterfaceModel, TopologyModel, TunnelModel, UnderlayModel } from './model.js';
import type { HostDoc, PortDoc } from './schema.js';
import type { RouterResolver } from './routers.js';

/** Outer Ethernet 14 + IPv6 40 + UDP 8 + VXLAN/Geneve 8: Linux `vxlan_headroom(VXLAN_F_IPV6)`, `GENEVE_IPV6_HLEN` + ETH_HLEN. */
export const UDP_TUNNEL6_OVERHEAD = 70;

/** Parses IPv6 text at `y`; a located error (and undefined) when it is not an address. */
export function ipv6At(r: RouterResolver, text: string, y: YamlPath): Ipv6Words | undefined {
  try {
    return parseIpv6(text);
  } catch (e) {
    if (e instanceof UserError) {
      r.err('BAD_IPV6', y, `"${text}" is not an IPv6 address (RFC 4291 text, e.g. 2001:db8::1)`);
      return undefined;
    }
    throw e;
  }
}

export function resolveTunnel6(r: RouterResolver, d: PortDoc, y: YamlPath): TunnelModel | undefined {
  const remote = ipv6At(r, d.remote_ip!, [...y, 'remote_ip']);
  if (remote === undefined) return undefined;
  return {
    type: d.type!,
    remoteIp: 'ipv6',
    remoteIp6: remote,
    vni: d.key ?? 0,
    dstPort: d.dst_port ?? (d.type === 'geneve' ? 6081 : 4789),
    // OVS computes the outer UDP checksum for every IPv6 tunnel (netdev-native-tnl.c udp_build_header)
    csum: true,
  };
}

export function resolveUnderlay6(r: RouterResolver, u: UnderlayModel, d: NonNullable<HostDoc['underlay']>, y: YamlPath): void {
  if (d.ipv6 !== undefined) {
    const [a, l] = d.ipv6.split('/');
    const address = ipv6At(r, a!, [...y, 'ipv6']);
    if (address !== undefined) u.ipv6 = { address, prefixLength: Number(l), text: d.ipv6 };
  }
  if (d.gateway6 !== undefined) {
    const g = ipv6At(r, d.gateway6, [...y, 'gateway6']);
    if (g !== undefined) {
      if (u.ipv6 === undefined) r.err('UNDERLAY_CONFIG', [...y, 'gateway6'], 'gateway6 needs an IPv6 underlay address: add "ipv6: …/64"');
      else if (!ipv6InPrefix(g, u.ipv6.address, u.ipv6.prefixLength)) r.err('UNDERLAY_CONFIG', [...y, 'gateway6'], `gateway6 ${d.gateway6} is not on the underlay's prefix ${u.ipv6.text}`);
      u.gateway6 = g;
    }
  }
  if (d.ipv4 === undefined && d.ipv6 === undefined) r.err('UNDERLAY_CONFIG', y, 'an underlay needs an address: "ipv4: …/24", "ipv6: …/64" or both');
  if (d.gateway !== undefined && d.ipv4 === undefined) r.err('UNDERLAY_CONFIG', [...y, 'gateway'], 'gateway is IPv4 and this underlay has no ipv4 address (write gateway6 for an IPv6 gateway)');
}

/**
 * `local_ip` (OVS options:local_ip, an address literal; `flow` is not done): the tunnel's outer
 * source and the destination tnl_find requires of received packets. Its family must be
 * remote_ip's, as set_tunnel_config requires ("'remote_ip' and 'local_ip' has to be of the same
 * address family"); with `remote_ip: flow` it fixes the port's family (OVS takes the local address
 * of the flow's destination family only from it). False after a located error.
 */
export function resolveLocalIp(r: RouterResolver, t: TunnelModel, text: string, y: YamlPath): boolean {
  if (text.includes(':')) {
    const a = ipv6At(r, text, y);
    if (a === undefined) return false;
    if (t.remoteIp !== 'ipv6' && t.remoteIp !== 'flow') {
      r.err('TUNNEL_ADDRESS_FAMILY', y, `local_ip ${text} is IPv6 but remote_ip is IPv4: 'remote_ip' and 'local_ip' have to be of the same address family (OVS set_tunnel_config)`);
      return false;
    }
    t.localIp6 = a;
    // OVS computes the outer UDP checksum for every IPv6 tunnel (udp_build_header)
    t.csum = true;
    return true;
  }
  if (t.remoteIp === 'ipv6') {
    r.err('TUNNEL_ADDRESS_FAMILY', y, `local_ip ${text} is IPv4 but remote_ip is IPv6: 'remote_ip' and 'local_ip' have to be of the same address family (OVS set_tunnel_config)`);
    return false;
  }
  const p = text.split('.').map(Number);
  t.localIp = ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
  return true;
}

/** The port's address family: IPv6 when its remote or its local_ip is (remote_ip: flow takes local_ip's). */
export function tunnelIsIpv6(t: TunnelModel): boolean {
  return t.remoteIp === 'ipv6' || t.localIp6 !== undefined;
}

/** OVS lib/netdev-vport.c set_tunnel_config: remote and local address of one family. */
export function checkTunnelFamily(r: RouterResolver, host: string, u: UnderlayModel, path: string, t: TunnelModel, y: YamlPath): void {
  if (t.localIp6 !== undefined && u.ipv6 === undefined) {
    r.err('TUNNEL_ADDRESS_FAMILY', [...y, 'local_ip'], `${path}: local_ip ${formatIpv6(t.localIp6)} is IPv6, but ${u.path} has no IPv6 address (add "ipv6: …" to host ${host}'s underlay)`);
    return;
  }
  if (t.localIp !== undefined && u.ipv4 === undefined) {
    r.err('TUNNEL_ADDRESS_FAMILY', [...y, 'local_ip'], `${path}: local_ip is IPv4, but ${u.path} has no IPv4 address (add "ipv4: …" to host ${host}'s underlay)`);
    return;
  }
  if (t.remoteIp === 'ipv6' && u.ipv6 === undefined) {
    r.err('TUNNEL_ADDRESS_FAMILY', [...y, 'remote_ip'], `${path}: remote_ip ${formatIpv6(t.remoteIp6!)} is IPv6, but ${u.path} has no IPv6 address: a tunnel's remote_ip and local address must be one address family (add "ipv6: …" to host ${host}'s underlay)`);
  } else if (t.remoteIp !== 'ipv6' && t.remoteIp !== 'flow' && u.ipv4 === undefined) {
    // remote_ip=flow has no family of its own (parse_tunnel_ip: protocol 0): the flows choose
    r.err('TUNNEL_ADDRESS_FAMILY', [...y, 'remote_ip'], `${path}: remote_ip is IPv4, but ${u.path} has no IPv4 address: a tunnel's remote_ip and local address must be one address family (add "ipv4: …" to host ${host}'s underlay)`);
  }
}

/** Warnings for IPv6 tunnel ports: inner MTU + 70 > underlay MTU; remote off-link with no gateway6, or no host's address. */
export function overlayWarnings6(model: TopologyModel): string[] {
  const out: string[] = [];
  const at = (y: YamlPath): string => formatLocation(model.source.locate(y));
  const underlays = model.hosts.flatMap((h) => (h.underlay?.ipv6 ? [h.underlay.ipv6.address] : []));
  for (const h of model.hosts) {
    const u = h.underlay;
    if (!u?.ipv6) continue;
    for (const b of h.bridges) {
      const tunnels = b.ports.filter((p) => p.tunnel !== undefined && tunnelIsIpv6(p.tunnel));
      if (tunnels.length === 0) continue;
      const ifs = model.vms.flatMap((v) => v.interfaces).filter((i) => i.bridgePath === b.path && model.vms.find((v) => v.name === i.vm)?.host === h.name);
      const widest = ifs.reduce<InterfaceModel | undefined>((w, i) => (w === undefined || i.mtu > w.mtu ? i : w), undefined);
      for (const p of tunnels) {
        const t = p.tunnel!;
        const n = UDP_TUNNEL6_OVERHEAD;
        if (widest && widest.mtu + n > u.mtu) {
          out.push(`${at([...p.yaml, 'type'])}: warning: ${p.path}: inner MTU ${widest.mtu} (${widest.path}) + ${n} bytes of ${t.type === 'geneve' ? 'Geneve' : 'VXLAN'} over IPv6 overhead = ${widest.mtu + n} > underlay MTU ${u.mtu} (${u.path}); full-size packets will be dropped (mtu). Lower the guest MTU to ${u.mtu - n} or raise the underlay MTU to ${widest.mtu + n}`);
        }
        if (t.localIp6 !== undefined && !ipv6Equal(t.localIp6, u.ipv6.address)) {
          out.push(`${at([...p.yaml, 'local_ip'])}: warning: ${p.path}: local_ip ${formatIpv6(t.localIp6)} is not ${u.path}'s address ${u.ipv6.text}; no route has that source, so frames will be dropped (no-route) and none received (OVS: the route lookup from local_ip fails; tnl_find matches the packet's destination against it)`);
        }
        if (t.remoteIp6 === undefined) continue; // remote_ip: flow
        const remote = t.remoteIp6;
        const onLink = ipv6InPrefix(remote, u.ipv6.address, u.ipv6.prefixLength);
        if (!onLink && u.gateway6 === undefined) {
          out.push(`${at([...p.yaml, 'remote_ip'])}: warning: ${p.path}: remote_ip ${formatIpv6(remote)} is off ${u.path}'s prefix ${u.ipv6.text} and the host has no gateway6; frames will be dropped (no-route)`);
        } else if (!underlays.some((a) => ipv6Equal(a, remote))) {
          out.push(`${at([...p.yaml, 'remote_ip'])}: warning: ${p.path}: remote_ip ${formatIpv6(remote)} is no host's IPv6 underlay address; nothing will decapsulate these frames`);
        }
      }
    }
  }
  return out;
}
