import { describe, expect, it } from 'vitest';
import { capturePorts, MemorySink, PcapngWriter } from '../../src/pcap/index.js';
import type { Frame } from '../../src/port/port.js';
import type { TcpConnection, TcpError } from '../../src/tcp/index.js';
import { IP_B, pair, type Pair } from './helpers.js';

/** Every TCP segment a port transmits, decoded just enough for assertions. */
function tap(p: Pair, which: 'a' | 'b', drop: (t: number) => boolean = () => false): Array<{ t: number; flags: number; len: number; win: number; opts: Uint8Array; seq: number; ack: number }> {
  const port = which === 'a' ? p.na.port : p.nb.port;
  const out: Array<{ t: number; flags: number; len: number; win: number; opts: Uint8Array; seq: number; ack: number }> = [];
  const peer = port.peer!;
  port.peer = {
    receive: (f: Frame, m) => {
      if (f[12] === 0x08 && f[13] === 0 && f[23] === 6) {
        const tot = (f[16]! << 8) | f[17]!;
        const hl = (f[46]! >> 4) * 4;
        const dv = new DataView(f.buffer, f.byteOffset);
        out.push({ t: p.sim.now, flags: f[47]!, len: tot - 20 - hl, win: dv.getUint16(48), opts: f.slice(54, 34 + hl), seq: dv.getUint32(38), ack: dv.getUint32(42) });
      }
      if (!drop(p.sim.now)) peer.receive(f, m);
    },
  };
  return out;
}

function bulk(p: Pair, bytes: number, opts: { port?: number } = {}): { c: TcpConnection; received: Uint8Array[]; closed: Array<TcpError | null>; serverClosed: Array<TcpError | null> } {
  const received: Uint8Array[] = [];
  const closed: Array<TcpError | null> = [];
  const serverClosed: Array<TcpError | null> = [];
  p.b.tcp.listen(opts.port ?? 5001, (s) => {
    s.onData = (d) => received.push(d.slice());
    s.onEnd = () => s.close();
    s.onClose = (e) => serverClosed.push(e);
  });
  const c = p.a.tcp.connect(IP_B, opts.port ?? 5001);
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (i * 7 + (i >> 10)) & 0xff;
  let off = 0;
  const pump = (): void => {
    while (off < bytes) {
      const n = c.write(data.subarray(off, Math.min(bytes, off + 65536)));
      if (n === 0) return;
      off += n;
    }
    c.end();
  };
  c.onConnect = pump;
  c.onDrain = pump;
  c.onClose = (e) => closed.push(e);
  return { c, received, closed, serverClosed };
}

/** Byte equality without vitest's slow deep diff of large typed arrays. */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

function joined(chunks: Uint8Array[]): Uint8Array {
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

function expected(bytes: number): Uint8Array {
  const d = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) d[i] = (i * 7 + (i >> 10)) & 0xff;
  return d;
}

