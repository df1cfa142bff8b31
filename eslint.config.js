// ESLint flat config: typescript-eslint strict + type-checked, the determinism bans, the layer
// table (import boundaries) and the catch-clause rule. `npm run lint`; `npm test` runs it first.
//
// Three places a reader needs:
//   1. LAYERS   - which src/ folder may import which (the layer table of docs/design.md).
//   2. CLOCK_*  - what "deterministic" bans in src/ and where the thin adapters are exempt.
//   3. RELAXED  - strict rules turned off for this codebase, each with its reason.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const ROOT = dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------------------------
// 1. The layer table: commands -> fabric -> features -> devices -> wire/sim.
//
// Each row: a folder under src/ and the other src/ folders it MAY import (it may always import
// itself and src/errors.ts). Every other folder under src/ - including new ones nobody listed
// yet - is forbidden to it. A new folder needs a row here (test/lint.test.ts fails without one);
// until then nothing restricts what it imports.
// `node: false` bans `node:*` built-ins in the folder (pure code: runs anywhere, tests need no
// mocks). Only commands/ and cli/ may import oclif (see OCLIF_OK below).
// ---------------------------------------------------------------------------------------------
export const LAYERS = {
  // --- base: pure, import nothing else from src/ -------------------------------------------
  sim: { may: [], node: false }, // clock, event queue, PRNG: knows no packets, no disks
  wire: { may: [], node: false }, // byte formats: views and Reprs over Uint8Array
  util: { may: [] }, // units, YAML positions, nearest-name hints
  // --- the frame hand-off and the topology model -------------------------------------------
  port: { may: ['sim', 'wire'] }, // the port interface every device plugs into
  topology: { may: ['util', 'wire'] }, // file -> validated model (names/addresses from wire); builds no objects
  // --- devices: each models one thing, wired together only by fabric/ -----------------------
  link: { may: ['sim', 'wire', 'port'] }, // bandwidth/delay/loss; must not know what a VM is
  pcap: { may: ['sim', 'wire', 'port'] }, // writers subscribe to ports; devices never import pcap
  vnic: { may: ['sim', 'wire', 'util', 'port'] }, // virtio-net; must not do switching
  vswitch: { may: ['sim', 'wire', 'util', 'port'] }, // bridges, flows, classifier; not fabric, not link timing
  sriov: { may: ['sim', 'wire', 'util', 'port', 'vswitch'] }, // PF/VF/VEB; may reuse vswitch's learning code
  tcp: { may: ['sim', 'wire'], node: false }, // TCP state machine, congestion control, sockets: knows no VM, NIC or link
  guest: { may: ['sim', 'wire', 'util', 'port', 'tcp'] }, // guest stack + apps; talks to devices through ports only
  migration: { may: ['sim', 'wire', 'util', 'port', 'guest'] }, // precopy + announce; guest: the stream's TCP/IP
  router: { may: ['sim', 'wire', 'util', 'port', 'guest'] }, // L3 forwarding, routes, ECMP, ICMP errors; guest: the ARP neighbour table
  tunnel: { may: ['sim', 'wire', 'util', 'port', 'guest', 'router'] }, // VXLAN tunnel ports + host underlay endpoint; router: the flow hash
  block: { may: ['sim', 'util'] }, // qcow2/raw, throttles, workloads; must not know about networks
  nbd: { may: ['block', 'tcp'], node: false }, // NBD codec + client/server state machines over any byte stream (vfab's TCP included); real sockets live in tests/adapters
  // --- features: whole subsystems above the devices -----------------------------------------
  qos: { may: ['sim', 'util', 'block', 'topology'] }, // storage QoS runner (block + throttles)
  openflow: { may: ['sim', 'wire', 'util', 'port', 'vswitch'] }, // OpenFlow 1.3 codec + switch side over vswitch tables; sockets in *.adapter.ts
  // --- pictures: read summaries and the topology model, run nothing ------------------------------
  report: { may: ['util', 'topology', 'port', 'fabric', 'qos'] }, // diagrams (elkjs) and HTML reports (uPlot)
  // --- fabric: assembles every device/feature; the public library API -----------------------
  fabric: { may: ALL_BUT(['commands', 'cli', 'bench']) },
  // --- studies over many runs: sweeps drive the library like a user would ---------------------
  sweep: { may: ALL_BUT(['commands', 'cli', 'bench']) }, // parameter sweeps: plan, worker pool, cache, plots
  // --- entry points: thin adapters over the library -----------------------------------------
  cli: { may: ['util'] }, // oclif base command and shared flags
  commands: { may: ALL_BUT(['bench']) }, // oclif commands: flags in, one library call, output out
  bench: { may: ALL_BUT(['commands', 'cli']) }, // npm run bench: drives the library directly
};
/** Folders that may import @oclif/*: the CLI and nothing under it. */
const OCLIF_OK = ['commands', 'cli'];

