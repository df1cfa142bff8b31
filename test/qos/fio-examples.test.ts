/**
 * Every job file Debian's fio-examples package ships (/usr/share/doc/fio/examples) either runs in
 * vfab (runtime capped at 100 ms) or is refused with a located message naming the option. The
 * random read/write, mixed, rate-limited and multi-job examples must run.
 */
import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inCI } from '../helpers/tools.js';
import { loadFioJobFile } from '../../src/qos/file.adapter.js';
import { runQos } from '../../src/qos/run.js';
import { UserError } from '../../src/errors.js';

const DIR = '/usr/share/doc/fio/examples';
const present = existsSync(DIR);
if (!present && !inCI) process.stdout.write(`skipping "fio-examples": ${DIR} is missing (apt install fio-examples; CI installs it)\n`);

/** Examples that must run, by what they exercise. */
const MUST_RUN: Record<string, string[]> = {
  random: ['fio-rand-read.fio', 'fio-rand-write.fio'],
  mixed: ['fio-rand-RW.fio', 'fio-seq-RW.fio', 'iometer-file-access-server.fio'],
  'rate-limited': ['fixed-rate-submission.fio', '1mbs_clients.fio'],
  'multi-job': ['waitfor.fio', 'ssd-test.fio', 'tiobench-example.fio'],
};

(present || inCI ? describe : describe.skip)('Debian fio-examples', () => {
  const files = present ? readdirSync(DIR).filter((f) => f.endsWith('.fio')).sort() : [];
  const outcome = new Map<string, { ran: boolean; ios: number; message?: string }>();

  it('ships the job files the issue counts (86)', () => {
    expect(files.length).toBe(86);
  });

  it('runs each example or refuses it at file:line naming the option', () => {
    for (const f of files) {
      const path = `${DIR}/${f}`;
      try {
        const { qos } = loadFioJobFile(path, { maxRuntimeNs: 100e6 });
        const { result } = runQos(qos.model);
        outcome.set(f, { ran: true, ios: result.completed_ios });
      } catch (e) {
        if (!(e instanceof UserError)) throw new Error(`${f}: ${String(e)}`);
        expect(e.location?.file, `${f}: ${e.message}`).toBe(path);
        expect(e.location!.line).toBeGreaterThan(0);
        // the option is named: "option 'X' is not supported" or "X: bad value"
        expect(e.message, f).toMatch(/^option '[a-z_]+' is not supported|^[a-z_]+: /);
        outcome.set(f, { ran: false, ios: 0, message: e.message });
      }
    }
    const ran = [...outcome].filter(([, o]) => o.ran).map(([f]) => f);
    process.stdout.write(`fio-examples: ${ran.length} of ${files.length} run in vfab; refused: ${[...outcome].filter(([, o]) => !o.ran).map(([f, o]) => `${f} (${o.message!.replace(/ \(vfab models.*$/, '')})`).join('; ')}\n`);
    for (const [kind, names] of Object.entries(MUST_RUN)) {
      for (const n of names) {
        expect(outcome.get(n)?.ran, `${kind} example ${n}: ${outcome.get(n)?.message ?? ''}`).toBe(true);
        expect(outcome.get(n)!.ios, n).toBeGreaterThan(0);
      }
    }
  });

  it('keeps what the multi-job and rate-limited examples promise', () => {
    // fixed-rate-submission: rate_iops=1000 for 100 ms ≈ 100 reads
    const fixed = runQos(loadFioJobFile(`${DIR}/fixed-rate-submission.fio`, { maxRuntimeNs: 100e6 }).qos.model).result;
    expect(Math.abs(fixed.fio.jobs[0]!.read.total_ios - 100)).toBeLessThanOrEqual(1);
    // waitfor: writers → readers → writers2 → readers2, each waiting for the previous (4 clones each)
    const { engine } = runQos(loadFioJobFile(`${DIR}/waitfor.fio`, { maxRuntimeNs: 100e6 }).qos.model);
    const ends = (n: string): number => Math.max(...engine.jobs.filter((j) => j.name === n).map((j) => j.endedNs));
    const starts = (n: string): number => Math.min(...engine.jobs.filter((j) => j.name === n).map((j) => j.startNs));
    expect(engine.jobs.length).toBe(16);
    expect(starts('readers')).toBe(ends('writers'));
    expect(starts('writers2')).toBe(ends('readers'));
    expect(starts('readers2')).toBe(ends('writers2'));
  });
});
