/**
 * Scale: a generated fabric of 1,000 hypervisors × 10 VMs (10,000 virtio NICs and guest stacks),
 * each hypervisor's br0 uplinked to one of 20 leaf switches (50 hosts each), leaves uplinked to a
 * spine — 1,020 links. The figure is loadTopologyText + new Fabric (parse, schema, semantic
 * checks, build), and the process RSS after building (after a GC when --expose-gc is on).
 */
import { Fabric } from '../fabric/fabric.js';
import { loadTopologyText } from '../topology/load.js';
import type { BenchContext } from './main.js';

export const keys = ['topology_10k_vms_load_ms', 'topology_10k_vms_rss_mb'];

export function generateTopology(hosts = 1000, vmsPerHost = 10, hostsPerLeaf = 50): string {
  const out: string[] = ['name: scale', 'hosts:'];
  for (let h = 0; h < hosts; h++) out.push(`  hv${h}: { bridges: { br0: { ports: { uplink: {} } } } }`);
  const leaves = Math.ceil(hosts / hostsPerLeaf);
  out.push('switches:');
  const spinePorts: string[] = [];
  for (let l = 0; l < leaves; l++) {
    const ports = [`up: {}`];
    for (let p = 0; p < hostsPerLeaf && l * hostsPerLeaf + p < hosts; p++) ports.push(`p${p}: {}`);
    out.push(`  leaf${l}: { ports: { ${ports.join(', ')} } }`);
    spinePorts.push(`l${l}: {}`);
  }
  out.push(`  spine: { ports: { ${spinePorts.join(', ')} } }`);
  out.push('links:');
  for (let h = 0; h < hosts; h++) out.push(`  - { a: hv${h}.br0.uplink, b: leaf${Math.floor(h / hostsPerLeaf)}.p${h % hostsPerLeaf}, delay: 5us }`);
  for (let l = 0; l < leaves; l++) out.push(`  - { a: leaf${l}.up, b: spine.l${l}, bandwidth: 100Gbit, delay: 10us }`);
  out.push('vms:');
  let n = 0;
  for (let h = 0; h < hosts; h++) {
    for (let v = 0; v < vmsPerHost; v++, n++) {
      const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${(n & 255) + 0}`;
      out.push(`  vm${n}: { host: hv${h}, interfaces: { eth0: { bridge: br0, ipv4: ${ip === '10.0.0.0' ? '10.255.255.254' : ip}/8 } } }`);
    }
  }
  return `${out.join('\n')}\n`;
}

// eslint-disable-next-line @typescript-eslint/require-await -- every bench module's run() is async (BenchModule); this one is synchronous inside
export async function run(ctx: BenchContext): Promise<Record<string, number>> {
  const text = generateTopology();
  const gc = (globalThis as { gc?: () => void }).gc;
  // Each measurement builds one fabric, checks it, and drops it before the next, so a run never
  // pays for collecting the previous fabric.
  const once = (): { ms: number; rssMb: number } => {
    gc?.();
    const t0 = performance.now();
    const fabric = new Fabric(loadTopologyText(text, 'scale.yaml'));
    const ms = performance.now() - t0;
    gc?.();
    const rssMb = process.memoryUsage().rss / (1024 * 1024); // the fabric is still alive here
    if (fabric.ctx.vms.size !== 10_000) throw new Error('scale topology did not build 10k VMs');
    return { ms, rssMb };
  };
  once();
  const times: number[] = [];
  let rssMb = 0;
  for (let i = 0; i < 3; i++) {
    const r = once();
    times.push(r.ms);
    rssMb = Math.max(rssMb, r.rssMb);
  }
  times.sort((a, b) => a - b);
  const ms = times[1]!;
  ctx.log(`10k VMs: ${ms.toFixed(0)} ms, ${rssMb.toFixed(0)} MB RSS`);
  return { topology_10k_vms_load_ms: Math.round(ms), topology_10k_vms_rss_mb: Math.round(rssMb) };
}
