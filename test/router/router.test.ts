import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runTopology } from '../../src/index.js';
import { RouteTable, Router, decrementTtl, flowHash, fragmentIpv4, selectHop } from '../../src/router/index.js';
import { Simulation } from '../../src/sim/simulation.js';
import { fold, sumBytes } from '../../src/wire/checksum.js';
import { parseIpv4 } from '../../src/wire/ip.js';
import { buildIpv4Datagram } from '../../src/wire/ipv4-frame.js';
import { routedLine } from './helpers.js';

const ip = parseIpv4;

describe('route table', () => {
  it('picks the longest matching prefix, then the default route', () => {
    const t = new RouteTable();
    t.add(0, 0, { via: 1, iface: 0 }, 'static');
    t.add(ip('10.0.0.0'), 8, { via: 2, iface: 0 }, 'static');
    t.add(ip('10.1.0.0'), 16, { via: 3, iface: 0 }, 'static');
    t.add(ip('10.1.2.3'), 32, { via: 4, iface: 0 }, 'static');
    expect(t.lookup(ip('10.1.2.3'))!.nextHops[0]!.via).toBe(4);
    expect(t.lookup(ip('10.1.2.4'))!.nextHops[0]!.via).toBe(3);
    expect(t.lookup(ip('10.2.0.1'))!.nextHops[0]!.via).toBe(2);
    expect(t.lookup(ip('11.0.0.1'))!.nextHops[0]!.via).toBe(1);
  });

  it('agrees with a linear scan for random tables and addresses', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(0xffffffff), fc.integer({ min: 0, max: 32 })), { maxLength: 30 }), fc.array(fc.nat(0xffffffff), { maxLength: 20 }), (routes, dsts) => {
        const t = new RouteTable();
        routes.forEach(([n, l], i) => t.add(n, l, { via: i + 1, iface: 0 }, 'static'));
        const mask = (l: number) => (l === 0 ? 0 : (0xffffffff << (32 - l)) >>> 0);
        for (const d of dsts) {
          let best: { len: number; net: number } | undefined;
          for (const [n, l] of routes) if (((d & mask(l)) >>> 0) === ((n & mask(l)) >>> 0) && (!best || l > best.len)) best = { len: l, net: (n & mask(l)) >>> 0 };
          const r = t.lookup(d);
          if (!best) expect(r).toBeUndefined();
          else expect([r!.prefixLength, r!.network]).toEqual([best.len, best.net]);
        }
      }),
    );
  });
});

describe('ECMP', () => {
  function spread(paths: number, seed: number): number[] {
    const counts = new Array<number>(paths).fill(0);
    for (let f = 0; f < 1000; f++) counts[selectHop(flowHash(seed, ip('10.0.1.10') + (f >> 8), ip('10.0.2.10'), 17, 32768 + f, 5001), paths)]!++;
    return counts;
  }

  it('spreads 1,000 flows within ±10% of even over 2 equal paths, whatever the seed', () => {
    for (let seed = 1; seed <= 20; seed++) for (const c of spread(2, seed)) expect(Math.abs(c - 500)).toBeLessThanOrEqual(50);
  });

  it('spreads 1,000 flows over 4 paths within the binomial band (±15%, 2.7 sigma)', () => {
    // With 4 paths one bin's standard deviation is sqrt(1000 * 0.25 * 0.75) = 13.7 flows, so ±10%
    // (25 flows) is only 1.8 sigma for any uniform hash, Linux's included.
    for (let seed = 1; seed <= 5; seed++) for (const c of spread(4, seed)) expect(Math.abs(c - 250)).toBeLessThanOrEqual(37.5);
  });

  it('keeps a flow on its path (same seed, same choice) and reseeding moves flows', () => {
    expect(spread(4, 7)).toEqual(spread(4, 7));
    const a = Array.from({ length: 200 }, (_, f) => selectHop(flowHash(7, 1, 2, 6, f, 80), 4));
    const b = Array.from({ length: 200 }, (_, f) => selectHop(flowHash(8, 1, 2, 6, f, 80), 4));
    expect(a).not.toEqual(b);
  });

  it('forwards flows of one router over both equal-cost next hops, each flow on one path', () => {
    const sim = new Simulation(3);
    const r = new Router({
      name: 'r', sim,
      interfaces: [
        { name: 'in', mac: 0x020000000001, ipv4: ip('10.0.0.1'), prefixLength: 24, mtu: 1500 },
        { name: 'u1', mac: 0x020000000002, ipv4: ip('10.1.0.1'), prefixLength: 30, mtu: 1500 },
        { name: 'u2', mac: 0x020000000003, ipv4: ip('10.2.0.1'), prefixLength: 30, mtu: 1500 },
      ],
      routes: [{ network: 0, prefixLength: 0, via: [ip('10.1.0.2'), ip('10.2.0.2')] }],
    });
    const picks = new Set<number>();
    for (let f = 0; f < 64; f++) {
      const a = r.resolveRoute(ip('10.0.0.5'), ip('8.8.8.8'), 6, 40000 + f, 443)!;
      const b = r.resolveRoute(ip('10.0.0.5'), ip('8.8.8.8'), 6, 40000 + f, 443)!;
      expect(a.hop).toBe(b.hop);
      picks.add(a.hop.iface);
    }
    expect([...picks].sort()).toEqual([1, 2]);
  });
});