describe('TCP handshake and options', () => {
  it('sends the SYN options in Linux order: MSS from the MTU, SACK_PERM, TS, NOP, WS 7', () => {
    const p = pair();
    const segs = tap(p, 'a');
    const back = tap(p, 'b');
    p.b.tcp.listen(80, () => {});
    p.a.tcp.connect(IP_B, 80);
    p.sim.run({ untilNs: 10_000_000 });
    const syn = segs[0]!;
    expect(syn.flags).toBe(0x02);
    expect(syn.win).toBe(64240); // 44 × 1460, Linux tcp_select_initial_window
    // 02 04 05 b4 | 04 02 08 0a <tsval> <tsecr=0> | 01 03 03 07
    expect([...syn.opts.subarray(0, 8)]).toEqual([2, 4, 0x05, 0xb4, 4, 2, 8, 10]);
    expect([...syn.opts.subarray(12, 20)]).toEqual([0, 0, 0, 0, 1, 3, 3, 7]);
    const synack = back[0]!;
    expect(synack.flags).toBe(0x12);
    expect(synack.win).toBe(65160); // 45 × 1448: sized for the MSS minus timestamps
    expect([...synack.opts.subarray(0, 8)]).toEqual([2, 4, 0x05, 0xb4, 4, 2, 8, 10]);
    expect([...synack.opts.subarray(16, 20)]).toEqual([1, 3, 3, 7]);
    // TSecr of the SYN-ACK echoes the SYN's TSval.
    expect([...synack.opts.subarray(12, 16)]).toEqual([...syn.opts.subarray(8, 12)]);
    const ack = segs[1]!;
    expect(ack.flags).toBe(0x10);
    expect([...ack.opts.subarray(0, 4)]).toEqual([1, 1, 8, 10]);
  });

  it('derives the MSS from a jumbo MTU (9000 -> 8960)', () => {
    const p = pair({ mtu: 9000 });
    const segs = tap(p, 'a');
    p.b.tcp.listen(80, () => {});
    p.a.tcp.connect(IP_B, 80);
    p.sim.run({ untilNs: 10_000_000 });
    expect((segs[0]!.opts[2]! << 8) | segs[0]!.opts[3]!).toBe(8960);
  });

  it('answers a SYN to a closed port with RST|ACK and the connect fails with ECONNREFUSED', () => {
    const p = pair();
    const back = tap(p, 'b');
    const c = p.a.tcp.connect(IP_B, 9);
    let err: TcpError | null | undefined;
    c.onClose = (e) => (err = e);
    p.sim.run({ untilNs: 10_000_000 });
    expect(err).toBe('ECONNREFUSED');
    expect(back[0]!.flags).toBe(0x14);
    expect(back[0]!.seq).toBe(0);
    expect(p.b.tcp.counters.rst_sent).toBe(1);
  });

  it('reports ENETUNREACH without a route and EHOSTUNREACH when ARP fails (Linux tcp_v4_err)', () => {
    const p = pair({ tcp: { synRetries: 2 } });
    const c = p.a.tcp.connect(0x0b000001, 80);
    let err: TcpError | null | undefined;
    c.onClose = (e) => (err = e);
    p.sim.run({ untilNs: 1_000_000 });
    expect(err).toBe('ENETUNREACH');
    const segs = tap(p, 'a');
    const d = p.a.tcp.connect(0x0a000063, 80); // on-link, but no such host: ARP fails, SYNs are never sent
    let err2: TcpError | null | undefined;
    d.onClose = (e) => (err2 = e);
    p.sim.run({ untilNs: 60_000_000_000 });
    expect(err2).toBe('EHOSTUNREACH');
    expect(segs.length).toBe(0);
  });
});

