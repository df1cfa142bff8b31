/**
 * IPv6 forwarding in routers (router/router6.ts): Neighbor Discovery for next hops (RFC 4861),
 * hop-limit decrement, ICMPv6 errors (RFC 4443: time exceeded 3/0, no route 1/0, address
 * unreachable 1/3, packet too big 2/0 with the MTU) with the offending packet quoted and a
 * checksum over the pseudo-header, echo replies, ECMP over the five-tuple. tshark decodes every
 * frame the router sent (ND and errors) with valid ICMPv6 checksums and nothing malformed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemorySink, PcapWriter } from '../../src/pcap/index.js';
import { Port, connect, type Frame } from '../../src/port/port.js';
import { Router, flowHash6, type StaticRoute6 } from '../../src/router/index.js';
import { selectHop } from '../../src/router/routes.js';
import { Simulation } from '../../src/sim/simulation.js';
import { parseIpv6, type Ipv6Words } from '../../src/wire/ip.js';
import { ICMPV6, PROTO_ICMPV6, buildIpv6Frame, buildNeighborAdvert, parseNd, readIpv6At, setIcmpv6Checksum, solicitedNode, upperChecksumOk } from '../../src/wire/ipv6-frame.js';
import { describeWithTools } from '../helpers/tools.js';

const A = parseIpv6('2001:db8:a::10');
const R_IN = parseIpv6('2001:db8:a::1');
const R_OUT = parseIpv6('2001:db8:b::1');
const B = parseIpv6('2001:db8:b::2');
const FAR = parseIpv6('2001:db8:c::5');
const A_MAC = 0x02000000000a;
const B_MAC = 0x02000000000b;
const R_IN_MAC = 0x020000000001;
const R_OUT_MAC = 0x020000000002;

interface World {
  sim: Simulation;
  r: Router;
  atA: Frame[];
  atB: Frame[];
  sendA(f: Frame): void;
  /** Every frame the router sent, in order (for tshark). */
  all: Frame[];
}

function world(opts: { routes6?: StaticRoute6[]; bAnswers?: boolean; outMtu?: number } = {}): World {
  const sim = new Simulation(5);
  const r = new Router({
    name: 'r',
    sim,
    interfaces: [
      { name: 'in', mac: R_IN_MAC, ipv4: 0x0a000001, prefixLength: 24, mtu: 1500, ipv6: { address: R_IN, prefixLength: 64 } },
      { name: 'out', mac: R_OUT_MAC, ipv4: 0x0a010001, prefixLength: 24, mtu: opts.outMtu ?? 1500, ipv6: { address: R_OUT, prefixLength: 64 } },
    ],
    routes6: opts.routes6 ?? [{ network: [0, 0, 0, 0], prefixLength: 0, via: [B] }],
  });
  const atA: Frame[] = [];
  const atB: Frame[] = [];
  const all: Frame[] = [];
  const pa = new Port('a', (f) => {
    atA.push(f);
    all.push(f);
  });
  const pb = new Port('b', (f) => {
    atB.push(f);
    all.push(f);
    // B answers NS for its address (as a Linux host would)
    const ip = f.subarray(14);
    if (opts.bAnswers !== false && f[12] === 0x86 && f[13] === 0xdd && ip[6] === PROTO_ICMPV6 && ip[40] === ICMPV6.NeighborSolicit) {
      const nd = parseNd(ip);
      if (typeof nd !== 'string' && nd.target[3] === B[3] && nd.lladdr !== undefined) sim.schedule(1000, () => pb.send(buildNeighborAdvert(B_MAC, B, nd.lladdr!, readIpv6At(ip, 8), false), { hops: 0 }));
    }
  });
  connect(pa, r.interfaces[0]!.port);
  connect(pb, r.interfaces[1]!.port);
  // A is known to the router (as after an NS/NA exchange): learn it through an NS from A.
  return { sim, r, atA, atB, all, sendA: (f) => pa.send(f, { hops: 0 }) };
}

/** An ICMPv6 echo request from A to `dst` with `hop` hop limit and `size` payload bytes. */
function echo(dst: Ipv6Words, hop: number, size = 8): Frame {
  const msg = new Uint8Array(8 + size);
  msg[0] = ICMPV6.EchoRequest;
  msg[5] = 1;
  msg[7] = 1;
  setIcmpv6Checksum(msg, A, dst);
  return buildIpv6Frame(A_MAC, R_IN_MAC, { src: A, dst, nextHeader: PROTO_ICMPV6, hopLimit: hop }, msg);
}

