/**
 * The per-packet learn path's shortcuts against their references:
 * - `learnProgram`/`runLearnProgram` (the learned match as word operations) compute what the
 *   bit-by-bit `learnedMatch` and `learnedFlow` compute, for random learn specifications
 *   (overlapping, immediate and copied, every field kind) and a sequence of packets through
 *   one compiled program;
 * - `Classifier.findExact` (which replaced a separate identity index in FlowTables) finds
 *   exactly the rule a linear scan for the same priority and match finds, and each subtable's
 *   duplicate-hash count (now recounted from the probe run instead of a per-hash map) equals a
 *   recount, through long random insert/remove sequences that include real 32-bit collisions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Classifier, type ClsRule } from '../../src/vswitch/classifier.js';
import { KEY_WORDS } from '../../src/vswitch/fields.js';
import { Ctx } from '../../src/vswitch/flow-syntax.js';
import { learnProgram, learnedFlow, learnedMatch, parseLearn, runLearnProgram } from '../../src/vswitch/learn.js';
import { TERM_MULT, termHash, termSeed } from '../../src/vswitch/subtable.js';

/** Fields of each kind the key words hold (int with a shift, port, MAC, IPv4, IPv6, wide registers). */
const FIELDS: [string, number][] = [
  ['NXM_OF_VLAN_TCI', 16],
  ['NXM_OF_IN_PORT', 16],
  ['NXM_OF_ETH_SRC', 48],
  ['NXM_OF_ETH_DST', 48],
  ['NXM_OF_ETH_TYPE', 16],
  ['NXM_OF_IP_SRC', 32],
  ['NXM_OF_TCP_DST', 16],
  ['NXM_NX_IPV6_SRC', 128],
  ['NXM_NX_REG0', 32],
  ['NXM_NX_REG1', 32],
  ['NXM_NX_XXREG1', 128],
  ['NXM_NX_PKT_MARK', 32],
  ['OXM_OF_METADATA', 64],
  ['OXM_OF_VLAN_VID', 12],
  // The ToS byte view whose two low (ECN) bits the key does not store: they read 0, writes drop.
  ['NXM_OF_IP_TOS', 8],
];

/** A subfield of width `n` (≤ the field's width) at a random offset: [field index, offset seed]. */
const sfArb = fc.tuple(fc.nat(FIELDS.length - 1), fc.nat(1000));
function subfield(f: number, seed: number, n: number): string | null {
  const [name, width] = FIELDS[f]!;
  if (n > width) return null;
  const ofs = seed % (width - n + 1);
  return `${name}[${ofs}..${ofs + n - 1}]`;
}

const specArb = fc.record({
  kind: fc.constantFrom('copy', 'same', 'imm', 'load', 'loadImm', 'output'),
  n: fc.constantFrom(1, 3, 12, 16, 17, 31, 32, 33, 48, 64),
  dst: sfArb,
  src: sfArb,
  imm: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
});

function specText(s: { kind: string; n: number; dst: [number, number]; src: [number, number]; imm: bigint }): string | null {
  const d = subfield(s.dst[0], s.dst[1], s.n);
  const src = subfield(s.src[0], s.src[1], s.n);
  if (d === null || src === null) return null;
  const imm = `0x${(s.imm & ((1n << BigInt(s.n)) - 1n)).toString(16)}`;
  switch (s.kind) {
    case 'copy':
      return `${d}=${src}`;
    case 'same':
      return d;
    case 'imm':
      return `${d}=${imm}`;
    case 'load':
      return `load:${src}->${d}`;
    case 'loadImm':
      return `load:${imm}->${d}`;
    default:
      return s.n <= 32 ? `output:${src}` : null;
  }
}

const keyArb = fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: KEY_WORDS, maxLength: KEY_WORDS }).map((a) => Int32Array.from(a));

