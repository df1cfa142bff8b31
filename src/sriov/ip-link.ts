/**
 * `ip link show PF` / `ip -s link show PF` text for a physical function and its VFs, following
 * iproute2 `ip/ipaddress.c` (`print_linkinfo`, `print_vfinfo`, `print_vf_stats64`): a `vf N`
 * line per VF with the MAC, then only the knobs that are set (`vlan`, `qos`, `vlan protocol`
 * for 802.1ad, `tx rate`/`max_tx_rate`/`min_tx_rate` when non-zero), then `spoof checking`,
 * `link-state` and `trust`, which the drivers always report.
 *
 * VF dropped counters: iproute2 prints one RX and one TX `dropped`; we count `no-driver` and
 * `loop` as RX drops and every transmit-side reason (spoofed, vlan-filter, queue-full, link-down,
 * malformed) as TX drops.
 */
import { formatMac } from '../wire/mac.js';
import type { PhysicalFunction } from './pf.js';
import type { VirtualFunction } from './vf.js';

export interface IpLinkShowOptions {
  /** `ip -s`: add the statistics blocks. */
  stats?: boolean;
}

const RX_DROP_REASONS = new Set(['no-driver', 'loop']);

/** iproute2 `print_num` without `-h`: left-aligned in `width`, then a space. */
function num(n: number, width: number): string {
  return `${String(n).padEnd(width)} `;
}

export function vfLine(vf: VirtualFunction): string {
  const c = vf.config;
  let s = `    vf ${vf.index}     link/ether ${formatMac(c.mac)} brd ff:ff:ff:ff:ff:ff`;
  if (c.vlan !== 0) s += `, vlan ${c.vlan}`;
  if (c.qos !== 0) s += `, qos ${c.qos}`;
  if (c.vlan !== 0 && c.proto === '802.1ad') s += ', vlan protocol 802.1ad';
  if (c.max_tx_rate !== 0) s += `, tx rate ${c.max_tx_rate} (Mbps)`;
  if (c.max_tx_rate !== 0) s += `, max_tx_rate ${c.max_tx_rate}Mbps`;
  if (c.min_tx_rate !== 0) s += `, min_tx_rate ${c.min_tx_rate}Mbps`;
  s += `, spoof checking ${c.spoofchk ? 'on' : 'off'}, link-state ${c.state}, trust ${c.trust ? 'on' : 'off'}`;
  return s;
}

function vfStats(vf: VirtualFunction): string[] {
  const c = vf.port.counters;
  let rxDropped = 0;
  let txDropped = 0;
  for (const [reason, n] of Object.entries(c.drops)) {
    if (RX_DROP_REASONS.has(reason)) rxDropped += n;
    else txDropped += n;
  }
  return [
    '    RX: bytes  packets  mcast   bcast   dropped',
    `    ${num(c.rx_bytes, 10)}${num(c.rx_packets, 8)}${num(vf.stats.rx_multicast, 7)}${num(vf.stats.rx_broadcast, 7)}${num(rxDropped, 8)}`.trimEnd(),
    '    TX: bytes  packets   dropped',
    `    ${num(c.tx_bytes, 10)}${num(c.tx_packets, 8)}${num(txDropped, 8)}`.trimEnd(),
  ];
}

export function formatIpLinkShow(pf: PhysicalFunction, opts: IpLinkShowOptions = {}): string {
  const up = pf.linkUp;
  const flags = up ? 'BROADCAST,MULTICAST,UP,LOWER_UP' : 'NO-CARRIER,BROADCAST,MULTICAST,UP';
  const lines = [
    `${pf.ifindex}: ${pf.name}: <${flags}> mtu 1500 qdisc mq state ${up ? 'UP' : 'DOWN'} mode DEFAULT group default qlen 1000`,
    `    link/ether ${formatMac(pf.mac)} brd ff:ff:ff:ff:ff:ff`,
  ];
  if (opts.stats) {
    const c = pf.uplink.counters;
    const dropped = Object.values(c.drops).reduce((a, b) => a + b, 0);
    lines.push(
      '    RX: bytes  packets  errors  dropped overrun mcast',
      `    ${num(c.rx_bytes, 10)}${num(c.rx_packets, 8)}${num(0, 7)}${num(dropped, 7)}${num(0, 7)}${num(0, 7)}`.trimEnd(),
      '    TX: bytes  packets  errors  dropped carrier collsns',
      `    ${num(c.tx_bytes, 10)}${num(c.tx_packets, 8)}${num(0, 7)}${num(0, 7)}${num(0, 7)}${num(0, 7)}`.trimEnd(),
    );
  }
  for (const vf of pf.vfs) {
    lines.push(vfLine(vf));
    if (opts.stats) lines.push(...vfStats(vf));
  }
  return `${lines.join('\n')}\n`;
}
