/**
 * `bssplit_order: fixed`: block sizes in a repeating cycle that honours the bssplit percentages
 * exactly — over k·100 I/Os of a direction every size appears exactly k × its percentage times.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QosEngine } from '../../src/qos/engine.js';
import { cycleBs, defaultJob, parseBssplit, type BsChoice, type JobSpec } from '../../src/qos/workload.js';
import { importFio } from '../../src/qos/fio/import.js';
import { parseFioIni } from '../../src/qos/fio/ini.js';
import type { QosModel } from '../../src/qos/model.js';
import { UserError } from '../../src/errors.js';

const ssd = { name: 'ssd', parallelism: 4, service: { kind: 'fixed' as const, ns: 10_000 }, bandwidth: 0 };
const model = (jobs: JobSpec[]): QosModel => ({
  seed: 3, durationNs: 0, intervalNs: 1e9, backends: [ssd],
  disks: [{ name: 'vda', size: 1 << 30, backend: 'ssd', policy: undefined }], groups: [], jobs,
});

/** Whole percentages adding up to 100, 1–6 entries. */
const percents = fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 6 }).map((ws) => {
  const out: number[] = [];
  let left = 100;
  for (const w of ws) {
    if (left <= 1) break;
    const p = Math.min(w, left - 1);
    out.push(p);
    left -= p;
  }
  out.push(left);
  return out;
});

describe('bssplit_order fixed', () => {
  it('over k cycles of 100 I/Os the counts are exactly k × the percentages (property)', () => {
    fc.assert(
      fc.property(percents, fc.integer({ min: 1, max: 7 }), (pcts, k) => {
        const sizes = pcts.map((_, i) => 512 * (i + 1));
        const text = sizes.map((s, i) => `${s}/${pcts[i]}`).join(':');
        const [r, w] = parseBssplit(text, 'fixed') as [BsChoice, BsChoice];
        const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
        expect(r.cycle!.length).toBe(100 / pcts.reduce(gcd, 0));
        expect(w.cycle).toEqual(r.cycle);
        const counts = new Map<number, number>();
        for (let n = 0; n < k * 100; n++) counts.set(cycleBs(r, n), (counts.get(cycleBs(r, n)) ?? 0) + 1);
        sizes.forEach((s, i) => expect(counts.get(s) ?? 0).toBe(k * pcts[i]!));
        // and every single cycle on its own holds each size pct/g times
        const c = r.cycle!;
        sizes.forEach((s, i) => expect(c.filter((x) => x === s).length).toBe((pcts[i]! * c.length) / 100));
      }),
      { numRuns: 200 },
    );
  });

  it('the default stays the seeded draw; fractions are refused in fixed order', () => {
    expect((parseBssplit('4k/10:64k/90') as BsChoice[])[0]!.cycle).toBeUndefined();
    expect(parseBssplit('4k/10:64k/90', 'fixed')).toEqual(expect.arrayContaining([expect.objectContaining({ cycle: [4096, ...new Array<number>(9).fill(65536)] })]));
    expect(parseBssplit('4k/33.5:64k/66.5', 'fixed')).toMatch(/whole percentages/);
  });

  it('the engine issues exactly the cycle: bytes of k cycles are k × the cycle sum', () => {
    const bs = parseBssplit('4k/25:16k/25:64k/50', 'fixed') as [BsChoice, BsChoice];
    const e = new QosEngine(model([{ ...defaultJob('j', 'vda'), rw: 'randread', bs, numberIos: 400, iodepth: 4 }]));
    e.run();
    const [r] = e.jobs[0]!.stats;
    expect(r.ios).toBe(400);
    expect(r.bytes).toBe(100 * (4096 + 16384 + 65536 * 2));
  });

  it('fio job files take bssplit_order=fixed (vfab option) and refuse other values at their line', () => {
    const r = importFio(parseFioIni('[a]\nfilename=/dev/vdb\nrw=randread\nbssplit=4k/10:64k/90\nbssplit_order=fixed\n', 'j.fio'));
    expect((r.doc['jobs'] as Record<string, Record<string, unknown>>)['a']).toMatchObject({ bssplit_order: 'fixed' });
    let err: UserError | undefined;
    try {
      importFio(parseFioIni('[a]\nfilename=/dev/vdb\nbssplit_order=sometimes\n', 'j.fio'));
    } catch (e) {
      if (e instanceof UserError) err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect(err!.message).toContain('bssplit_order=sometimes');
    expect(err!.render()).toMatch(/j\.fio:3/);
  });
});
