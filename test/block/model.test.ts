import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkImage, commitImage, createImage, openImage, rebaseImage, snapshotImage } from '../../src/block/api.js';
import { MemoryBackend } from '../../src/block/backend.js';
import { MemoryProvider } from '../../src/block/chain.js';
import { UserError } from '../../src/errors.js';

type Op =
  | { t: 'write'; off: number; len: number; v: number }
  | { t: 'discard'; off: number; len: number }
  | { t: 'zero'; off: number; len: number }
  | { t: 'snap'; name: string }
  | { t: 'apply'; name: string }
  | { t: 'delsnap'; name: string }
  | { t: 'overlay' }
  | { t: 'commit' }
  | { t: 'flatten' }
  | { t: 'rebase' };

const SIZE = 1024 * 1024 + 1536;

const range = fc.tuple(fc.integer({ min: 0, max: SIZE - 1 }), fc.integer({ min: 1, max: 200_000 })).map(([off, len]) => ({ off, len: Math.min(len, SIZE - off) }));
const snapName = fc.constantFrom('a', 'b', 'c');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(range, fc.integer({ min: 1, max: 255 })).map(([r, v]) => ({ t: 'write' as const, ...r, v })) },
  { weight: 2, arbitrary: range.map((r) => ({ t: 'discard' as const, ...r })) },
  { weight: 2, arbitrary: range.map((r) => ({ t: 'zero' as const, ...r })) },
  { weight: 2, arbitrary: snapName.map((name) => ({ t: 'snap' as const, name })) },
  { weight: 2, arbitrary: snapName.map((name) => ({ t: 'apply' as const, name })) },
  { weight: 1, arbitrary: snapName.map((name) => ({ t: 'delsnap' as const, name })) },
  { weight: 1, arbitrary: fc.constant({ t: 'overlay' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'commit' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'flatten' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'rebase' as const }) },
);

/** Runs ops on vfab images and on a plain byte array; every read must match byte for byte. */
function play(cs: number, ops: Op[]): void {
  const p = new MemoryProvider();
  let n = 0;
  let top = 'L0';
  createImage(top, { size: SIZE, clusterSize: cs }, p);
  let model = new Uint8Array(SIZE);
  let snaps = new Map<string, Uint8Array>();
  const layers = [top];
  for (const op of ops) {
    switch (op.t) {
      case 'write': {
        const c = openImage(top, {}, p);
        c.write(op.off, new Uint8Array(op.len).fill(op.v));
        c.close();
        model.fill(op.v, op.off, op.off + op.len);
        break;
      }
      case 'discard': {
        const c = openImage(top, {}, p);
        c.discard(op.off, op.len);
        c.close();
        // Whole clusters only; the last (partial) cluster counts when the range reaches the end.
        const first = Math.ceil(op.off / cs) * cs;
        const end = op.off + op.len >= SIZE ? SIZE : Math.floor((op.off + op.len) / cs) * cs;
        if (end > first) model.fill(0, first, end);
        break;
      }
      case 'zero': {
        const c = openImage(top, {}, p);
        c.writeZeroes(op.off, op.len);
        c.close();
        model.fill(0, op.off, op.off + op.len);
        break;
      }
      case 'snap':
        if (snaps.has(op.name)) expect(() => snapshotImage(top, { create: op.name }, p)).toThrow(UserError);
        else {
          snapshotImage(top, { create: op.name }, p);
          snaps.set(op.name, model.slice());
        }
        break;
      case 'apply': {
        const s = snaps.get(op.name);
        if (!s) expect(() => snapshotImage(top, { apply: op.name }, p)).toThrow(UserError);
        else {
          snapshotImage(top, { apply: op.name }, p);
          model = s.slice();
        }
        break;
      }
      case 'delsnap':
        if (!snaps.has(op.name)) expect(() => snapshotImage(top, { delete: op.name }, p)).toThrow(UserError);
        else {
          snapshotImage(top, { delete: op.name }, p);
          snaps.delete(op.name);
        }
        break;
      case 'overlay': {
        const next = `L${++n}`;
        createImage(next, { backingFile: top, backingFormat: 'qcow2', clusterSize: cs === 512 ? 4096 : 512 }, p);
        top = next;
        layers.push(top);
        snaps = new Map();
        break;
      }
      case 'commit':
        if (openImage(top, { readOnly: true, noBacking: true }, p).top.backingFile === undefined) {
          expect(() => commitImage(top, p)).toThrow(UserError);
        } else commitImage(top, p);
        break;
      case 'flatten':
        rebaseImage(top, undefined, {}, p);
        break;
      case 'rebase': {
        // A new base with other content: safe rebase must keep the guest view.
        const base = `B${++n}`;
        createImage(base, { size: SIZE }, p);
        const b = openImage(base, {}, p);
        b.write(0, new Uint8Array(SIZE / 2).fill(0x77));
        b.close();
        rebaseImage(top, base, { backingFormat: 'qcow2' }, p);
        layers.push(base);
        break;
      }
    }
    const c = openImage(top, { readOnly: true }, p);
    const got = new Uint8Array(SIZE);
    c.read(0, got);
    c.close();
    const diff = got.findIndex((x, i) => x !== model[i]);
    expect(diff, `after ${JSON.stringify(op)}`).toBe(-1);
  }
  for (const name of layers) {
    const r = checkImage(name, {}, p);
    expect(r.messages, name).toEqual([]);
  }
}

