/**
 * fio job files: the INI dialect against fio itself (`fio --showcmd` prints what fio parsed),
 * fio's number rules (parse.c), the importer's mapping, and properties of the parser.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeWithTools } from '../helpers/tools.js';
import { parseFioIni, type FioSection } from '../../src/qos/fio/ini.js';
import { importFio } from '../../src/qos/fio/import.js';
import { fioBytes, fioTime } from '../../src/qos/fio/values.js';
import { loadQosText } from '../../src/qos/file.js';
import { runQos } from '../../src/qos/run.js';
import { UserError } from '../../src/errors.js';

function locationOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    if (e instanceof UserError) return e.location;
    throw e;
  }
  return undefined;
}

const dir = mkdtempSync(join(tmpdir(), 'vfab-fio-ini-'));

/** What `fio --showcmd` prints for parsed sections: globals dump everything inherited so far, jobs `--name=` then their own options. */
function showcmd(sections: FioSection[]): string {
  const out: string[] = [];
  let inherited: string[] = [];
  for (const s of sections) {
    // fio quotes a value with blanks in --showcmd
    const own = s.options.map((o) => (o.value === undefined ? `--${o.name}` : `--${o.name}=${/\s/.test(o.value) ? `"${o.value}"` : o.value}`));
    if (s.global) {
      inherited = [...inherited, ...own];
      out.push(...inherited);
    } else out.push(`--name=${s.name}`, ...own);
  }
  return out.join(' ');
}

/** fio dumps a section's options in its option-priority order (options.c opt_cmp): compare each section's options as a set. */
function bySection(cmd: string): string[] {
  return cmd.split(/ (?=--name=)/).map((g) => {
    const [head, ...rest] = g.split(' --');
    return head!.startsWith('--name=') ? [head, ...rest.sort()].join(' --') : [head, ...rest].sort().join(' --');
  });
}

const OPTS: Array<[string, fc.Arbitrary<string | undefined>]> = [
  ['rw', fc.constantFrom('read', 'randread', 'write', 'randrw')],
  ['bs', fc.constantFrom('4k', '8k', '512', '64k')],
  ['iodepth', fc.integer({ min: 1, max: 64 }).map(String)],
  ['size', fc.constantFrom('1m', '64m', '1g')],
  ['numjobs', fc.integer({ min: 1, max: 4 }).map(String)],
  ['runtime', fc.constantFrom('1', '2s', '500ms')],
  ['time_based', fc.constant(undefined)],
  ['thinktime', fc.constantFrom('10', '1ms')],
  ['rwmixread', fc.integer({ min: 0, max: 100 }).map(String)],
];

/** A job file with fio's layout freedoms: indentation, blanks before '=', comments (; and #, whole-line and trailing), blank lines, CR. */
const jobFile = fc
  .array(
    fc.record({
      name: fc.oneof(fc.constantFrom('global', 'global-extra'), fc.stringMatching(/^[a-z][a-z0-9_.-]{0,11}$/)),
      opts: fc.subarray(OPTS.map((o) => o[0])).chain((names) => fc.tuple(...names.map((n) => OPTS.find((o) => o[0] === n)![1].map((v) => [n, v] as const)))),
      indent: fc.constantFrom('', ' ', '\t', '  '),
      sep: fc.constantFrom('=', ' =', '\t='),
      tail: fc.constantFrom('', ' ', ' ; note', '# note', '\t; x # y', '\r'),
      comment: fc.constantFrom('', '; a comment\n', '# another\n', '\n', '   \n'),
    }),
    { minLength: 1, maxLength: 5 },
  )
  .map((secs) =>
    secs
      .map((s) => `${s.comment}${s.indent}[${s.name}]${s.tail}\n${s.opts.map(([n, v]) => `${s.indent}${n}${v === undefined ? '' : `${s.sep}${v}`}${s.tail}\n`).join('')}`)
      .join(''),
  );

