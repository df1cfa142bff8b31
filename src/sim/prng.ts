/**
 * Seeded PRNG: xoshiro128** seeded through splitmix32.
 *
 * Every random decision in a run (link loss, workload offsets, service-time draws) comes from a
 * `Prng` derived from the run's seed, so the same topology and seed give byte-identical outputs.
 * `fork(label)` derives an independent stream per component, keyed by a stable name such as a port
 * path, so adding a component does not shift the draws every other component sees.
 */
export class Prng {
  /**
   * The state words a, b, c, d. A typed array, not four number fields: V8 keeps a field that
   * holds uint32 values as a tagged slot, and a value of 2^30 or more there (half of all draws)
   * is a fresh heap number on every store, so each draw allocated ~40 bytes of garbage (a fifth
   * of the allocation in a fabric with disks). A Uint32Array store allocates nothing.
   */
  private readonly s = new Uint32Array(4);

  constructor(readonly seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    const st = this.s;
    st[0] = next();
    st[1] = next();
    st[2] = next();
    st[3] = next();
    if ((st[0] | st[1] | st[2] | st[3]) === 0) st[0] = 1;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const st = this.s;
    const a = st[0]!;
    const b = st[1]!;
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = b << 9;
    const c = st[2]! ^ a;
    const d = st[3]! ^ b;
    st[1] = b ^ c;
    st[0] = a ^ d;
    st[2] = c ^ t;
    st[3] = rotl(d, 11);
    return result;
  }

  /** A float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.nextU32() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An independent stream for the component called `label` (stable across runs). */
  fork(label: string): Prng {
    let h = 0x811c9dc5 ^ this.seed;
    for (let i = 0; i < label.length; i++) {
      h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
    }
    return new Prng((h ^ Math.imul(this.seed, 0x9e3779b1)) >>> 0);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
