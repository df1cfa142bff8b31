/**
 * The NBD server's recycled send buffers (`SendRing`, `TcpPipe.alloc`): a region is never handed
 * out again while TCP may still read it, every region starts zeroed, and recycling changes no
 * byte on the wire: the same run with recycling off (fresh memory per reply) gives the same frames
 * at the same times and the same data, also with loss (retransmissions read old replies).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createImage, openImage } from '../../src/block/api.js';
import { MemoryProvider } from '../../src/block/chain.js';
import { GuestStack } from '../../src/guest/stack.js';
import { Link } from '../../src/link/link.js';
import { chainImage, NBD_PORT, nbdClientOnTcp, nbdServerOnTcp, type NbdReply } from '../../src/nbd/index.js';
import { SendRing } from '../../src/nbd/send-ring.js';
import { Simulation } from '../../src/sim/simulation.js';
import { VirtioNet } from '../../src/vnic/device.js';

describe('SendRing', () => {
  it('never hands out a region that is still live, and every region starts zeroed (model check)', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('alloc' as const), n: fc.integer({ min: 1, max: 5000 }), send: fc.boolean(), zero: fc.boolean() }),
      fc.record({ k: fc.constant('ack' as const), upTo: fc.integer({ min: 0, max: 8 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1024, max: 16384 }), fc.array(op, { maxLength: 300, size: 'max' }), (size, ops) => {
        const ring = new SendRing(size);
        let stream = 0;
        let acked = 0;
        let tag = 1;
        // live regions as the writer sees them: the view, its fill byte, its stream end (-1 = dropped)
        const live: Array<{ v: Uint8Array; fill: number; end: number }> = [];
        for (const o of ops) {
          if (o.k === 'alloc') {
            // zero false: the writer overwrites every byte, so reused bytes may stay (not checked)
            const v = ring.alloc(o.n, acked, o.zero);
            if (v === null) continue;
            expect(v.length).toBe(o.n);
            if (o.zero) expect(v.every((x) => x === 0)).toBe(true);
            // every region still live keeps its bytes
            for (const r of live) expect(r.v.every((x) => x === r.fill)).toBe(true);
            const fill = tag++ & 0xff || 1;
            v.fill(fill);
            if (o.send) {
              stream += o.n;
              ring.sent(stream);
              live.push({ v, fill, end: stream });
            }
          } else {
            // acknowledge up to the end of one of the next sent regions
            const sent = live.filter((r) => r.end > acked);
            const target = sent[Math.min(o.upTo, sent.length - 1)];
            if (target) acked = target.end;
            for (let i = live.length - 1; i >= 0; i--) if (live[i]!.end <= acked) live.splice(i, 1);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is full while nothing is acknowledged, and reuses memory from the start once everything is', () => {
    const ring = new SendRing(4096, 4096);
    const a = ring.alloc(2000, 0)!;
    ring.sent(2000);
    const b = ring.alloc(2000, 0)!;
    ring.sent(4000);
    expect(ring.alloc(200, 0)).toBeNull();
    a.fill(7);
    b.fill(9);
    const c = ring.alloc(1000, 4000)!;
    expect(c.byteOffset).toBe(a.byteOffset);
    expect(c.every((x) => x === 0)).toBe(true);
    expect(ring.live).toBe(1);
  });

  it('a region never sent (the writer dropped it) is free once those before it are', () => {
    const ring = new SendRing(4096, 4096);
    ring.alloc(1000, 0);
    ring.sent(1000);
    ring.alloc(1000, 0); // dropped
    const c = ring.alloc(1000, 0)!;
    ring.sent(2000);
    expect(ring.live).toBe(3);
    ring.reclaim(1000);
    expect(ring.live).toBe(1);
    ring.reclaim(2000);
    expect(ring.live).toBe(0);
    expect(c.length).toBe(1000);
  });
});

/** NBD over two guest TCP stacks; returns a digest of every frame (time, port, bytes) and every reply. */
function run(seed: number, loss: number, recycle: boolean): string {
  const sim = new Simulation(seed);
  const na = new VirtioNet({ path: 'hv1.mgmt', sim, mac: 0x020000000001 });
  const nb = new VirtioNet({ path: 'st1.mgmt', sim, mac: 0x020000000002 });
  new Link({ sim, name: 'l0', a: na.port, b: nb.port, bandwidthBps: 1e9, delayNs: 50_000, queueFrames: 64, ...(loss > 0 ? { loss } : {}) });
  const h = createHash('sha256');
  for (const p of [na.port, nb.port]) {
    p.onFrame((port, dir, frame) => {
      h.update(`${sim.now} ${port.path} ${dir} `);
      h.update(frame);
    });
  }
  const a = new GuestStack({ name: 'hv1', sim });
  const b = new GuestStack({ name: 'st1', sim });
  a.addInterface(na, { ipv4: '10.0.0.1/24' });
  b.addInterface(nb, { ipv4: '10.0.0.2/24' });
  const prov = new MemoryProvider();
  createImage('vol1', { size: 16 << 20, format: 'raw' }, prov);
  const image = chainImage(openImage('vol1', { format: 'raw' }, prov));
  b.tcp.listen(NBD_PORT, (c) => nbdServerOnTcp(c, { exports: [{ name: 'vol1', image }] }, { recycle }));
  const prng = sim.prng.fork('io');
  let left = 400;
  const client = nbdClientOnTcp(a.tcp.connect(0x0a000002, NBD_PORT), {
    exportName: 'vol1',
    onReady: () => {
      for (let i = 0; i < 24; i++) issue();
    },
  });
  function issue(): void {
    if (left-- <= 0) return;
    const off = prng.int(4096) * 4096;
    // sizes from 1 byte to 64 KiB + 1: some replies do not fit the ring's message limit
    const len = [1, 512, 4096, 12288, 65537][prng.int(5)]!;
    const done = (r: NbdReply): void => {
      h.update(`${sim.now} ${off} ${len} ${r.error}|`);
      if (r.data) h.update(r.data);
      issue();
    };
    if (prng.float() < 0.3) client.write(off, new Uint8Array(len).fill(1 + prng.int(255)), done);
    else client.read(off, len, done);
  }
  sim.run({ untilNs: 20_000_000_000 });
  expect(left).toBeLessThan(0);
  return h.digest('hex');
}

describe('recycled reply buffers change nothing', () => {
  it('recycle on == recycle off: the same frames, times and data, with and without loss', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(0, 0.02), (seed, loss) => {
        expect(run(seed, loss, true)).toBe(run(seed, loss, false));
      }),
      { numRuns: 6 },
    );
  });
});