describe('compiled learn program', () => {
  it('fills the same match and signature as learnedMatch and learnedFlow, packet after packet (property)', () => {
    fc.assert(
      fc.property(fc.array(specArb, { minLength: 1, maxLength: 8 }), fc.array(keyArb, { size: 'max', minLength: 1, maxLength: 12 }), (specs, keys) => {
        const texts = specs.map(specText).filter((t): t is string => t !== null);
        if (texts.length === 0) return;
        const a = parseLearn(`table=3,${texts.join(',')}`, 0, new Ctx('<t>', 1, 0), {});
        const prog = learnProgram(a);
        for (const w of keys) {
          const value = new Int32Array(KEY_WORDS);
          const mask = new Int32Array(KEY_WORDS);
          const sig = learnedMatch(a, w, value, mask);
          for (let i = 0; i < KEY_WORDS; i++) value[i] = value[i]! & mask[i]!;
          expect(runLearnProgram(prog, w)).toBe(sig);
          expect([...prog.mask]).toEqual([...mask]);
          expect([...prog.value]).toEqual([...value]);
          const f = learnedFlow(a, w);
          expect([...prog.mask]).toEqual([...f.mask]);
          expect([...prog.value]).toEqual([...f.value].map((v, i) => v & f.mask[i]!));
        }
      }),
      { numRuns: 400 },
    );
  });

  it('copies a whole MAC in two segments and a 12-bit VLAN in one', () => {
    const a = parseLearn('table=10,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:NXM_OF_IN_PORT[]->NXM_NX_REG0[0..15]', 0, new Ctx('<t>', 1, 0), {});
    const prog = learnProgram(a);
    expect(prog.segs.length / 5).toBe(3);
    expect(prog.words.length).toBe(3);
  });
});

interface R extends ClsRule {
  id: number;
}

/** Multiplicative inverse of TERM_MULT mod 2^32 (to build 32-bit hash collisions). */
function inverse(): number {
  let inv = TERM_MULT;
  for (let i = 0; i < 5; i++) inv = Math.imul(inv, 2 - Math.imul(TERM_MULT, inv));
  return inv;
}

describe('Classifier.findExact and duplicate hashes', () => {
  // Rules over words 0 and 7 (full masks) or word 0 alone; values from a small pool plus values
  // built to collide with (1, 2) under the two-word mask.
  const inv = inverse();
  const s0 = termSeed(0, -1);
  const s7 = termSeed(7, -1);
  const h = termHash(1, s0) ^ termHash(2, s7);
  const collide = (a: number): [number, number] => [a, Math.imul(h ^ termHash(a, s0), inv) ^ s7];
  const opArb = fc.record({
    add: fc.boolean(),
    shape: fc.nat(2),
    pick: fc.nat(),
    priority: fc.constantFrom(0, 1, 5),
  });

  it('finds what a linear scan finds and counts duplicate hashes exactly, over long sequences (property)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { size: 'max', maxLength: 300 }), (ops) => {
        const cls = new Classifier<R>();
        const live: R[] = [];
        let id = 0;
        const make = (shape: number, pick: number, priority: number): R => {
          const value = new Int32Array(KEY_WORDS);
          const mask = new Int32Array(KEY_WORDS);
          mask[0] = -1;
          if (shape === 2) value[0] = pick % 4;
          else {
            mask[7] = -1;
            const [a, b] = shape === 0 ? collide(3 + (pick % 6)) : [pick % 3, (pick >> 2) % 3];
            value[0] = a;
            value[7] = b;
          }
          return { id: id++, priority, seq: 0, value, mask };
        };
        const linear = (priority: number, value: Int32Array, mask: Int32Array): R | null =>
          live.find((r) => r.priority === priority && r.mask.every((m, i) => m === mask[i]) && r.value.every((v, i) => v === value[i])) ?? null;
        for (const op of ops) {
          if (op.add || live.length === 0) {
            const r = make(op.shape, op.pick, op.priority);
            // As FlowTables.add: an identical rule is replaced.
            const old = cls.findExact(r.priority, r.value, r.mask);
            expect(old).toBe(linear(r.priority, r.value, r.mask));
            if (old) {
              expect(cls.remove(old)).toBe(true);
              live.splice(live.indexOf(old), 1);
            }
            cls.insert(r);
            live.push(r);
          } else {
            const victim = live.splice(op.pick % live.length, 1)[0]!;
            expect(cls.remove(victim)).toBe(true);
            expect(cls.findExact(victim.priority, victim.value, victim.mask)).toBe(linear(victim.priority, victim.value, victim.mask));
          }
          for (const st of cls.subtablesInOrder()) {
            const uses = new Map<number, number>();
            for (const list of st.rules) {
              const hv = st.hashValue(list[0]!.value);
              uses.set(hv, (uses.get(hv) ?? 0) + 1);
            }
            expect(st.dupHashes).toBe([...uses.values()].filter((n) => n > 1).length);
          }
        }
        expect(cls.size).toBe(live.length);
      }),
      { numRuns: 150 },
    );
  });
});
