/**
 * `hosts.X.interfaces` (issue 13): a hypervisor's own IP interfaces, the endpoints of host-to-host
 * traffic (migration streams, network storage). Each is one port `host.if`; with `bridge:` it is
 * an internal port of that host bridge (OVS `type=internal`, the bridge side named after the
 * interface: `hv1.br-mgmt.mgmt`), without it the port is cabled by a `links:` entry like a router
 * interface. Names share the host's namespace with its bridges and NICs (all are `host.name`).
 */
import type { YamlPath } from '../util/yaml-source.js';
import { DEFAULTS, type HostInterfaceModel, type HostModel, type VlanConfig } from './model.js';
import type { HostDoc } from './schema.js';
import { ipv4Num, type RouterResolver } from './routers.js';

/** Host interface MACs not written in the file: 02:fc:00:HH:HH:II (locally administered), file order. */
export const HOST_IF_MAC_BASE = 0x02fc_0000_0000;

export interface HostInterfaceResolver extends RouterResolver {
  vlan(doc: { vlan_mode?: VlanConfig['vlanMode'] | undefined; tag?: number | undefined; trunks?: number[] | undefined }, yaml: YamlPath): VlanConfig;
  unknown(code: string, path: YamlPath, kind: string, name: string, known: string[], where?: string): void;
}

/** `hostIndex`: the host's position in the file (1-based), for default MACs. */
export function resolveHostInterfaces(r: HostInterfaceResolver, h: HostModel, hostIndex: number, d: HostDoc['interfaces'], hy: YamlPath): void {
  if (d === undefined) return;
  let ii = 0;
  for (const [name, idoc] of Object.entries(d)) {
    const y = [...hy, 'interfaces', name];
    ii++;
    if (!r.checkName('interface', name, y)) continue;
    if (h.bridges.some((b) => b.name === name) || h.nics.some((n) => n.name === name)) {
      r.err('DUPLICATE_NAME', y, `"${name}" is already a bridge or NIC on host ${h.name}`, { key: true });
      continue;
    }
    const path = `${h.name}.${name}`;
    r.declarePort(path, 'host-if', idoc.bridge === undefined, y);
    const [addr, len] = idoc.ipv4.split('/');
    const m: HostInterfaceModel = {
      name,
      host: h.name,
      path,
      mac: idoc.mac !== undefined ? parseInt(idoc.mac.replace(/:/g, ''), 16) : HOST_IF_MAC_BASE + (hostIndex & 0xffff) * 256 + (ii & 0xff),
      ipv4: { address: ipv4Num(addr!), prefixLength: Number(len), text: idoc.ipv4 },
      mtu: idoc.mtu ?? DEFAULTS.mtu,
      vlan: r.vlan(idoc, y),
      yaml: y,
    };
    if (idoc.gateway !== undefined) m.gateway = ipv4Num(idoc.gateway);
    if (idoc.bridge !== undefined) {
      const br = h.bridges.find((b) => b.name === idoc.bridge);
      if (!br) {
        r.unknown('UNKNOWN_BRIDGE', [...y, 'bridge'], 'bridge', idoc.bridge, h.bridges.map((b) => b.name), `on host ${h.name}`);
      } else {
        m.bridgePath = br.path;
        r.declarePort(`${br.path}.${name}`, 'host-if', false, y);
      }
    } else if (idoc.vlan_mode !== undefined || idoc.tag !== undefined || idoc.trunks !== undefined) {
      r.err('INTERFACE_CONFIG', y, `vlan_mode, tag and trunks are bridge port settings; host interface ${path} has no "bridge"`);
    }
    (h.interfaces ??= []).push(m);
  }
}
