import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkImage, createImage, openImage } from '../../src/block/api.js';
import { requireTool } from '../helpers/tools.js';
import { buildBlockLayer } from './crash/build.js';
import { SIZE, applyModel, makeOps, prng, touched } from './crash/ops.mjs';

let BUILD = '';
const CHILD = join(import.meta.dirname, 'crash', 'child.mjs');
/** VFAB_CRASH_TRIALS overrides (the acceptance run used 300). */
const TRIALS = Number(process.env['VFAB_CRASH_TRIALS'] ?? 200);
const PARALLEL = 4;

interface Trial {
  n: number;
  seed: number;
  killAt: number;
  timerMs: number;
  overlay: boolean;
  cs: number;
}

function runChild(t: Trial, image: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, BUILD, image, String(t.seed), String(t.killAt), t.overlay ? '1' : '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // Timer kills start counting once the child has opened the image.
      if (t.killAt === 0 && out.startsWith('R\n') && out.length === 2) {
        const ms = t.timerMs;
        setTimeout(() => child.kill('SIGKILL'), ms);
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`child failed (${code}): ${err}`));
      else resolve(out);
    });
  });
}

describe('crash safety', () => {
  // tmpfs when there is one: fsync there is free, and the harness is about ordering, not disks.
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'vfab-crash-'));
  const base = join(dir, 'base.qcow2');
  const baseContent = new Uint8Array(SIZE);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(() => {
    // The child runs compiled code: build the block layer alone (a few seconds) into a cache dir.
    BUILD = buildBlockLayer('crash');
    createImage(base, { size: SIZE });
    const b = openImage(base);
    for (let off = 0; off < SIZE; off += 300_000) {
      const len = Math.min(100_000, SIZE - off);
      b.write(off, new Uint8Array(len).fill((off / 300_000 + 1) & 0xff));
      baseContent.fill((off / 300_000 + 1) & 0xff, off, off + len);
    }
    b.close();
  });

  it('refuses a second writer process with the holder pid, and lets it in once the holder is gone', () => {
    const image = join(dir, 'locked.qcow2');
    createImage(image, { size: SIZE });
    const holder = openImage(image);
    const script = `const { openImage } = await import(${JSON.stringify(`${BUILD}/block/api.js`)});
      try { openImage(${JSON.stringify(image)}).close(); console.log('opened'); } catch (e) { console.log(e.code + ': ' + e.message); process.exitCode = e.exitCode; }`;
    const second = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(second.stdout.trim()).toBe(`BLOCK_LOCKED: image is locked for writing by pid ${process.pid}`);
    expect(second.status).toBe(2);
    holder.close();
    const third = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(third.stdout.trim()).toBe('opened');
  });

  it(`loses no flushed write and corrupts nothing when a writer is SIGKILLed at ${TRIALS} random instants`, async () => {
    const r = prng(20261122);
    const trials: Trial[] = [];
    for (let n = 0; n < TRIALS; n++) {
      trials.push({
        n,
        seed: Math.floor(r() * 2 ** 31),
        // Mostly "die right before write #k" (every instant between two writes is reachable);
        // one in four: a plain SIGKILL from the parent after a random delay.
        killAt: n % 4 === 3 ? 0 : 1 + Math.floor(r() * 160),
        timerMs: Math.floor(r() * 40),
        overlay: n % 2 === 1,
        cs: n % 3 === 0 ? 4096 : 65536,
      });
    }
    let leaks = 0;
    let finished = 0;
    const killedIn = new Map<string, number>();
    let flushedOps = 0;
    const qemuCheck = requireTool('qemu-img', 'crash images pass qemu-img check');
    const failures: string[] = [];
    const runOne = async (t: Trial): Promise<void> => {
      const image = join(dir, `t${t.n}.qcow2`);
      // Overlays get their own base: commit writes into it.
      const tbase = join(dir, `t${t.n}-base.qcow2`);
      if (t.overlay) {
        copyFileSync(base, tbase);
        createImage(image, { backingFile: `t${t.n}-base.qcow2`, backingFormat: 'qcow2', clusterSize: t.cs });
      } else createImage(image, { size: SIZE, clusterSize: t.cs });
      const out = await runChild(t, image);
      const lines = out.split('\n');
      if (lines.includes('END')) finished++;
      const ops = makeOps(t.seed, t.overlay);
      // Right after the kill, before anything reopens (and repairs) it: only leaks allowed.
      for (const f of t.overlay ? [image, tbase] : [image]) {
        if (qemuCheck) {
          const q = spawnSync('qemu-img', ['check', '-U', f], { encoding: 'utf8' });
          if (q.status !== 0 && q.status !== 3) failures.push(`trial ${t.n} (seed ${t.seed}, killAt ${t.killAt}): qemu-img check ${f} exit ${q.status}: ${q.stdout}${q.stderr}`.slice(0, 600));
        }
        const v = checkImage(f);
        if (v.corruptions !== 0 || v.checkErrors !== 0) failures.push(`trial ${t.n} (seed ${t.seed}, killAt ${t.killAt}): vfab check ${f}: ${v.messages.filter((m) => m.startsWith('ERROR')).slice(0, 3).join('; ')}`);
      }
      let durable = 0;
      let lastDone = -1;
      for (const l of lines) if (l.startsWith('F ')) durable = Number(l.slice(2)) + 1;
      for (const l of lines) if (l.startsWith('D ')) lastDone = Number(l.slice(2));
      if (lines.includes('END')) durable = ops.length;
      flushedOps += durable;
      // Reopen read-write (takes over the dead writer's lock), then check and compare.
      openImage(image).close();
      const c = checkImage(image);
      if (c.corruptions !== 0 || c.checkErrors !== 0) failures.push(`trial ${t.n}: ${c.messages.filter((m) => m.startsWith('ERROR')).slice(0, 3).join('; ')}`);
      leaks += c.leaks;
      const model = t.overlay ? baseContent.slice() : new Uint8Array(SIZE);
      for (let i = 0; i < durable; i++) applyModel(model, ops[i]!, t.cs);
      const maybe = new Uint8Array(SIZE);
      for (let i = durable; i < ops.length; i++) {
        const rg = touched(ops[i]!);
        if (rg) maybe.fill(1, rg[0], rg[1]);
      }
      const img = openImage(image, { readOnly: true });
      const got = new Uint8Array(SIZE);
      img.read(0, got);
      img.close();
      for (let i = 0; i < SIZE; i++) {
        if (!maybe[i] && got[i] !== model[i]) {
          failures.push(`trial ${t.n} (seed ${t.seed}, killAt ${t.killAt}): byte ${i} is ${got[i]}, a flushed write left ${model[i]}`);
          break;
        }
      }
      const inside = lines.includes('END') ? undefined : ops[lastDone + 1];
      if (inside) killedIn.set(inside.t, (killedIn.get(inside.t) ?? 0) + 1);
      rmSync(image, { force: true });
      rmSync(tbase, { force: true });
    };
    const queue = [...trials];
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        for (let t = queue.shift(); t; t = queue.shift()) await runOne(t);
      }),
    );
    expect(failures).toEqual([]);
    // The harness must really crash writers mid-run and really have flushed data to check.
    expect(finished).toBeLessThan(TRIALS * 0.6);
    expect(flushedOps).toBeGreaterThan(TRIALS);
    // Kills really landed inside snapshot, commit and rebase operations.
    const summary = [...killedIn].map(([k, v]) => `${k}:${v}`).join(' ');
    if (TRIALS >= 100) for (const k of ['snap', 'commit', 'rebase']) expect(killedIn.get(k) ?? 0, `${k} (${summary})`).toBeGreaterThan(0);
    process.stdout.write(`crash harness: ${TRIALS} trials, ${TRIALS - finished} killed mid-run, ${leaks} leaked clusters (allowed), 0 corruptions, killed inside: ${summary}\n`);
  }, 300_000);
});