describeWithTools(['fio'], 'fio job file syntax against fio --showcmd', () => {
  it('parses generated job files into the sections and options fio parses', () => {
    fc.assert(
      fc.property(jobFile, (text) => {
        const f = join(dir, 'gen.fio');
        writeFileSync(f, text);
        const fio = execFileSync('fio', ['--showcmd', f], { encoding: 'utf8' }).trim().replace(/^fio ?/, '');
        expect(bySection(showcmd(parseFioIni(text, f)))).toEqual(bySection(fio));
      }),
      { numRuns: 40, seed: 17 },
    );
  });

  it('reads the Debian examples as fio does (every example with a [section])', () => {
    for (const name of ['waitfor.fio', 'ssd-test.fio', 'fio-rand-RW.fio', 'fio-seq-RW.fio', 'iometer-file-access-server.fio']) {
      const f = `/usr/share/doc/fio/examples/${name}`;
      const fio = execFileSync('fio', ['--showcmd', f], { encoding: 'utf8' }).trim().replace(/^fio ?/, '');
      // fio keeps a value's blanks after '=' in --showcmd; vfab trims them (the value parsers skip them too)
      expect(bySection(showcmd(parseFioIni(execFileSync('cat', [f], { encoding: 'utf8' }), f)))).toEqual(bySection(fio.replace(/= +/g, '=').replace(/\s+$/, '')));
    }
  });
});

describe('fio job file syntax (init.c __parse_jobs_ini)', () => {
  it('locates an option outside a section, a section in an include, and a missing include', () => {
    expect(() => parseFioIni('\n  rw=read\n', 'a.fio')).toThrow(/option <rw=read> outside of \[\] job section/);
    expect(locationOf(() => parseFioIni('\n  rw=read\n', 'a.fio'))).toEqual({ file: 'a.fio', line: 2, col: 3 });
    const inc = (): { text: string; file: string } => ({ text: 'bs=8k\n[other]\n', file: 'inc.fio' });
    expect(() => parseFioIni('[j]\ninclude inc.fio\n', 'a.fio', { readInclude: inc })).toThrow(/No new sections in included files/);
    const sections = parseFioIni('[j]\ninclude inc.fio\nrw=write\n', 'a.fio', { readInclude: () => ({ text: '; c\nbs=8k\n', file: 'inc.fio' }) });
    expect(sections[0]!.options.map((o) => [o.name, o.value, o.file, o.line])).toEqual([['bs', '8k', 'inc.fio', 2], ['rw', 'write', 'a.fio', 3]]);
  });

  it('substitutes ${VAR} (unset: empty) and leaves $VAR alone (options.c fio_option_dup_subs)', () => {
    const s = parseFioIni('[j]\nbs=${BS}\nsize=${NOPE}1m\nfilename=$HOME\n', 'a.fio', { env: { BS: '16k' } });
    expect(s[0]!.options.map((o) => o.value)).toEqual(['16k', '1m', '$HOME']);
  });

  it('treats a section starting with "global" as global (fio compares 6 characters)', () => {
    expect(parseFioIni('[globalx]\n[j]\n').map((s) => s.global)).toEqual([true, false]);
  });
});

describe('fio numbers (parse.c str_to_decimal)', () => {
  it('reads sizes with kb_base 1024 (k = 1024, KiB = 1000: "opposite units") and 1000', () => {
    expect([fioBytes('4k'), fioBytes('4KB'), fioBytes('4KiB'), fioBytes('1m'), fioBytes('2g'), fioBytes('0x10'), fioBytes('1.5g')]).toEqual([4096, 4096, 4000, 1048576, 2 * 2 ** 30, 16, 1]);
    expect([fioBytes('4k', 1000), fioBytes('4KiB', 1000)]).toEqual([4000, 4096]);
    expect(fioBytes('50%')).toMatch(/percentage/);
  });

  it('reads times: bare seconds or microseconds, us/ms/s/m/h/d', () => {
    expect([fioTime('10', true), fioTime('10', false), fioTime('250ms', true), fioTime('2m', true), fioTime('1h', true), fioTime('5us', true)]).toEqual([10e9, 10e3, 250e6, 120e9, 3600e9, 5e3]);
  });
});

