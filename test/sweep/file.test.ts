import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { UserError, UserErrors } from '../../src/errors.js';
import { loadSweepText } from '../../src/sweep/file.js';
import { formatPath, lookup, parsePath } from '../../src/sweep/path.js';

const BASE = resolve('topologies/two-hosts.yaml');
const QOS = resolve('topologies/qos-noisy-neighbor.qos.yaml');

function load(text: string): ReturnType<typeof loadSweepText> {
  const dir = mkdtempSync(join(tmpdir(), 'sweeps-'));
  const f = join(dir, 'x.sweep.yaml');
  writeFileSync(f, text);
  return loadSweepText(text, f);
}

function errorOf(fn: () => unknown): UserError {
  try {
    fn();
  } catch (e) {
    if (e instanceof UserErrors) return e.errors[0]!;
    if (e instanceof UserError) return e;
    throw e;
  }
  throw new Error('expected a UserError');
}

describe('sweep paths', () => {
  it('parses the issue\'s forms', () => {
    expect(parsePath('vms.vm2.dirty_rate')).toEqual(['vms', 'vm2', 'dirty_rate']);
    expect(parsePath('scenario[3].migrate.bandwidth')).toEqual(['scenario', 3, 'migrate', 'bandwidth']);
    expect(parsePath('disks["vm1.vda"].policy.iops-total')).toEqual(['disks', 'vm1.vda', 'policy', 'iops-total']);
    expect(parsePath('/migrations/0/a~1b')).toEqual(['migrations', 0, 'a/b']);
  });
  it('formatPath and parsePath round-trip (property)', () => {
    const seg = fc.oneof(fc.nat({ max: 99 }), fc.string({ minLength: 1, maxLength: 6 }).filter((s) => !/["']/.test(s)));
    fc.assert(
      fc.property(fc.array(seg, { minLength: 1, maxLength: 5 }).filter((a) => typeof a[0] === 'string'), (segs) => {
        expect(parsePath(formatPath(segs))).toEqual(segs);
      }),
      { numRuns: 3000 },
    );
  });
  it('rejects malformed paths with an offset', () => {
    for (const bad of ['a..b', 'a[x]', 'a[1', 'a.', '']) expect(() => parsePath(bad)).toThrow();
  });
  it('looks lists up by name', () => {
    const data = { fio: { jobs: [{ jobname: 'web', read: { iops: 3 } }, { jobname: 'db', read: { iops: 7 } }] } };
    expect(lookup(data, parsePath('fio.jobs.db.read.iops'))).toBe(7);
    expect(lookup(data, parsePath('fio.jobs[0].read.iops'))).toBe(3);
    expect(lookup(data, parsePath('fio.jobs.nope.read'))).toBeUndefined();
  });
});

describe('sweep files', () => {
  it('expands grid x seeds, ranges and units', () => {
    const plan = load(`base: ${BASE}\nparameters:\n  links[0].delay: { from: 10, to: 30, step: 10, unit: us }\n  vms.vm1.interfaces.eth0.tag: [10, 20]\nseeds: 1..3\n`);
    expect(plan.params[0]!.values).toEqual(['10us', '20us', '30us']);
    expect(plan.points).toHaveLength(3 * 2 * 3);
    expect(plan.points[0]!.params).toEqual({ 'links[0].delay': '10us', 'vms.vm1.interfaces.eth0.tag': 10 });
    expect(plan.points.map((p) => p.seed).slice(0, 4)).toEqual([1, 2, 3, 1]);
    expect(plan.points[0]!.text).toContain('delay: 10us');
  });
  it('log steps, factor, zip and seeded random(N)', () => {
    const log = load(`base: ${BASE}\nparameters:\n  links[0].delay: { from: 1, to: 1000, log_steps: 4, unit: us }\n`);
    expect(log.params[0]!.values).toEqual(['1us', '10us', '100us', '1000us']);
    const fac = load(`base: ${BASE}\nparameters:\n  links[0].delay: { from: 1, to: 8, factor: 2, unit: us }\n`);
    expect(fac.params[0]!.values).toEqual(['1us', '2us', '4us', '8us']);
    const zip = load(`base: ${BASE}\nmode: zip\nparameters:\n  links[0].delay: [1us, 2us]\n  links[1].delay: [3us, 4us]\n`);
    expect(zip.points.map((p) => Object.values(p.params))).toEqual([['1us', '3us'], ['2us', '4us']]);
    const r1 = load(`base: ${BASE}\nmode: random(5)\nparameters:\n  links[0].delay: [1us, 2us, 3us]\n  links[1].delay: [3us, 4us]\n`);
    const r2 = load(`base: ${BASE}\nmode: random(5)\nparameters:\n  links[0].delay: [1us, 2us, 3us]\n  links[1].delay: [3us, 4us]\n`);
    expect(r1.points).toHaveLength(5);
    expect(r1.points).toEqual(r2.points);
  });
  it('a path missing from the base file: located at the key, with did-you-mean', () => {
    const e = errorOf(() => load(`base: ${BASE}\nparameters:\n  vms.vm2.interfacs.eth0.tag: [1]\n`));
    expect(e.code).toBe('SWEEP_NO_SUCH_PATH');
    expect(e.location).toMatchObject({ line: 3, col: 3 });
    expect(e.message).toContain('did you mean "interfaces"');
  });
  it('an absent key the base schema accepts is allowed as the last segment', () => {
    const plan = load(`base: ${BASE}\nparameters:\n  vms.vm2.dirty_rate: [100MiB]\n`);
    expect(plan.points[0]!.text).toContain('dirty_rate: 100MiB');
  });
  it('a value of the wrong type: located at the value, with the loader\'s reason', () => {
    const e = errorOf(() => load(`base: ${BASE}\nparameters:\n  links[0].bandwidth: [10Gbit, fast]\n`));
    expect(e.code).toBe('SWEEP_BAD_VALUE');
    expect(e.location).toMatchObject({ line: 3, col: 32 });
    expect(e.message).toContain('"fast"');
  });
  it('QoS bases: quoted keys with dots', () => {
    const plan = load(`base: ${QOS}\nparameters:\n  disks["vm3.vda"].policy.iops-total: [1000, 3000]\n`);
    expect(plan.kind).toBe('qos');
    expect(plan.points).toHaveLength(2);
    const e = errorOf(() => load(`base: ${QOS}\nparameters:\n  disks["vm3.vda"].policy.iops-totl: [1000]\n`));
    expect(e.message).toContain('did you mean "iops-total"');
  });
  it('schema problems are located: unknown key, bad mode, bad seeds, bad expectation', () => {
    expect(errorOf(() => load(`base: ${BASE}\nseed: 1\n`)).message).toContain('did you mean "seeds"');
    expect(errorOf(() => load(`base: ${BASE}\nmode: all\n`)).location).toMatchObject({ line: 2, col: 7 });
    expect(errorOf(() => load(`base: ${BASE}\nseeds: 5..1\n`)).code).toBe('SWEEP_INVALID');
    expect(errorOf(() => load(`base: ${BASE}\nmetrics: { ev: sim_events }\nexpect: ["evs < 3"]\n`)).location).toMatchObject({ line: 3, col: 10 });
    expect(errorOf(() => load(`base: nothere.yaml\n`)).location).toMatchObject({ line: 1, col: 7 });
  });
});

describe('shipped sweep examples', () => {
  it('load and expand as their comments say', async () => {
    const { loadSweepFile } = await import('../../src/sweep/file.js');
    const mig = loadSweepFile('topologies/sweeps/migration-dirty-rate.sweep.yaml');
    expect(mig.points).toHaveLength(5 * 2 * 5);
    expect(mig.points[0]!.text).toContain('dirty_rate: 100MiB');
    const thr = loadSweepFile('topologies/sweeps/throttle-p99.sweep.yaml');
    expect(thr.kind).toBe('qos');
    expect(thr.params[0]!.values).toEqual([1000, 2000, 4000, 8000, 16000]);
    expect(thr.points).toHaveLength(5 * 3 * 3);
  });
});