describe('TCP data transfer', () => {
  it('moves 3 MB intact over a clean link with no retransmissions, then closes through FIN and TIME_WAIT', () => {
    const p = pair({ rate: 1e9, delayNs: 1_000_000 });
    const r = bulk(p, 3_000_000);
    p.sim.run({ untilNs: 2_000_000_000 });
    expect(same(joined(r.received), expected(3_000_000))).toBe(true);
    expect(r.c.info().total_retrans).toBe(0);
    expect(r.serverClosed).toEqual([null]); // LAST_ACK -> CLOSED
    expect(r.c.state).toBe('TIME_WAIT');
    p.sim.run({ untilNs: 62_500_000_000 });
    expect(r.c.state).toBe('CLOSED');
    expect(r.closed).toEqual([null]);
    expect(p.a.tcp.connections).toBe(0);
    expect(p.b.tcp.connections).toBe(0);
  });

  it('recovers from 1% random loss with SACK and delivers every byte in order', () => {
    const p = pair({ rate: 100e6, delayNs: 5_000_000, loss: 0.01, seed: 7 });
    const r = bulk(p, 2_000_000);
    p.sim.run({ untilNs: 20_000_000_000 });
    expect(same(joined(r.received), expected(2_000_000))).toBe(true);
    expect(r.c.info().total_retrans).toBeGreaterThan(0);
    expect(r.c.info().recoveries).toBeGreaterThan(0);
  });

  it('recovers with NewReno partial ACKs when SACK is off', () => {
    const p = pair({ rate: 100e6, delayNs: 5_000_000, loss: 0.01, seed: 3, tcp: { sack: false, cc: 'newreno' } });
    const r = bulk(p, 1_000_000);
    p.sim.run({ untilNs: 30_000_000_000 });
    expect(r.c.info().sack).toBe(false);
    expect(same(joined(r.received), expected(1_000_000))).toBe(true);
  });

  it('delays ACKs like Linux: 16 quick ACKs, then one ACK per two full segments', () => {
    const p = pair({ rate: 1e9, delayNs: 10_000_000 });
    const acks = tap(p, 'b');
    const data = tap(p, 'a');
    bulk(p, 400_000);
    p.sim.run({ untilNs: 1_000_000_000 });
    const dataSegs = data.filter((s) => s.len > 0).length;
    const pureAcks = acks.filter((s) => s.len === 0 && s.flags === 0x10);
    // Quick ACKs first: the first 16 data segments are acknowledged one by one.
    const firstAcks = pureAcks.slice(1, 17).map((s) => s.ack - pureAcks[0]!.ack);
    expect(firstAcks.slice(0, 3)).toEqual([1448, 2896, 4344]);
    // Afterwards mostly every second segment.
    expect(pureAcks.length).toBeLessThan(16 + (dataSegs - 16) / 2 + 20);
    expect(pureAcks.length).toBeGreaterThan((dataSegs - 16) / 2);
  });

  it('closes the window when the reader stops and reopens it when it reads', () => {
    const p = pair({ rate: 1e9, delayNs: 100_000, tcp: { rcvBuf: 65536 } });
    let server: TcpConnection | undefined;
    p.b.tcp.listen(5001, (s) => {
      server = s;
      s.pause();
    });
    const c = p.a.tcp.connect(IP_B, 5001);
    const chunk = new Uint8Array(65536);
    const pump = (): void => {
      while (c.write(chunk) > 0);
    };
    c.onConnect = pump;
    c.onDrain = pump;
    const acks = tap(p, 'b');
    p.sim.run({ untilNs: 2_000_000_000 });
    expect(p.sim.eventsRun).toBeLessThan(10_000);
    expect(server!.readable).toBeGreaterThan(0);
    // The advertised window shrinks to less than one segment: the sender stops (and probes).
    expect(acks.some((s) => s.win * 2 < 1448)).toBe(true);
    const before = server!.readable;
    expect(before).toBeLessThanOrEqual(65536);
    server!.onData = () => {};
    server!.resume();
    p.sim.run({ untilNs: 2_050_000_000 });
    expect(server!.info().bytes_received).toBeGreaterThan(before * 4);
  });

  it('retransmits on timeout with exponential back-off and gives up with ETIMEDOUT', () => {
    const p = pair({ rate: 1e9, delayNs: 100_000, tcp: { retries: 3 } });
    const r = bulk(p, 20_000_000);
    const segs = tap(p, 'a', (t) => t > 2_000_000);
    p.sim.run({ untilNs: 120_000_000_000 });
    expect(r.closed).toEqual(['ETIMEDOUT']);
    // The segment at snd_una goes out again at every timeout, each wait twice the last.
    const una = segs[segs.length - 1]!.seq;
    const rtx = segs.filter((s) => s.seq === una && s.len > 0).map((s) => s.t);
    expect(rtx.length).toBe(4); // the original, then tcp_retries2 = 3 retransmissions
    const gaps = rtx.slice(1).map((t, i) => t - rtx[i]!);
    expect(gaps[2]! / gaps[1]!).toBeCloseTo(2, 2);
    expect(gaps[1]!).toBeGreaterThanOrEqual(400_000_000); // twice Linux's 200 ms floor
    expect(r.c.info().timeouts).toBeGreaterThanOrEqual(3);
  });

  it('the first timeout comes one RTO after the loss, not at the SYN\'s 1 s initial RTO (RFC 6298 §2.1, §5.7)', () => {
    // The SYN arms the timer with the 1 s initial RTO; the first RTT sample brings the RTO down
    // to Linux's 200 ms floor. The timer must move EARLIER too (mod_timer): a loss at 2 ms is
    // retransmitted at about 2 ms + 200 ms, not at the stale event's 1 s.
    const p = pair({ rate: 1e9, delayNs: 100_000 });
    bulk(p, 20_000_000);
    const segs = tap(p, 'a', (t) => t > 2_000_000 && t < 150_000_000);
    p.sim.run({ untilNs: 2_000_000_000 });
    const lost = segs.filter((s) => s.t > 2_000_000 && s.len > 0);
    const una = lost[0]!.seq;
    const rtx = lost.filter((s) => s.seq === una).map((s) => s.t);
    expect(rtx.length).toBeGreaterThanOrEqual(2);
    expect(rtx[1]! - rtx[0]!).toBeGreaterThanOrEqual(200_000_000);
    expect(rtx[1]!).toBeLessThan(300_000_000);
  });

  it('rejects a buffer larger than 1 GiB with a located error', () => {
    const p = pair();
    expect(() => p.a.tcp.connect(IP_B, 80, { config: { rcvBuf: 2 ** 31 } })).toThrow(/receive buffer 2147483648 bytes is outside/);
  });
});

describe('TCP determinism', () => {
  it('same seed, same bytes on the wire', () => {
    const run = (seed: number): Uint8Array => {
      const p = pair({ rate: 100e6, delayNs: 2_000_000, loss: 0.005, seed });
      const sink = new MemorySink();
      const w = new PcapngWriter(sink);
      capturePorts([p.na.port], p.sim, w);
      bulk(p, 300_000);
      p.sim.run({ untilNs: 3_000_000_000 });
      w.close();
      return sink.bytes();
    };
    const a = run(5);
    expect(same(run(5), a)).toBe(true);
    expect(same(run(6), a)).toBe(false);
  });
});