describe('IPv4 header arithmetic', () => {
  it('decrements TTL with a header checksum that still verifies (RFC 1624)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 255 }), fc.nat(0xffff), fc.nat(0xffffffff), fc.nat(0xffffffff), fc.integer({ min: 0, max: 255 }), (ttl, id, s, d, tos) => {
        const p = buildIpv4Datagram({ src: s, dst: d, protocol: 17, tos, ttl, ident: id, dontFrag: false }, new Uint8Array(8));
        decrementTtl(p);
        expect(p[8]).toBe(ttl - 1);
        expect(fold(sumBytes(p, 0, 20))).toBe(0xffff);
      }),
    );
  });

  it('fragments into 8-byte-aligned pieces that reassemble to the original (RFC 791)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 68, max: 1500 }), (len, mtu) => {
        const payload = Uint8Array.from({ length: len }, (_, i) => (i * 7) & 0xff);
        const p = buildIpv4Datagram({ src: 1, dst: 2, protocol: 17, tos: 0, ttl: 9, ident: 77, dontFrag: false }, payload);
        const frags = fragmentIpv4(p, mtu);
        const re = new Uint8Array(len);
        frags.forEach((f, i) => {
          expect(f.length).toBeLessThanOrEqual(mtu);
          expect(fold(sumBytes(f, 0, 20))).toBe(0xffff);
          const w = (f[6]! << 8) | f[7]!;
          expect((w & 0x2000) !== 0).toBe(i < frags.length - 1);
          re.set(f.subarray(20), (w & 0x1fff) * 8);
          if (i < frags.length - 1) expect((f.length - 20) % 8).toBe(0);
          expect([f[4], f[5]]).toEqual([0, 77]);
        });
        expect(re).toEqual(payload);
      }),
    );
  });
});