/** Lets the router learn A: A solicits R_IN (the NS carries A's MAC; the router answers NA). */
function introduceA(w: World): void {
  const msg = new Uint8Array(32);
  msg[0] = ICMPV6.NeighborSolicit;
  for (let i = 0; i < 4; i++) new DataView(msg.buffer).setUint32(8 + 4 * i, R_IN[i]!);
  msg[24] = 1;
  msg[25] = 1;
  for (let i = 0; i < 6; i++) msg[26 + i] = Math.floor(A_MAC / 2 ** (8 * (5 - i))) & 0xff;
  const sn = solicitedNode(R_IN);
  setIcmpv6Checksum(msg, A, sn);
  w.sendA(buildIpv6Frame(A_MAC, 0x3333ff000001, { src: A, dst: sn, nextHeader: PROTO_ICMPV6, hopLimit: 255 }, msg));
}

function icmp6(f: Frame): { type: number; code: number; param: number; quote: Uint8Array; ok: boolean; hop: number; src: number[] } {
  const ip = f.subarray(14);
  const plen = (ip[4]! << 8) | ip[5]!;
  const msg = ip.subarray(40, 40 + plen);
  return {
    type: msg[0]!,
    code: msg[1]!,
    param: new DataView(msg.buffer, msg.byteOffset).getUint32(4),
    quote: msg.subarray(8),
    ok: upperChecksumOk(msg, readIpv6At(ip, 8), readIpv6At(ip, 24), PROTO_ICMPV6),
    hop: ip[7]!,
    src: readIpv6At(ip, 8),
  };
}

describe('IPv6 router', () => {
  it('answers an NS for its address with a solicited router NA (R, S, O; hop limit 255)', () => {
    const w = world();
    introduceA(w);
    w.sim.run();
    expect(w.atA).toHaveLength(1);
    const nd = parseNd(w.atA[0]!.subarray(14));
    expect(nd).toMatchObject({ type: 136, lladdr: R_IN_MAC, solicited: true });
    expect(w.atA[0]![14 + 40 + 4]).toBe(0xe0); // R | S | O
  });

  it('resolves the next hop with a multicast NS, then forwards with the hop limit decremented', () => {
    const w = world();
    introduceA(w);
    const sent = echo(FAR, 10);
    w.sendA(sent);
    w.sim.run();
    const ns = w.atB[0]!;
    expect(ns.subarray(0, 6)).toEqual(Uint8Array.of(0x33, 0x33, 0xff, 0, 0, 2)); // solicited-node MAC of ::2
    const nd = parseNd(ns.subarray(14));
    expect(nd).toMatchObject({ type: 135, target: B, lladdr: R_OUT_MAC });
    const fwd = w.atB[1]!;
    expect(Array.from(fwd.subarray(0, 6))).toEqual([2, 0, 0, 0, 0, 0x0b]);
    expect(fwd[14 + 7]).toBe(9);
    // everything but the hop limit and the Ethernet addresses is unchanged
    const a = sent.subarray(14);
    const b = fwd.subarray(14, 14 + a.length);
    expect([...b.subarray(8)]).toEqual([...a.subarray(8)]);
    expect(w.r.v6!.ifaces[1]!.counters.forwarded_out).toBe(1);
    expect(w.r.v6!.ifaces[0]!.counters.forwarded_in).toBe(1);
  });

  it('hop limit 1: ICMPv6 time exceeded (3/0) from the ingress address, quoting the packet, checksum valid', () => {
    const w = world();
    introduceA(w);
    const sent = echo(FAR, 1);
    w.sendA(sent);
    w.sim.run();
    const e = icmp6(w.atA[1]!);
    expect(e).toMatchObject({ type: 3, code: 0, param: 0, ok: true, hop: 64, src: R_IN });
    expect([...e.quote]).toEqual([...sent.subarray(14, 14 + 40 + 16)]);
    expect(w.r.interfaces[0]!.port.counters.drops['hop-limit-exceeded']).toBe(1);
  });

  it('no route: destination unreachable, no route (1/0)', () => {
    const w = world({ routes6: [] });
    introduceA(w);
    w.sendA(echo(FAR, 10));
    w.sim.run();
    expect(icmp6(w.atA[1]!)).toMatchObject({ type: 1, code: 0, ok: true });
    expect(w.r.v6!.icmpSent).toEqual({ '1/0': 1 });
  });

  it('too big for the egress MTU: packet too big (2/0) with the MTU, never fragments (RFC 8200 §5)', () => {
    const w = world({ outMtu: 1300 });
    introduceA(w);
    const sent = echo(FAR, 10, 1300);
    w.sendA(sent);
    w.sim.run();
    const e = icmp6(w.atA[1]!);
    expect(e).toMatchObject({ type: 2, code: 0, param: 1300, ok: true });
    // RFC 4443 §2.4(c): the quote stops where the error would exceed 1280 bytes
    expect(e.quote.length).toBe(1280 - 48);
    expect([...e.quote]).toEqual([...sent.subarray(14, 14 + 1232)]);
    expect(w.atB.filter((f) => f[12] === 0x86 && f[14 + 6] !== PROTO_ICMPV6)).toHaveLength(0);
  });

  it('next hop never answers: address unreachable (1/3) after 3 solicitations, 1 s apart', () => {
    const w = world({ bAnswers: false });
    introduceA(w);
    w.sendA(echo(FAR, 10));
    w.sim.run();
    expect(w.atB).toHaveLength(3);
    expect(icmp6(w.atA[1]!)).toMatchObject({ type: 1, code: 3, ok: true });
  });

  it('answers an echo request to its own address', () => {
    const w = world();
    introduceA(w);
    w.sendA(echo(R_IN, 64));
    w.sim.run();
    expect(icmp6(w.atA[1]!)).toMatchObject({ type: 129, code: 0, ok: true, src: R_IN });
  });

  it('ECMP spreads 1,000 flows within ±10 % of even over two next hops, stably', () => {
    const counts = [0, 0];
    for (let f = 0; f < 1000; f++) {
      const h = flowHash6(99, A, FAR, 17, 32768 + f, 4789);
      expect(flowHash6(99, A, FAR, 17, 32768 + f, 4789)).toBe(h);
      counts[selectHop(h, 2)]!++;
    }
    for (const c of counts) expect(Math.abs(c - 500)).toBeLessThanOrEqual(50);
  });
});