describe('qcow2 against an in-memory model', () => {
  it('random write/discard/zero/snapshot/commit/rebase sequences read back like a plain byte array', () => {
    fc.assert(
      fc.property(fc.constantFrom(512, 4096, 65536), fc.array(opArb, { minLength: 1, maxLength: 14 }), (cs, ops) => play(cs, ops)),
      { numRuns: 30, seed: 4242 },
    );
  }, 180_000);
});

describe('untrusted image bytes', () => {
  function sample(): Uint8Array {
    const p = new MemoryProvider();
    createImage('s', { size: 1 << 20, clusterSize: 4096 }, p);
    const c = openImage('s', {}, p);
    c.write(5000, new Uint8Array(20000).fill(3));
    c.writeZeroes(512 * 1024, 8192);
    c.close();
    snapshotImage('s', { create: 'snap1' }, p);
    const c2 = openImage('s', {}, p);
    c2.write(6000, new Uint8Array(100).fill(4));
    c2.close();
    return (p.backends.get('s') as MemoryBackend).snapshotBytes();
  }
  const good = sample();

  it('never crash the opener, readers, map or check: only UserError comes out', () => {
    const mutation = fc.array(fc.tuple(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 });
    const hot = fc.array(fc.tuple(fc.integer({ min: 0, max: 120 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(mutation, hot, fc.integer({ min: 0, max: good.length }), (muts, hdr, cut) => {
        const bytes = good.slice(0, Math.max(cut, good.length - 4096 * 3));
        for (const [i, v] of [...muts, ...hdr]) if (i < bytes.length) bytes[i] = v;
        const p = new MemoryProvider();
        const be = new MemoryBackend('m');
        be.pwrite(bytes, 0);
        p.backends.set('m', be);
        try {
          const c = openImage('m', { readOnly: true }, p);
          const buf = new Uint8Array(64 * 1024);
          for (let off = 0; off < Math.min(c.virtualSize, 1 << 20); off += 64 * 1024) c.read(off, buf);
          c.allocationMap();
          c.close();
          checkImage('m', {}, p);
          const w = openImage('m', {}, p);
          w.write(4096, new Uint8Array(9000).fill(1));
          w.discard(0, 65536);
          w.close();
        } catch (e) {
          if (!(e instanceof UserError)) throw e;
        }
      }),
      { numRuns: 400, seed: 7 },
    );
  }, 180_000);
});
