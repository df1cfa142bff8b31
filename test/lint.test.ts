/**
 * The lint rules that guard the project's contracts (eslint.config.js), checked on small snippets
 * through ESLint's Node API: each banned thing is reported where the contract forbids it and
 * allowed where it permits it, so a rule that stops matching fails here. `npm run lint` (run by
 * `npm test` first) applies the same config to the whole tree.
 *
 * Type-aware rules are filtered out: these rules need no type information, and building a
 * TypeScript program per snippet would cost seconds each.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';
import { LAYERS } from '../eslint.config.js';

const ROOT = join(import.meta.dirname, '..');
let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({
    cwd: ROOT,
    overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
    ruleFilter: ({ ruleId }) => !ruleId.startsWith('@typescript-eslint/') || ruleId === '@typescript-eslint/no-restricted-imports',
  });
});

/** Rule ids reported for `code` as if it were the file `path`. */
async function rulesFor(path: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: join(ROOT, path) });
  const fatal = r?.messages.filter((m) => m.fatal) ?? [];
  if (fatal.length) throw new Error(`${path}: ${fatal.map((m) => m.message).join('; ')}`);
  return (r?.messages ?? []).map((m) => m.ruleId ?? '');
}

describe('determinism: no wall clock, timers or unseeded randomness in the simulation core', () => {
  const banned: Array<[string, string, string]> = [
    ['Date.now()', 'export const t = Date.now();', 'no-restricted-properties'],
    ['new Date()', 'export const t = new Date();', 'no-restricted-syntax'],
    ['Math.random()', 'export const r = Math.random();', 'no-restricted-properties'],
    ['performance.now()', 'export const t = performance.now();', 'no-restricted-globals'],
    ['setTimeout', 'setTimeout(() => undefined, 1);', 'no-restricted-globals'],
    ['setInterval', 'setInterval(() => undefined, 1);', 'no-restricted-globals'],
    ['setImmediate', 'setImmediate(() => undefined);', 'no-restricted-globals'],
    ['globalThis.setTimeout', 'globalThis.setTimeout(() => undefined, 1);', 'no-restricted-properties'],
    ['process.hrtime.bigint()', 'export const t = process.hrtime.bigint();', 'no-restricted-properties'],
    ['node:timers import', "import { setTimeout as later } from 'node:timers';\nlater(() => undefined, 1);", 'no-restricted-imports'],
    ['node:perf_hooks import', "import { performance as p } from 'node:perf_hooks';\nexport const t = p.now();", 'no-restricted-imports'],
  ];

  it.each(banned)('reports %s in a core file', async (_name, code, rule) => {
    expect(await rulesFor('src/sim/probe.ts', code)).toContain(rule);
    expect(await rulesFor('src/block/qcow2/probe.ts', code)).toContain(rule);
  });

  it.each(banned)('allows %s in thin adapters, commands, cli, bench and tests', async (_name, code) => {
    for (const path of ['src/pcap/probe.adapter.ts', 'src/commands/probe.ts', 'src/cli/probe.ts', 'src/bench/probe.ts', 'test/sim/probe.test.ts']) {
      expect(await rulesFor(path, code), path).toEqual([]);
    }
  });

  it('does not ban what only looks alike (sim time, the seeded PRNG, a local named now)', async () => {
    const code = 'const sim = { now: 5 };\nconst prng = { float: () => 0.5 };\nexport const t = sim.now + prng.float();\nexport const d = Date.UTC(2024, 0);';
    expect(await rulesFor('src/sim/probe.ts', code)).toEqual([]);
  });
});

describe('layer table: commands -> fabric -> features -> devices -> wire/sim', () => {
  const fabricImport = "import { buildFabric } from '../fabric/build.js';\nexport const b = buildFabric;";

  it('stops vswitch (a device) from importing fabric, and lets commands do it', async () => {
    expect(await rulesFor('src/vswitch/probe.ts', fabricImport)).toEqual(['import-x/no-restricted-paths']);
    expect(await rulesFor('src/commands/probe.ts', fabricImport)).toEqual([]);
  });

  it('stops topology from importing vnic, and lets it import the feature names from wire', async () => {
    expect(await rulesFor('src/topology/probe.ts', "import { negotiateFeatures } from '../vnic/features.js';\nexport const n = negotiateFeatures;")).toEqual([
      'import-x/no-restricted-paths',
    ]);
    expect(await rulesFor('src/topology/probe.ts', "import { FEATURE_NAMES } from '../wire/virtio-net-features.js';\nexport const n = FEATURE_NAMES;")).toEqual([]);
  });

  it('checks nested folders and deeper relative paths by where they resolve', async () => {
    expect(await rulesFor('src/block/qcow2/probe.ts', "import { Port } from '../../port/port.js';\nexport const p = Port;")).toEqual(['import-x/no-restricted-paths']);
    expect(await rulesFor('src/block/qcow2/probe.ts', "import { parseSize } from '../../util/units.js';\nexport const p = parseSize;")).toEqual([]);
  });

  it('keeps wire and sim free of node: built-ins, and allows them in block', async () => {
    const fs = "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;";
    expect(await rulesFor('src/wire/probe.ts', fs)).toEqual(['@typescript-eslint/no-restricted-imports']);
    expect(await rulesFor('src/sim/probe.ts', fs)).toEqual(['@typescript-eslint/no-restricted-imports']);
    expect(await rulesFor('src/block/probe.ts', fs)).toEqual([]);
  });

  it('lets only commands and cli import oclif', async () => {
    const oclif = "import { Command } from '@oclif/core';\nexport const C = Command;";
    expect(await rulesFor('src/fabric/probe.ts', oclif)).toEqual(['@typescript-eslint/no-restricted-imports']);
    expect(await rulesFor('src/cli/probe.ts', oclif)).toEqual([]);
    expect(await rulesFor('src/commands/probe.ts', oclif)).toEqual([]);
  });

  it('has a row for every folder under src/, naming only real folders', () => {
    const folders = readdirSync(join(ROOT, 'src')).filter((d) => statSync(join(ROOT, 'src', d)).isDirectory());
    for (const d of folders) expect(LAYERS, `src/${d} has no row in LAYERS (eslint.config.js): add one`).toHaveProperty(d);
    for (const [d, row] of Object.entries(LAYERS)) {
      expect(folders, `LAYERS row ${d}`).toContain(d);
      for (const m of row.may) expect(folders, `LAYERS.${d}.may`).toContain(m);
    }
  });
});

describe('catch clauses', () => {
  it('reports a cast of the caught value and accepts errorMessage() or instanceof', async () => {
    const cast = "export function f(g: () => void): string {\n  try { g(); return ''; } catch (e) { return (e as Error).message; }\n}";
    const errno = "export function f(g: () => void): unknown {\n  try { g(); return ''; } catch (err) { return (err as NodeJS.ErrnoException).code; }\n}";
    const helper = "import { errorMessage } from '../errors.js';\nexport function f(g: () => void): string {\n  try { g(); return ''; } catch (e) { return errorMessage(e); }\n}";
    const narrow = "export function f(g: () => void): string {\n  try { g(); return ''; } catch (e) { if (e instanceof Error) return e.message; throw e; }\n}";
    expect(await rulesFor('src/qos/probe.ts', cast)).toEqual(['vfab/no-catch-cast']);
    expect(await rulesFor('test/qos/probe.test.ts', errno)).toEqual(['vfab/no-catch-cast']);
    expect(await rulesFor('src/qos/probe.ts', helper)).toEqual([]);
    expect(await rulesFor('src/qos/probe.ts', narrow)).toEqual([]);
  });
});
