/**
 * Path MTU discovery for TCP (RFC 1191; Linux tcp_v4_err → tcp_v4_mtu_reduced → tcp_sync_mss +
 * tcp_simple_retransmit): a bulk flow through a router whose egress MTU is smaller than the
 * guests' 1500. Every full-size segment carries DF, the router answers fragmentation needed with
 * its next-hop MTU, and the sender lowers its MSS and resends. With IP_PMTUDISC_PROBE (DF set, the
 * path MTU ignored) the same flow black-holes: nothing bigger than the hop crosses.
 */
import { describe, expect, it } from 'vitest';
import { Fabric } from '../../src/fabric/fabric.js';
import { toModel } from '../../src/fabric/run.js';
import type { TcpConfig } from '../../src/tcp/index.js';
import { routedLine } from '../router/helpers.js';

const BYTES = 2 * 1024 * 1024;

function run(tcp: Partial<TcpConfig>, midMtu: number, untilNs: number) {
  const text = routedLine(`  - { at: 10ms, iperf: { from: a, to: b, bytes: ${BYTES}, interval: 100ms } }`, undefined, undefined, midMtu);
  const fabric = new Fabric(toModel({ text }));
  for (const vm of ['a', 'b']) fabric.ctx.vms.get(vm)!.stack.configureTcp(tcp);
  try {
    const summary = fabric.run({ untilNs });
    const app = summary.apps[0]!;
    const end = app['end'] as { sum_received: { bytes: number }; sum_sent: { retransmits: number }; streams: Array<{ sender: { snd_mss: number; ca_state: string } }> };
    const routers = summary['routers'] as Record<string, { icmp_sent: Record<string, number> }>;
    const ports = summary.ports as Record<string, { drops?: Record<string, number> }>;
    return { app, end, icmp: routers['r1']!.icmp_sent['3/4'] ?? 0, fragDrops: ports['r1.p1']?.drops?.['frag-needed'] ?? 0, stack: fabric.ctx.vms.get('a')!.stack };
  } finally {
    fabric.close();
  }
}

describe('TCP path MTU discovery', () => {
  it('a bulk flow through a 1400-byte hop learns the MTU from fragmentation needed, lowers its MSS and completes', () => {
    const r = run({}, 1400, 3e9);
    expect(r.end.sum_received.bytes).toBe(BYTES);
    // tcp_sync_mss: 1400 − 20 (IP) − 20 (TCP) − 12 (timestamps) = 1348 payload bytes per segment.
    expect(r.end.streams[0]!.sender.snd_mss).toBe(1348);
    expect(r.stack.pathMtuTo(0x0a00020a)).toBe(1400);
    // The initial window's segments were all too big: IW10 → ten ICMPs at most (one per segment
    // sent before the first ICMP came back), each dropped segment resent in pieces.
    expect(r.icmp).toBeGreaterThanOrEqual(1);
    expect(r.icmp).toBeLessThanOrEqual(10);
    expect(r.end.sum_sent.retransmits).toBeGreaterThanOrEqual(r.icmp);
    expect(r.app['errors'] ?? []).toEqual([]);
  });

  it('with IP_PMTUDISC_PROBE (DF, path MTU ignored) the same flow stalls: no data crosses the hop', () => {
    const r = run({ pmtuDisc: 'probe' }, 1400, 3e9);
    expect(r.end.sum_received.bytes).toBe(0);
    expect(r.end.streams[0]!.sender.snd_mss).toBe(1448);
    // The guest still learns the path MTU (ping would use it); only TCP ignores it.
    expect(r.stack.pathMtuTo(0x0a00020a)).toBe(1400);
    // The initial window and every timeout's retransmission die at the hop (ICMP itself is rate
    // limited by the router, as Linux's icmp_ratelimit).
    expect(r.fragDrops).toBeGreaterThanOrEqual(10);
    expect(r.icmp).toBeGreaterThanOrEqual(1);
  });

  it('a path MTU no smaller than the MSS in use changes nothing (icsk_pmtu_cookie)', () => {
    const r = run({}, 1500, 3e9);
    expect(r.end.sum_received.bytes).toBe(BYTES);
    expect(r.icmp).toBe(0);
    expect(r.end.streams[0]!.sender.snd_mss).toBe(1448);
    expect(r.end.sum_sent.retransmits).toBe(0);
  });
});
