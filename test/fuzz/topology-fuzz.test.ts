/**
 * Mutated topologies and flow tables (issue 10 #21): every rejection is a UserError located at
 * file:line:col inside the file it names, nothing else escapes, and each case is quick.
 *
 * A few hundred cases per run (`VFAB_FUZZ_CASES`, default 300; thousands with e.g.
 * `VFAB_FUZZ_CASES=5000`), seeded (`VFAB_FUZZ_SEED`, default 1): a failure prints the seed, the
 * case index and the mutation, which reproduce it. The library path is what `vfab validate`
 * runs; a sample also goes through the real CLI (exit 0 or 2, no stack trace, peak RSS < 1 GiB).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError, UserErrors } from '../../src/errors.js';
import { validateModel } from '../../src/fabric/validate.js';
import { loadTopologyPartial } from '../../src/topology/index.js';
import { mutateFlows, mutateText, prng, type Mutant } from './mutate.js';

const CASES = Number(process.env['VFAB_FUZZ_CASES'] ?? 300);
const SEED = Number(process.env['VFAB_FUZZ_SEED'] ?? 1);
const CLI_SAMPLE = Number(process.env['VFAB_FUZZ_CLI'] ?? 6);

const topologies = readdirSync('topologies')
  .filter((f) => f.endsWith('.yaml') && !f.endsWith('.qos.yaml'))
  .map((f) => ({ name: f, text: readFileSync(join('topologies', f), 'utf8') }));
const flowTables = ['actions', 'example', 'mac-eviction', 'vlan-modes']
  .map((d) => join('test/fixtures/ovs', d, 'flows.txt'))
  .flatMap((p) => {
    try {
      return [readFileSync(p, 'utf8')];
    } catch {
      return [];
    }
  });
flowTables.push('priority=10,arp,actions=NORMAL\npriority=5,ip,nw_dst=10.0.0.1,actions=output:vm1-eth0\npriority=0,actions=drop\n');

const BRIDGE_HEAD = ['hosts:', '  hv1:', '    bridges:', '      br0:'];
const BRIDGE_TAIL = ['vms:', '  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24 } } }', ''];

interface Case {
  file: string;
  text: string;
  files: Map<string, string>;
  how: string;
}

/** Case `i`: a mutated topology, or a mutated flow table inline (several styles) or in a flows_file. */
function makeCase(i: number): Case {
  const r = prng(SEED * 1_000_003 + i);
  const kind = Math.floor(r() * 4);
  if (kind <= 1) {
    const base = topologies[Math.floor(r() * topologies.length)]!;
    let m: Mutant = mutateText(base.text, r);
    const rounds = 1 + Math.floor(r() * 3);
    for (let k = 1; k < rounds; k++) {
      const n = mutateText(m.text, r);
      m = { text: n.text, how: `${m.how}; ${n.how}` };
    }
    return { file: `t${i}.yaml`, text: m.text, files: new Map(), how: `${base.name}: ${m.how}` };
  }
  const flows = flowTables[Math.floor(r() * flowTables.length)]!;
  const m = mutateFlows(flows, r);
  if (kind === 2) {
    const style = Math.floor(r() * 3);
    const ls = m.text.split('\n');
    const block = style === 0 ? ['        flows: |', ...ls.map((l) => `          ${l}`)] : style === 1 ? ['        flows: >', ...ls.flatMap((l) => ['', `          ${l}`])] : [`        flows: ${JSON.stringify(m.text)}`];
    return { file: `t${i}.yaml`, text: [...BRIDGE_HEAD, ...block, ...BRIDGE_TAIL].join('\n'), files: new Map(), how: `inline flows (style ${style}): ${m.how}` };
  }
  return {
    file: `t${i}.yaml`,
    text: [...BRIDGE_HEAD, '        flows_file: br0.flows', ...BRIDGE_TAIL].join('\n'),
    files: new Map([['br0.flows', m.text]]),
    how: `flows_file: ${m.how}`,
  };
}

/** Runs what `vfab validate` runs; returns the user errors (empty = accepted). */
function check(c: Case): UserError[] {
  try {
    const { model, errors } = loadTopologyPartial(c.text, c.file, {
      readFile: (rel) => {
        const t = c.files.get(rel);
        if (t === undefined) throw new UserError('TOPOLOGY_READ', `cannot read ${rel}: no such file or directory`);
        return { text: t, file: rel };
      },
    });
    return validateModel(model, errors);
  } catch (e) {
    if (e instanceof UserErrors) return e.errors;
    if (e instanceof UserError) return [e];
    throw e;
  }
}

describe(`mutated topologies and flow tables (seed ${SEED}, ${CASES} cases)`, () => {
  it('every rejection is a located user error; nothing else escapes; each case is quick', () => {
    const failures: string[] = [];
    let rejected = 0;
    let slowest = 0;
    for (let i = 0; i < CASES; i++) {
      const c = makeCase(i);
      const t0 = performance.now();
      let errs: UserError[];
      try {
        errs = check(c);
      } catch (e) {
        failures.push(`case ${i} (${c.how}): not a user error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`.slice(0, 600));
        continue;
      }
      const ms = performance.now() - t0;
      slowest = Math.max(slowest, ms);
      if (ms > 5000) failures.push(`case ${i} (${c.how}): took ${Math.round(ms)} ms`);
      if (errs.length > 0) rejected++;
      for (const e of errs) {
        const loc = e.location;
        const src = loc ? (loc.file === c.file ? c.text : c.files.get(loc.file)) : undefined;
        const lines = src === undefined ? 0 : src.split('\n').length;
        if (!loc || src === undefined || !(loc.line >= 1 && loc.line <= lines + 1 && loc.col >= 1)) {
          failures.push(`case ${i} (${c.how}): unlocated or misplaced: ${e.code} ${e.render().slice(0, 200)}`);
        }
      }
    }
    process.stdout.write(`topology fuzz: seed ${SEED}, ${CASES} cases, ${rejected} rejected, ${failures.length} failures, slowest ${Math.round(slowest)} ms\n`);
    expect(failures.slice(0, 20)).toEqual([]);
    expect(rejected).toBeGreaterThan(CASES / 3); // the mutators do produce bad input
  }, 600_000);

  it('a sample through the real CLI: exit 0 or 2, only file:line:col lines, no stack trace, < 1 GiB', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfab-fuzz-'));
    for (let i = 0; i < CLI_SAMPLE; i++) {
      const c = makeCase(CASES + i);
      const file = join(dir, c.file);
      writeFileSync(file, c.text);
      for (const [n, t] of c.files) writeFileSync(join(dir, n), t);
      const r = spawnSync('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, 'bin/run.js', 'validate', file], { encoding: 'utf8', timeout: 60_000 });
      const stderr = r.stderr.replace(/(Command exited with non-zero status \d+\n)?maxrss_kb=\d+\n?$/, '');
      const ctx = `case ${CASES + i} (${c.how}):\n${stderr.slice(0, 800)}`;
      expect([0, 2], ctx).toContain(r.status);
      expect(stderr, ctx).not.toMatch(/\n\s+at |internal error/);
      if (r.status === 2) for (const l of stderr.trimEnd().split('\n')) expect(l, ctx).toMatch(/^(\S+:\d+:\d+: | {2}hint: )/);
      expect(Number(/maxrss_kb=(\d+)/.exec(r.stderr)?.[1]), ctx).toBeLessThan(1024 * 1024);
    }
  }, 600_000);
});
