import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PcapWriter } from '../../src/pcap/pcap.js';
import { PcapngWriter } from '../../src/pcap/pcapng.js';
import { MemorySink, type ByteSink } from '../../src/pcap/sink.js';
import { toHex } from '../wire/hex.js';
import { readPcap, readPcapng } from './read-pcapng.js';

const frame = (n: number, seed = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i + seed) & 0xff);

describe('classic pcap writer', () => {
  it('writes the golden 24-byte global header (ns magic, v2.4, snaplen, LINKTYPE_ETHERNET) little-endian', () => {
    const s = new MemorySink();
    new PcapWriter(s, { snaplen: 65535 }).close();
    expect(toHex(s.bytes())).toBe('4d3cb2a1' + '0200' + '0400' + '00000000' + '00000000' + 'ffff0000' + '01000000');
  });

  it('writes golden record headers: seconds, nanoseconds, captured and original length', () => {
    const s = new MemorySink();
    const w = new PcapWriter(s, { snaplen: 4 });
    w.writePacket(3_000_000_005, frame(6));
    w.close();
    expect(toHex(s.bytes().subarray(24))).toBe('03000000' + '05000000' + '04000000' + '06000000' + '00010203');
  });

  it('keeps every packet, in order, with times and lengths (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 3000 })), { maxLength: 40 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.integer({ min: 64, max: 5000 }),
        (pkts, snaplen, chunkSize) => {
          const s = new MemorySink();
          const w = new PcapWriter(s, { snaplen, chunkSize });
          for (const [t, n] of pkts) w.writePacket(t, frame(n, t));
          w.close();
          const r = readPcap(s.bytes());
          expect(r.snaplen).toBe(snaplen);
          expect(r.records.map((x) => [x.sec * 1e9 + x.nsec, x.capLen, x.origLen])).toEqual(pkts.map(([t, n]) => [t, Math.min(n, snaplen), n]));
          r.records.forEach((x, i) => expect(toHex(x.data)).toBe(toHex(frame(pkts[i]![1], pkts[i]![0]).subarray(0, snaplen))));
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('pcapng writer', () => {
  it('writes the golden SHB: magic, length 40, BOM, v1.0, section length -1, shb_userappl "vfab"', () => {
    const s = new MemorySink();
    new PcapngWriter(s).close();
    expect(toHex(s.bytes())).toBe(
      '0a0d0d0a' + '28000000' + '4d3c2b1a' + '0100' + '0000' + 'ffffffffffffffff' + '0400' + '0400' + '76666162' + '00000000' + '28000000',
    );
  });

  it('writes the golden IDB: link type 1, snaplen, if_name padded, if_tsresol 9', () => {
    const s = new MemorySink();
    const w = new PcapngWriter(s);
    expect(w.addInterface({ name: 'vm1.eth0', snaplen: 65535 })).toBe(0);
    w.close();
    expect(toHex(s.bytes().subarray(40))).toBe(
      '01000000' + '2c000000' + '0100' + '0000' + 'ffff0000' +
        '0200' + '0800' + toHex(new TextEncoder().encode('vm1.eth0')) +
        '0900' + '0100' + '09000000' + '00000000' + '2c000000',
    );
  });

  it('writes the golden EPB: interface, ns timestamp words, lengths, padded data, epb_flags direction', () => {
    const s = new MemorySink();
    const w = new PcapngWriter(s);
    w.addInterface({ name: 'a' });
    const ifb = w.addInterface({ name: 'b' });
    const before = 40 + 2 * 40; // SHB + two IDBs with 1-byte names
    w.writePacket(ifb, 0x1_0000_0002, frame(5), { direction: 'out' });
    w.writePacket(ifb, 7, frame(4), { direction: 'in' });
    w.writePacket(0, 8, frame(1));
    w.close();
    expect(toHex(s.bytes().subarray(before))).toBe(
      '06000000' + '34000000' + '01000000' + '01000000' + '02000000' + '05000000' + '05000000' + '0001020304000000' +
        '0200' + '0400' + '02000000' + '00000000' + '34000000' +
        '06000000' + '30000000' + '01000000' + '00000000' + '07000000' + '04000000' + '04000000' + '00010203' +
        '0200' + '0400' + '01000000' + '00000000' + '30000000' +
        '06000000' + '24000000' + '00000000' + '00000000' + '08000000' + '01000000' + '01000000' + '00000000' + '24000000',
    );
  });

  it('truncates to the interface snaplen and keeps the original length', () => {
    const s = new MemorySink();
    const w = new PcapngWriter(s, { snaplen: 1000 });
    const a = w.addInterface({ name: 'a', snaplen: 10 });
    const b = w.addInterface({ name: 'b' });
    w.writePacket(a, 1, frame(60));
    w.writePacket(b, 2, frame(1500));
    w.close();
    const f = readPcapng(s.bytes());
    expect(f.interfaces.map((i) => i.snaplen)).toEqual([10, 1000]);
    expect(f.packets.map((p) => [p.capLen, p.origLen])).toEqual([[10, 60], [1000, 1500]]);
  });

  it('refuses a packet for an interface that was never added', () => {
    const w = new PcapngWriter(new MemorySink());
    expect(() => w.writePacket(0, 0, frame(60))).toThrow(RangeError);
  });

  it('streams through a bounded buffer: chunks never exceed the chunk size, content is intact (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(3), fc.integer({ min: 0, max: 2 ** 50 }), fc.integer({ min: 0, max: 1600 }), fc.constantFrom('in', 'out', undefined)), { maxLength: 60 }),
        fc.integer({ min: 2048, max: 8192 }),
        (pkts, chunkSize) => {
          const chunks: number[] = [];
          const mem = new MemorySink();
          const sink: ByteSink = {
            write(c) {
              chunks.push(c.length);
              mem.write(c);
            },
            close() {},
          };
          const w = new PcapngWriter(sink, { chunkSize });
          for (let i = 0; i < 4; i++) w.addInterface({ name: `port${i}`, description: 'x'.repeat(i) });
          for (const [ifId, t, n, dir] of pkts) w.writePacket(ifId, t, frame(n, ifId), dir === undefined ? undefined : { direction: dir });
          w.close();
          expect(Math.max(0, ...chunks)).toBeLessThanOrEqual(chunkSize);
          const f = readPcapng(mem.bytes());
          expect(f.userAppl).toBe('vfab');
          expect(f.sectionLength).toBe(-1n);
          expect(f.interfaces.map((i) => new TextDecoder().decode(i.options.get(2)![0]))).toEqual(['port0', 'port1', 'port2', 'port3']);
          expect(f.interfaces.every((i) => i.options.get(9)![0]![0] === 9 && i.linkType === 1)).toBe(true);
          expect(f.packets.map((p) => [p.ifId, p.timeNs, p.origLen, p.flags])).toEqual(
            pkts.map(([i, t, n, d]) => [i, BigInt(t), n, d === 'in' ? 1 : d === 'out' ? 2 : undefined]),
          );
          f.packets.forEach((p, k) => expect(toHex(p.data)).toBe(toHex(frame(pkts[k]![2], pkts[k]![0]))));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('grows for one block larger than the chunk size instead of failing', () => {
    const s = new MemorySink();
    const w = new PcapngWriter(s, { chunkSize: 256, snaplen: 0x40000 });
    const a = w.addInterface({ name: 'jumbo' });
    w.writePacket(a, 1, frame(9000));
    w.close();
    expect(readPcapng(s.bytes()).packets[0]!.capLen).toBe(9000);
  });

  it('may add an interface after packets were written', () => {
    const s = new MemorySink();
    const w = new PcapngWriter(s);
    const a = w.addInterface({ name: 'a' });
    w.writePacket(a, 1, frame(60));
    const b = w.addInterface({ name: 'late' });
    w.writePacket(b, 2, frame(60));
    w.close();
    expect(readPcapng(s.bytes()).blockTypes).toEqual([0x0a0d0d0a, 1, 6, 1, 6]);
  });

  it('is byte-identical for identical input (deterministic)', () => {
    const run = (): string => {
      const s = new MemorySink();
      const w = new PcapngWriter(s, { application: 'vfab test' });
      const a = w.addInterface({ name: 'vm1.eth0', description: 'virtio-net' });
      for (let i = 0; i < 100; i++) w.writePacket(a, i * 1001, frame(60 + i), { direction: i % 2 ? 'in' : 'out' });
      w.close();
      return toHex(s.bytes());
    };
    expect(run()).toBe(run());
  });

  it('flushes buffered blocks when its sink is closed from outside, then ignores writes', () => {
    const s = new MemorySink();
    const w = new PcapngWriter(s);
    const a = w.addInterface({ name: 'a' });
    w.writePacket(a, 1, frame(60));
    expect(s.length).toBe(0); // still buffered
    s.close(); // what the Ctrl-C handler does
    expect(readPcapng(s.bytes()).packets).toHaveLength(1);
    w.writePacket(a, 2, frame(60));
    w.close();
    expect(readPcapng(s.bytes()).packets).toHaveLength(1);
  });
});
