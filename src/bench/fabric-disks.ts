/**
 * Disk I/O inside a fabric run (issue 13): `fabric_with_disks_events_per_s` — simulation events
 * per CPU second of a fabric whose VMs run throttled fio jobs on their hosts' storage devices
 * while UDP streams cross the uplink between the hosts: the storage engine and the network share
 * one event queue. CPU time (user + system of this process), so a loaded shared machine does not
 * halve the figure; the wall-clock rate is logged alongside. Issue 13's target: ≥ 2 M.
 */
import type { BenchContext } from './main.js';
import { Fabric } from '../fabric/fabric.js';
import { loadTopologyText } from '../topology/load.js';

export const keys = ['fabric_with_disks_events_per_s'];

const VMS_PER_HOST = 4;

function topology(): string {
  const vms: string[] = [];
  const steps: string[] = [];
  for (let h = 1; h <= 2; h++) {
    for (let v = 0; v < VMS_PER_HOST; v++) {
      const n = (h - 1) * VMS_PER_HOST + v + 1;
      vms.push(`  vm${n}:
    host: hv${h}
    interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.${n}/24 } }
    disks:
      vda: { memory: 16GiB, backend: ssd, throttle: { iops-total: 20000, iops-total-max: 40000 } }`);
      steps.push(`  - at: 0s
    fio: { disk: vm${n}.vda, rw: randrw, bs: 4k, iodepth: 16, runtime: 1s, time_based: 1 }`);
      if (h === 1) steps.push(`  - at: 0s
    udp: { from: vm${n}, to: vm${n + VMS_PER_HOST}, rate: 50Mbit, size: 1400, duration: 1s }`);
    }
  }
  const host = (h: number): string => `  hv${h}:
    bridges: { br0: { ports: { uplink: {} } } }
    backends:
      ssd: { parallelism: 64, service: { lognormal: { p50: 60us, p99: 400us } } }`;
  return `name: bench-fabric-disks
seed: 1
duration: 1s
hosts:
${host(1)}
${host(2)}
links:
  - { a: hv1.br0.uplink, b: hv2.br0.uplink, bandwidth: 10Gbit, delay: 20us }
vms:
${vms.join('\n')}
scenario:
${steps.join('\n')}
`;
}

export async function run(ctx: BenchContext): Promise<Record<string, number | string | null>> {
  const text = topology();
  const rate = await ctx.median(3, () => {
    const f = new Fabric(loadTopologyText(text, 'bench-fabric-disks.yaml'));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const s = f.run();
    const c = process.cpuUsage(c0);
    f.close();
    const wall = (performance.now() - t0) / 1000;
    const cpu = (c.user + c.system) / 1e6;
    const ios = (s['storage'] as { completed_ios: number }).completed_ios;
    ctx.log(`fabric-disks: ${s.sim_events} events (${ios} I/Os) in ${cpu.toFixed(2)} s CPU, ${Math.round(s.sim_events / cpu)}/s CPU, ${Math.round(s.sim_events / wall)}/s wall`);
    return Math.round(s.sim_events / cpu);
  });
  return { fabric_with_disks_events_per_s: rate };
}