/** Every folder under src/ except `excluded` (read at load time, so new folders count). */
function ALL_BUT(excluded) {
  return srcFolders().filter((d) => !excluded.includes(d));
}
function srcFolders() {
  return readdirSync(join(ROOT, 'src')).filter((d) => statSync(join(ROOT, 'src', d)).isDirectory());
}

/** import-x/no-restricted-paths zones: for each row, every folder it may not import. */
function layerZones() {
  const zones = [];
  for (const [dir, row] of Object.entries(LAYERS)) {
    const from = srcFolders()
      .filter((d) => d !== dir && !row.may.includes(d))
      .map((d) => `./src/${d}`);
    if (from.length) {
      zones.push({
        target: `./src/${dir}`,
        from,
        message: `layer table (eslint.config.js LAYERS): src/${dir} may import only ${[...row.may].join(', ') || 'nothing else in src/'}`,
      });
    }
  }
  // src/index.ts is the package's public barrel: library code imports the module itself.
  zones.push({ target: './src', from: './src/index.ts', message: 'import the module, not the public barrel src/index.ts' });
  return zones;
}

/** Package bans per folder (@typescript-eslint/no-restricted-imports): oclif and node:. */
function packageBans() {
  return srcFolders().map((dir) => {
    const patterns = [];
    if (!OCLIF_OK.includes(dir)) {
      patterns.push({ group: ['@oclif/*'], message: 'only src/commands and src/cli import oclif; put the logic in a library function' });
    }
    if (LAYERS[dir]?.node === false) {
      patterns.push({ group: ['node:*'], message: `src/${dir} is pure: no node: built-ins (pass data in, keep I/O in adapters)` });
    }
    return { files: [`src/${dir}/**/*.ts`], rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] } };
  });
}

// ---------------------------------------------------------------------------------------------
// 2. Determinism: no wall clock, timers or unseeded randomness in src/ outside thin adapters.
// Simulated time comes from src/sim (integer ns); randomness from the seeded PRNG.
// ---------------------------------------------------------------------------------------------
const CLOCK_EXEMPT = ['src/commands/**', 'src/cli/**', 'src/bench/**', 'src/**/*.adapter.ts'];
const WHY = 'breaks determinism: use src/sim time / the seeded PRNG, or move it to a *.adapter.ts';
const CLOCK_RULES = {
  'no-restricted-globals': [
    'error',
    ...['setTimeout', 'setInterval', 'setImmediate', 'performance'].map((name) => ({ name, message: `${name}: ${WHY}` })),
  ],
  'no-restricted-properties': [
    'error',
    { object: 'Date', property: 'now', message: `Date.now: ${WHY}` },
    { object: 'Math', property: 'random', message: `Math.random: ${WHY}` },
    { object: 'performance', property: 'now', message: `performance.now: ${WHY}` },
    { object: 'process', property: 'hrtime', message: `process.hrtime: ${WHY}` },
    ...['setTimeout', 'setInterval', 'setImmediate', 'performance', 'Date', 'Math'].map((property) => ({
      object: 'globalThis',
      property,
      message: `globalThis.${property}: ${WHY}`,
    })),
  ],
  'no-restricted-syntax': [
    'error',
    { selector: "NewExpression[callee.name='Date']", message: `new Date: ${WHY}` },
    { selector: "CallExpression[callee.name='Date']", message: `Date(): ${WHY}` },
  ],
  'no-restricted-imports': [
    'error',
    ...['node:timers', 'node:timers/promises', 'node:perf_hooks', 'timers', 'timers/promises', 'perf_hooks'].map((name) => ({
      name,
      message: `${name}: ${WHY}`,
    })),
  ],
};

