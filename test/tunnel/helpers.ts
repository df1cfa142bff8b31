import { UserError, loadTopologyText } from '../../src/index.js';

/** The rendered (`t.yaml:line:col: message`) error loading `text` as `t.yaml`, or '' when it loads. */
export function rendered(text: string): string {
  try {
    loadTopologyText(text, 't.yaml');
  } catch (e) {
    if (e instanceof UserError) return e.render();
    throw e;
  }
  return '';
}

/** Two hypervisors with a VXLAN tunnel between their br0s over one router. */
export function vxlanPair(o: { extra: string; key2?: number; underlayMtu?: number; vmMtu?: number; csum?: boolean }): string {
  const mtu = o.underlayMtu ?? 1500;
  const csum = o.csum ? ', csum: true' : '';
  return `name: vx
hosts:
  hv1:
    underlay: { ipv4: 192.0.2.11/24, gateway: 192.0.2.1, mtu: ${mtu} }
    bridges: { br0: { ports: { vx0: { type: vxlan, remote_ip: 198.51.100.12, key: 5001${csum} } } } }
  hv2:
    underlay: { ipv4: 198.51.100.12/24, gateway: 198.51.100.1, mtu: ${mtu} }
    bridges: { br0: { ports: { vx0: { type: vxlan, remote_ip: 192.0.2.11, key: ${o.key2 ?? 5001}${csum} } } } }
routers:
  r1:
    interfaces:
      a: { ipv4: 192.0.2.1/24, mtu: ${mtu} }
      b: { ipv4: 198.51.100.1/24, mtu: ${mtu} }
vms:
  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24, mtu: ${o.vmMtu ?? 1500} } } }
  vm2: { host: hv2, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.2/24, mtu: ${o.vmMtu ?? 1500} } } }
links:
  - { a: hv1.underlay, b: r1.a, delay: 5us }
  - { a: r1.b, b: hv2.underlay, delay: 5us }
scenario:
${o.extra}
`;
}

/**
 * The underlay address family of a tunnelPair: `ipv4` (the default), `ipv6` (both hosts IPv6 only,
 * the router dual-stack), `dual` (hv1 dual-stack, hv2 IPv6 only), `ipv6-only-router` (as `ipv6`,
 * and the router's interfaces have no IPv4 address).
 */
export type UnderlayFamily = 'ipv4' | 'ipv6' | 'dual' | 'ipv6-only-router';

/**
 * Two hypervisors over one router, each with bridge br0 holding vm1/vm2 and a tunnel port `tun0`
 * written as `port` (its flow mapping text), plus optional OpenFlow rules per host. `underlay`
 * chooses the underlay's address family (IPv6 hosts: 2001:db8:1::11 and 2001:db8:2::11, gateways ::1).
 */
export function tunnelPair(o: { port1: string; port2: string; flows1?: string; flows2?: string; extra: string; underlay?: UnderlayFamily; vmMtu?: number; seed?: number }): string {
  const flows = (f: string | undefined): string => (f === undefined ? '' : `\n        flows: |\n${f.split('\n').map((l) => `          ${l}`).join('\n')}`);
  const fam = o.underlay ?? 'ipv4';
  const v6 = (n: number): string => `ipv6: "2001:db8:${n}::11/64", gateway6: "2001:db8:${n}::1"`;
  const u1 = fam === 'ipv4' ? 'ipv4: 192.0.2.11/24, gateway: 192.0.2.1' : fam === 'dual' ? `ipv4: 192.0.2.11/24, gateway: 192.0.2.1, ${v6(1)}` : v6(1);
  const u2 = fam === 'ipv4' ? 'ipv4: 198.51.100.12/24, gateway: 198.51.100.1' : v6(2);
  const r4 = fam !== 'ipv6-only-router';
  const ra = [r4 ? 'ipv4: 192.0.2.1/24' : '', fam !== 'ipv4' ? 'ipv6: "2001:db8:1::1/64"' : ''].filter((x) => x).join(', ');
  const rb = [r4 ? 'ipv4: 198.51.100.1/24' : '', fam !== 'ipv4' ? 'ipv6: "2001:db8:2::1/64"' : ''].filter((x) => x).join(', ');
  const mtu = o.vmMtu ?? 1450;
  return `name: tp
${o.seed !== undefined ? `seed: ${o.seed}\n` : ''}hosts:
  hv1:
    underlay: { ${u1} }
    bridges:
      br0:
        ports: { tun0: ${o.port1} }${flows(o.flows1)}
  hv2:
    underlay: { ${u2} }
    bridges:
      br0:
        ports: { tun0: ${o.port2} }${flows(o.flows2)}
routers:
  r1:
    interfaces:
      a: { ${ra} }
      b: { ${rb} }
vms:
  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24, mtu: ${mtu} } } }
  vm2: { host: hv2, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.2/24, mtu: ${mtu} } } }
links:
  - { a: hv1.underlay, b: r1.a, delay: 5us }
  - { a: r1.b, b: hv2.underlay, delay: 5us }
scenario:
${o.extra}
`;
}