describe('routers in a topology', () => {
  it('routes pings across two routers with the guests using their gateway', () => {
    const { summary } = runTopology({ text: routedLine('  - { at: 0s, ping: { from: a, to: b, count: 3, interval: 10ms } }') }, { untilNs: 1e9 });
    expect(summary.apps[0]).toMatchObject({ sent: 3, received: 3 });
    const r = summary['routers'] as Record<string, { interfaces: Record<string, { forwarded_out: number }> }>;
    expect(r['r1']!.interfaces['p2']!.forwarded_out).toBe(3);
  });

  it('traceroute lists every router hop, then the destination', () => {
    const { summary, text } = runTopology({ text: routedLine('  - { at: 0s, traceroute: { from: a, to: b } }') }, { untilNs: 5e9 });
    const t = (summary['traceroutes'] as Array<{ reached: boolean; hops: Array<{ ip: string; icmp: string }> }>)[0]!;
    expect(t.reached).toBe(true);
    expect(t.hops.map((h) => [h.ip, h.icmp])).toEqual([
      ['10.0.1.1', '11/0'],
      ['192.168.0.2', '11/0'],
      ['10.0.2.10', '3/3'],
    ]);
    expect(text).toContain('traceroute a -> 10.0.2.10: reached in 3 hops');
  });

  it('answers net unreachable when no route matches', () => {
    const { summary } = runTopology({ text: routedLine('  - { at: 0s, traceroute: { from: a, to: 172.16.0.1, max_hops: 5 } }') }, { untilNs: 9e9 });
    const t = (summary['traceroutes'] as Array<{ reached: boolean; hops: Array<{ ip: string; icmp: string }> }>)[0]!;
    expect(t.reached).toBe(false);
    expect(t.hops.at(-1)).toMatchObject({ ip: '192.168.0.2', icmp: '3/0' });
    expect((summary.ports['r2.p1'] as { drops: Record<string, number> }).drops['no-route']).toBe(1);
  });

  it('ends a routing loop by TTL expiry, reported, without hanging', () => {
    // r1 and r2 point their default routes at each other: a ping to 172.16.0.1 loops.
    const text = routedLine('  - { at: 0s, ping: { from: a, to: 172.16.0.1, count: 1 } }', '[{ to: default, via: 192.168.0.2 }]', '[{ to: default, via: 192.168.0.1 }]');
    const { summary } = runTopology({ text }, { untilNs: 5e9 });
    expect(summary.events_total['ttl-exceeded']).toBe(1);
    // TTL 64 from the guest: 63 forwarding decisions, 32 on r1 and 31 on r2, the 64th expires.
    const p = summary.ports as Record<string, { tx_packets: number }>;
    expect(p['r1.p2']!.tx_packets + p['r2.p1']!.tx_packets).toBeGreaterThanOrEqual(63);
    const r = summary['routers'] as Record<string, { icmp_sent: Record<string, number> }>;
    expect((r['r1']!.icmp_sent['11/0'] ?? 0) + (r['r2']!.icmp_sent['11/0'] ?? 0)).toBe(1);
  });

  it('returns fragmentation needed with the next-hop MTU for DF packets, and the guest lowers its path MTU', () => {
    const steps = ['  - { at: 0s, ping: { from: a, to: b, count: 1, size: 1200 } }', '  - { at: 1s, ping: { from: a, to: b, count: 1, size: 1200 } }', '  - { at: 2s, ping: { from: a, to: b, count: 1, size: 900 } }'].join('\n');
    const { summary, fabric } = runTopology({ text: routedLine(steps, undefined, undefined, 1000) }, { untilNs: 5e9 });
    expect(summary.apps.map((a) => a['received'])).toEqual([0, 0, 1]);
    const r = summary['routers'] as Record<string, { icmp_sent: Record<string, number> }>;
    expect(r['r1']!.icmp_sent['3/4']).toBe(1);
    const stack = fabric.ctx.vms.get('a')!.stack;
    expect(stack.pathMtuTo(ip('10.0.2.10'))).toBe(1000);
    // The second big ping never leaves the guest (EMSGSIZE): dropped as mtu there.
    expect(stack.counters.drops['mtu']).toBe(1);
  });

  it('rejects a static route whose next hop is on no connected subnet, with its position', () => {
    let err: unknown;
    try {
      runTopology({ text: routedLine('  - { at: 0s, ping: { from: a, to: b } }', '[{ to: default, via: 10.9.9.9 }]') });
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toMatch(/next hop 10\.9\.9\.9 is on no subnet of router r1/);
    expect((err as { errors?: Array<{ location?: { line: number } }> }).errors?.[0]?.location?.line ?? (err as { location?: { line: number } }).location?.line).toBe(11);
  });
});