describeWithTools(['tshark'], 'IPv6 router frames seen by tshark', () => {
  it('decodes the NS/NA exchange and every ICMPv6 error with good checksums and nothing malformed', () => {
    const frames: Frame[] = [];
    for (const o of [{}, { routes6: [] }, { outMtu: 1300 }]) {
      const w = world(o);
      introduceA(w);
      w.sendA(echo(FAR, 1));
      w.sendA(echo(FAR, 10, 1300));
      w.sim.run();
      frames.push(...w.all);
    }
    const sink = new MemorySink();
    const pw = new PcapWriter(sink);
    frames.forEach((f, i) => pw.writePacket(i * 1000, f));
    pw.close();
    const file = join(mkdtempSync(join(tmpdir(), 'ipv6-underlay-r6-')), 'r6.pcap');
    writeFileSync(file, sink.bytes());
    const t = (...a: string[]): string => execFileSync('tshark', ['-r', file, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(t('-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
    const rows = t('-Y', 'icmpv6', '-T', 'fields', '-E', 'separator=|', '-e', 'icmpv6.type', '-e', 'icmpv6.code', '-e', 'icmpv6.checksum.status').trim().split('\n').map((l) => l.split('|'));
    // an error lists its own ICMPv6 header first, then the quoted echo request's
    const first = (x: string | undefined): string => (x ?? '').split(',')[0]!;
    const types = new Set(rows.map((r) => `${first(r[0])}/${first(r[1])}`));
    for (const k of ['135/0', '136/0', '3/0', '1/0', '2/0']) expect(types).toContain(k);
    for (const r of rows) expect(first(r[2])).toBe('1'); // checksum good
    // tshark reads the quoted packet inside the errors as IPv6 again
    expect(t('-Y', 'icmpv6.type == 3 && ipv6.dst == 2001:db8:c::5', '-T', 'fields', '-e', 'frame.number').trim()).not.toBe('');
    expect(t('-Y', 'icmpv6.type == 2', '-T', 'fields', '-e', 'icmpv6.mtu').trim().split('\n')[0]).toBe('1300');
  });
});
