/** Two VMs, two routers in a line; `extra` adds scenario steps. */
export function routedLine(extra: string, r1Routes = `[{ to: default, via: 192.168.0.2 }]`, r2Routes = `[{ to: 10.0.1.0/24, via: 192.168.0.1 }]`, midMtu = 1500): string {
  return `name: routed
hosts: { h: {} }
vms:
  a: { host: h, interfaces: { eth0: { ipv4: 10.0.1.10/24, gateway: 10.0.1.1 } } }
  b: { host: h, interfaces: { eth0: { ipv4: 10.0.2.10/24, gateway: 10.0.2.1 } } }
routers:
  r1:
    interfaces:
      p1: { ipv4: 10.0.1.1/24 }
      p2: { ipv4: 192.168.0.1/30, mtu: ${midMtu} }
    routes: ${r1Routes}
  r2:
    interfaces:
      p1: { ipv4: 192.168.0.2/30, mtu: ${midMtu} }
      p2: { ipv4: 10.0.2.1/24 }
    routes: ${r2Routes}
links:
  - { a: a.eth0, b: r1.p1, delay: 10us }
  - { a: r1.p2, b: r2.p1, delay: 10us }
  - { a: r2.p2, b: b.eth0, delay: 10us }
scenario:
${extra}
`;
}