describe('fio job files → QoS files', () => {
  const imp = (text: string, cap?: number) => importFio(parseFioIni(text, 'j.fio'), cap !== undefined ? { maxRuntimeNs: cap } : {});

  it('maps globals, stonewall, wait_for, rate, bssplit and bsrange; lists ignored options; refuses the rest at their line', () => {
    const r = imp('[global]\nioengine=libaio\ndirect=1\nsize=16m\nfilename=/dev/vdb\n[a]\nrw=randread\nrate=1m,\n[b]\nstonewall\nrw=write\nbssplit=4k/:64k/50\n[c]\nwait_for=a\nbsrange=4k-16k\nrate_iops=100\nrate_min=1k\n');
    const jobs = r.doc['jobs'] as Record<string, Record<string, unknown>>;
    expect(jobs['a']).toEqual({ disk: '/dev/vdb', rw: 'randread', rate: '1048576,0', size: 16777216 });
    expect(jobs['b']).toMatchObject({ wait_for: ['a'], bssplit: '4096/50:65536/50' });
    expect(jobs['c']).toMatchObject({ wait_for: ['a'], bsrange: '4096-16384,4096-16384', rate_iops: '100,100' });
    expect(r.doc['expect']).toBeUndefined();
    expect(r.notes).toContain('j.fio:13: job "c": rate_min is not checked (vfab checks it only for a job with a runtime that waits for no other job)');
    const m = imp('[j]\nrw=randrw\nstartdelay=1\nramp_time=500ms\nruntime=2\nrate_min=1k,2k\nrate_iops_min=,7\n');
    expect(m.doc['expect']).toEqual(['j: min_read_bw >= 1024 over [1500ms, 3500ms]', 'j: min_write_bw >= 2048 over [1500ms, 3500ms]', 'j: min_write_iops >= 7 over [1500ms, 3500ms]']);
    expect(r.notes[0]).toMatch(/^ignored \(no effect on the modelled I\/O\): ioengine \(j\.fio:2\), direct \(j\.fio:3\)/);
    expect(() => imp('[j]\nrw=read\nverify=md5\n')).toThrow(/option 'verify' is not supported/);
    expect(locationOf(() => imp('[j]\nrw=read\n  zonemode=zbd\n'))).toEqual({ file: 'j.fio', line: 3, col: 3 });
    expect(() => imp('[j]\nioengine=rbd\n')).toThrow(/option 'ioengine' is not supported: ioengine=rbd/);
  });

  it('runs stonewalled jobs one after another and a waiter after its waitee', () => {
    const r = imp('[global]\nsize=4m\nruntime=1\ntime_based\nfilename=d\n[a]\nrw=read\n[b]\nstonewall\nrw=write\n[c]\nwait_for=b\nrw=randread\nstartdelay=100ms\n', 250e6);
    const q = loadQosText(r.yaml, 'j.fio (imported)');
    const { engine } = runQos(q.model);
    const [a, b, c] = engine.jobs;
    expect(b!.startNs).toBe(a!.endedNs);
    expect(c!.startNs).toBe(b!.endedNs);
    expect(a!.startNs).toBe(0);
    expect(b!.startNs).toBeGreaterThanOrEqual(250e6);
  });

  it('import then load is the same run as the job file (same bytes), and runs are deterministic', () => {
    const text = '[global]\nsize=8m\nruntime=300ms\ntime_based\n[r]\nrw=randrw\nrwmixread=70\nbs=4k,16k\niodepth=4\nnumjobs=2\n[w]\nrw=write\nrate_iops=200\nthinktime=100\n';
    const a = runQos(loadQosText(imp(text).yaml, 'x').model).result;
    const b = runQos(loadQosText(imp(text).yaml, 'x').model).result;
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.fio.jobs.length).toBe(3);
    expect(a.fio.jobs[2]!.write.iops).toBeGreaterThan(190);
    expect(a.fio.jobs[2]!.write.iops).toBeLessThan(210);
  });

  it('never throws anything but a UserError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 300, unit: fc.constantFrom('[', ']', '=', ';', '#', '\n', ' ', 'a', 'rw', 'bs', '4k', 'global', 'include', '${X}', ',', ':', '/', '-', '%', 'stonewall', 'wait_for') }), (a, b) => {
        for (const text of [a, b, `[j]\n${b}`]) {
          try {
            const r = importFio(parseFioIni(text, 'r.fio'), { maxRuntimeNs: 1e6 });
            loadQosText(r.yaml, 'r.fio (imported)');
          } catch (e) {
            if (!(e instanceof UserError)) throw e;
          }
        }
      }),
      { numRuns: 300, seed: 5 },
    );
  });
});