// ---------------------------------------------------------------------------------------------
// `catch (e)` binds `unknown`: never cast it (`e as Error`) - a thrown string or object then
// prints "undefined". Use errorMessage(e) / errnoCode(e) from src/errors.ts, or narrow with
// `instanceof`.
// ---------------------------------------------------------------------------------------------
const noCatchCast = {
  meta: { type: 'problem', messages: { cast: 'do not cast the caught value `{{name}}`: use errorMessage({{name}}) / errnoCode({{name}}) from src/errors.ts or narrow with instanceof' } },
  create(context) {
    return {
      CatchClause(node) {
        if (node.param?.type !== 'Identifier') return;
        const [variable] = context.sourceCode.getDeclaredVariables(node);
        for (const ref of variable?.references ?? []) {
          const parent = ref.identifier.parent;
          if ((parent.type === 'TSAsExpression' || parent.type === 'TSTypeAssertion') && parent.expression === ref.identifier) {
            context.report({ node: parent, messageId: 'cast', data: { name: node.param.name } });
          }
        }
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------
// 3. Strict rules relaxed for this codebase (each with why). Everything else in
// strictTypeChecked stays an error.
// ---------------------------------------------------------------------------------------------
const RELAXED = {
  // noUncheckedIndexedAccess types every indexed read `T | undefined`; the hot paths (classifier,
  // codecs, queues) index within checked bounds and say so with `!` (~1,200 sites). Off.
  '@typescript-eslint/no-non-null-assertion': 'off',
  // Numbers and booleans in messages are the norm here (`port ${n}`, sizes, offsets); objects,
  // `any`, nullish and never still fail.
  '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
  // `(x) => sink.push(x)` and `return this.drop(...)` in void functions are the house style;
  // a void value used as a value anywhere else still fails.
  '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true, ignoreVoidOperator: true, ignoreVoidReturningFunctions: true }],
  // `_name` marks a parameter kept for the signature (interface methods, callbacks).
  '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
  // Warn, not error: it also fires on defensive checks of hostile input whose type claims more
  // than the bytes promise, and on fields a called method may change (TS keeps the narrowing).
  // Read each warning; disable a false one on its line with the reason.
  '@typescript-eslint/no-unnecessary-condition': 'warn',
};

/** Tests: relaxed where the rule fights the test framework, not where it finds bugs. */
const RELAXED_IN_TESTS = {
  // vitest's asymmetric matchers (expect.any, expect.objectContaining) are typed `any`.
  '@typescript-eslint/no-unsafe-assignment': 'off',
  '@typescript-eslint/no-unsafe-argument': 'off',
  // A test asserts at run time what the types already claim; that is its point.
  '@typescript-eslint/no-unnecessary-condition': 'off',
};

export default tseslint.config(
  { ignores: ['dist/**', 'dist-check/**', 'out/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs', '**/*.mts', '**/*.cts'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: ROOT } },
    plugins: { 'import-x': importX, vfab: { rules: { 'no-catch-cast': noCatchCast } } },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: join(ROOT, 'tsconfig.json') })] },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      'vfab/no-catch-cast': 'error',
      ...RELAXED,
    },
  },
  { files: ['test/**/*.ts'], rules: RELAXED_IN_TESTS },
  { files: ['src/**/*.ts'], rules: { 'import-x/no-restricted-paths': ['error', { basePath: ROOT, zones: layerZones() }] } },
  ...packageBans(),
  { files: ['src/**/*.ts'], ignores: CLOCK_EXEMPT, rules: CLOCK_RULES },
);
