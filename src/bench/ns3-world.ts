/**
 * The worlds vfab is raced against ns-3 on (`bench/ns3/`), described once and written out twice:
 * as a vfab topology (YAML) and as the argument line of the ns-3 program `bench/ns3/vfab-world.cc`.
 *
 * A world is H hypervisors, each with one learning bridge `br0` and V VMs on it; with H > 1 every
 * bridge has an uplink to one ToR switch over a full-duplex cable (bandwidth, delay). F UDP flows
 * run at a constant bit rate (iperf-style datagrams: 4-byte sequence number, 8-byte send time);
 * flow f goes from VM f to VM (f + N/2) mod N, so with H > 1 every flow crosses the ToR.
 *
 * Flow f starts `staggerNs` after flow f − 1, so datagrams of different flows never meet in a
 * transmit queue: latencies are then fixed by the cables alone and can be compared to the
 * nanosecond (see bench/ns3/README.md for what ns-3 is given to match vfab's cables).
 */

export interface World {
  name: string;
  hosts: number;
  vmsPerHost: number;
  flows: number;
  /** UDP payload bit rate per flow. */
  rateBps: number;
  /** UDP payload bytes. */
  size: number;
  /** How long each flow sends. */
  durationNs: number;
  /** First flow's start. */
  startNs: number;
  staggerNs: number;
  /** Uplink cables (bridge ↔ ToR). */
  linkBps: number;
  linkDelayNs: number;
}

/** The worlds the bench and `bench/ns3/compare.mjs` run. */
export const WORLDS: Record<string, World> = {
  one_bridge: {
    name: 'one_bridge', hosts: 1, vmsPerHost: 2, flows: 1, rateBps: 100e6, size: 1000,
    durationNs: 1e9, startNs: 1e6, staggerNs: 0, linkBps: 10e9, linkDelayNs: 5000,
  },
  tor_64vms: {
    name: 'tor_64vms', hosts: 8, vmsPerHost: 8, flows: 32, rateBps: 100e6, size: 1000,
    durationNs: 100e6, startNs: 1e6, staggerNs: 2000, linkBps: 10e9, linkDelayNs: 5000,
  },
  long_run: {
    name: 'long_run', hosts: 8, vmsPerHost: 8, flows: 32, rateBps: 100e6, size: 1000,
    durationNs: 500e6, startNs: 1e6, staggerNs: 2000, linkBps: 10e9, linkDelayNs: 5000,
  },
};

const vmName = (i: number): string => `vm${i}`;
const vmIp = (i: number): string => `10.0.${(i + 1) >> 8}.${(i + 1) & 255}`;
const vmMac = (i: number): string => `02:00:00:00:${(((i + 1) >> 8) & 255).toString(16).padStart(2, '0')}:${((i + 1) & 255).toString(16).padStart(2, '0')}`;

/** Destination VM of flow `f`. */
export function flowDst(w: World, f: number): number {
  const n = w.hosts * w.vmsPerHost;
  return (f + n / 2) % n;
}

/** Simulated time at which both simulators stop: every datagram has had 10 ms to arrive. */
export function stopNs(w: World): number {
  return w.startNs + (w.flows - 1) * w.staggerNs + w.durationNs + 10e6;
}

/** Wire time of a `len`-byte frame on a cable, as vfab's link counts it (src/link/link.ts). */
export function serializationNs(frameLen: number, bps: number): number {
  return Math.ceil(((Math.max(frameLen, 60) + 24) * 8 * 1e9) / bps);
}

/** The vfab topology of world `w`. VMs see frames at once (`rx_delay: 0`), like an ns-3 node. */
export function vfabTopology(w: World): string {
  const out: string[] = [`name: ns3-${w.name}`, 'seed: 1', `duration: ${stopNs(w)}ns`, 'hosts:'];
  const uplink = w.hosts > 1;
  for (let h = 0; h < w.hosts; h++) out.push(`  hv${h}: { bridges: { br0: { ${uplink ? 'ports: { uplink: {} } ' : ''}} } }`);
  if (uplink) {
    const ports = Array.from({ length: w.hosts }, (_, h) => `p${h}: {}`).join(', ');
    out.push('switches:', `  tor: { ports: { ${ports} } }`, 'links:');
    for (let h = 0; h < w.hosts; h++) {
      out.push(`  - { a: hv${h}.br0.uplink, b: tor.p${h}, bandwidth: ${w.linkBps}bit, delay: ${w.linkDelayNs}ns }`);
    }
  }
  out.push('vms:');
  for (let i = 0; i < w.hosts * w.vmsPerHost; i++) {
    const h = Math.floor(i / w.vmsPerHost);
    out.push(`  ${vmName(i)}: { host: hv${h}, interfaces: { eth0: { bridge: br0, mac: "${vmMac(i)}", ipv4: ${vmIp(i)}/16, rx_delay: 0ns } } }`);
  }
  out.push('scenario:');
  for (let f = 0; f < w.flows; f++) {
    out.push(
      `  - { at: ${w.startNs + f * w.staggerNs}ns, udp: { from: ${vmName(f)}, to: ${vmIp(flowDst(w, f))}, port: 5001, rate: ${w.rateBps}bit, size: ${w.size}, duration: ${w.durationNs}ns } }`,
    );
  }
  return `${out.join('\n')}\n`;
}

/**
 * Arguments of `bench/ns3/vfab-world.cc` for world `w`. ns-3's SimpleNetDevice carries IP packets
 * without an Ethernet header and counts no preamble or gap, so it is given no data rate and each
 * cable's delay is vfab's whole per-hop time for a datagram (serialization + propagation).
 */
export function ns3Args(w: World): string[] {
  const frameLen = 14 + 20 + 8 + w.size;
  const hopNs = serializationNs(frameLen, w.linkBps) + w.linkDelayNs;
  return [
    `--hosts=${w.hosts}`, `--vmsPerHost=${w.vmsPerHost}`, `--flows=${w.flows}`, `--rateBps=${w.rateBps}`,
    `--size=${w.size}`, `--durationNs=${w.durationNs}`, `--startNs=${w.startNs}`, `--staggerNs=${w.staggerNs}`,
    `--uplinkDelayNs=${hopNs}`, `--stopNs=${stopNs(w)}`,
  ];
}
