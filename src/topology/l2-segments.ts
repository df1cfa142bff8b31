/**
 * L2 segments (broadcast domains) of a topology, for the "same address twice" check (issue 14:
 * tenants reuse 10.0.0.0/24 on the same hosts, isolated by bridge or VNI).
 *
 * Two VM interfaces are in the same segment when an Ethernet frame could reach one from the other
 * without crossing a router: a union-find over port paths joins every bridge (host bridge or
 * switch) with its ports, the two ends of every link, a VF with its PF's uplink (and the PF's
 * bridge), and the two ends of a static VXLAN/Geneve tunnel (same type, VNI and UDP port, each
 * end's `remote_ip` the other's underlay address). The segment is then split by the access VLAN
 * of the interface's bridge port (trunk/untagged ports are VLAN 0), as an engineer reading the
 * file would.
 *
 * Deliberately not followed: flow-based tunnels (`remote_ip: flow` / `key: flow`) and OpenFlow
 * rules, which decide at run time which frames cross; they join nothing here, so two tenants whose
 * separation is written in flows may reuse addresses. Costs: O(ports · α) per validation.
 */
import type { HostModel, InterfaceModel, BridgeModel, LinkModel, VmModel } from './model.js';

class UnionFind {
  private readonly parent = new Map<string, string>();
  find(x: string): string {
    let p = this.parent.get(x);
    if (p === undefined) {
      this.parent.set(x, x);
      return x;
    }
    let root = x;
    while (p !== root) {
      root = p!;
      p = this.parent.get(root);
    }
    // Path compression keeps later finds short.
    let c = x;
    while (c !== root) {
      const n = this.parent.get(c)!;
      this.parent.set(c, root);
      c = n;
    }
    return root;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
  }
}

export interface L2Segments {
  /** A stable name of the interface's segment: the smallest path in it, plus `#vlan` when tagged. */
  of(i: InterfaceModel): string;
}

export function l2Segments(hosts: HostModel[], switches: BridgeModel[], links: LinkModel[], vms: VmModel[]): L2Segments {
  const uf = new UnionFind();
  for (const b of [...hosts.flatMap((h) => h.bridges), ...switches]) {
    for (const p of b.ports) uf.union(b.path, p.path);
  }
  for (const h of hosts) {
    for (const n of h.nics) if (n.doc.bridge !== undefined) uf.union(n.uplinkPath, `${h.name}.${n.doc.bridge}`);
    const local = h.underlay?.ipv4?.address;
    if (local === undefined) continue;
    for (const b of h.bridges) {
      for (const p of b.ports) {
        const t = p.tunnel;
        if (!t || t.remoteIp === 'flow' || t.remoteIp === 'ipv6' || t.vni === 'flow') continue; // IPv6 tunnels: trace-free, not followed
        const lo = Math.min(local, t.remoteIp);
        const hi = Math.max(local, t.remoteIp);
        // Both ends of one tunnel name the same key; the bridge joins it through its port.
        const key = `tunnel:${t.type}:${lo}:${hi}:${t.vni}:${t.dstPort}`;
        uf.union(p.path, key);
      }
    }
  }
  for (const l of links) uf.union(l.a, l.b);
  for (const vm of vms) {
    for (const i of vm.interfaces) {
      if (i.bridgePath !== undefined) uf.union(i.path, i.bridgePath);
      else if (i.nic !== undefined) uf.union(i.path, `${vm.host}.${i.nic}.uplink`);
    }
  }
  return {
    of(i) {
      const root = uf.find(i.path);
      const tag = i.vlan.tag !== undefined && (i.vlan.vlanMode === undefined || i.vlan.vlanMode === 'access') ? i.vlan.tag : 0;
      return tag === 0 ? root : `${root}#vlan${tag}`;
    },
  };
}
