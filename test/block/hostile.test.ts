/**
 * Hostile qcow2 images (issue 10 #6, #21): a seeded generator (fuzz/mutants.mjs) mutates valid
 * images; vfab's info, map + read, check, write and check -r all run on each in a worker process.
 * Every image must end in a result or a clean UserError (no other exception), no image may take
 * more than 10 s, the worker's peak RSS stays under 512 MiB, and `check` must call an image
 * corrupt exactly when `qemu-img check` does (where qemu-img answers: exit 0, 2 or 3).
 *
 * VFAB_FUZZ_CASES sets the count (default 300), VFAB_FUZZ_SEED the first seed (default fixed;
 * a nightly run may pass a different one).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { createImage, openImage, snapshotImage } from '../../src/block/api.js';
import { convertImage } from '../../src/block/verbs.js';
import { requireTool } from '../helpers/tools.js';
import { buildBlockLayer } from './crash/build.js';
import { mutate } from './fuzz/mutants.mjs';

const CASES = Number(process.env['VFAB_FUZZ_CASES'] ?? 300);
const SEED = Number(process.env['VFAB_FUZZ_SEED'] ?? 20261207);
const LIMIT_MS = 10_000;
/**
 * The compressed base (index 5) under fixed seeds, run whatever CASES is: malformed compressed
 * descriptors are a failure class of their own (issue 17).
 */
const COMPRESSED_REGRESSIONS: Array<[number, number]> = Array.from({ length: 12 }, (_, k) => [5, 20261700 + k] as [number, number]);
/**
 * [base, seed] of mutants that found bugs: 64-bit refcounts, a 1 TiB tail and an unaligned L2
 * entry made `check -r all` throw a RangeError (fractional cluster index) while fixing COPIED flags;
 * a 512-byte-cluster image whose l1_size grew over its L2 tables made the refcount rebuild leave
 * more corruptions than it found (now undone, refused with exit 2; test/block/repair.test.ts).
 */
/**
 * Extended L2 entries (issue 17): the last base, mutated under fixed seeds only, so the rotation
 * over the other bases (and every mutant above) stays what it was.
 */
const EXTL2_BASE = 6;
const EXTL2_CASES: Array<[number, number]> = Array.from({ length: 24 }, (_, k) => [EXTL2_BASE, 20261800 + k] as [number, number]);
const REGRESSIONS: Array<[number, number]> = [[3, 20261600], [1, 20261286], ...COMPRESSED_REGRESSIONS, ...EXTL2_CASES];
const RSS_LIMIT_KB = 512 * 1024;

interface Report {
  i: number;
  ok: boolean;
  failed?: string;
  outcome: string;
  ms: number;
  rss: number;
}

/** `qemu-img check -U` with a time limit; status null when it was killed. */
function qemuImgCheck(f: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('qemu-img', ['check', '-U', '-f', 'qcow2', f], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), LIMIT_MS);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code, stdout, stderr });
    });
  });
}

function makeBases(dir: string): string[] {
  const out: string[] = [];
  const mk = (name: string, opts: Parameters<typeof createImage>[1], fill: (w: ReturnType<typeof openImage>) => void, snap = false): void => {
    const f = join(dir, name);
    createImage(f, opts);
    const w = openImage(f);
    fill(w);
    w.close();
    if (snap) {
      snapshotImage(f, { create: 's1' });
      const w2 = openImage(f);
      w2.write(0, new Uint8Array(8192).fill(0x77));
      w2.close();
    }
    out.push(f);
  };
  mk('b64k.qcow2', { size: 8 << 20 }, (w) => {
    w.write(0, new Uint8Array(300_000).fill(1));
    w.write(5 << 20, new Uint8Array(70_000).fill(2));
  }, true);
  mk('b512.qcow2', { size: 2 << 20, clusterSize: 512 }, (w) => w.write(0, new Uint8Array(600_000).fill(3)));
  mk('b4k-rc1.qcow2', { size: 4 << 20, clusterSize: 4096, refcountBits: 1 }, (w) => w.write(4096, new Uint8Array(200_000).fill(4)));
  mk('b4k-rc64.qcow2', { size: 4 << 20, clusterSize: 4096, refcountBits: 64 }, (w) => w.write(0, new Uint8Array(100_000).fill(5)), true);
  createImage(join(dir, 'under.qcow2'), { size: 4 << 20 });
  mk('overlay.qcow2', { backingFile: 'under.qcow2', backingFormat: 'qcow2', clusterSize: 4096 }, (w) => w.write(8192, new Uint8Array(50_000).fill(6)));
  // Compressed clusters (issue 17): mutated descriptors (offset, sector count, flags) and deflate
  // data; a guest write over them copies out and frees their bytes.
  const comp = join(dir, 'bcomp.qcow2');
  convertImage(out[0]!, comp, { outFormat: 'qcow2', compress: true, clusterSize: 4096 });
  out.push(comp);
  // Extended L2 entries: allocated, zero and unallocated subclusters in one cluster.
  mk('bextl2.qcow2', { size: 4 << 20, clusterSize: 16384, extendedL2: true }, (w) => {
    w.write(1024, new Uint8Array(3000).fill(8));
    w.writeZeroes(16384 + 2048, 4096);
    w.write(40000, new Uint8Array(70_000).fill(9));
  });
  if (out.length !== EXTL2_BASE + 1) throw new Error('hostile bases: the extended L2 base must be last');
  return out;
}

/** Points image `f` (header bytes `b`) at a special backing file, with the name inside cluster 0. */
function setBacking(b: Buffer, name: string): void {
  const at = 4096 - 64;
  if (b.length < at + name.length) return;
  b.write(name, at, 'utf8');
  b.writeBigUInt64BE(BigInt(at), 8);
  b.writeUInt32BE(name.length, 16);
}

describe('hostile qcow2 images', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-hostile-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`${CASES} mutants: clean errors or results, bounded time and memory, check agrees with qemu-img`, async () => {
    const build = buildBlockLayer('hostile');
    const bases = makeBases(dir).map((f) => readFileSync(f));
    const mdir = join(dir, 'm');
    mkdirSync(mdir);
    mkdirSync(join(mdir, 'adir'));
    const files: string[] = [];
    const names: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const seed = SEED + i;
      const m = mutate(bases[i % EXTL2_BASE]!, seed);
      const f = join(mdir, `m${i}.qcow2`);
      if (m.backing === 'dir') setBacking(m.bytes, 'adir');
      else if (m.backing === 'self') setBacking(m.bytes, `m${i}.qcow2`);
      else if (m.backing === 'missing') setBacking(m.bytes, 'nope.qcow2');
      else if (m.backing === 'loop') {
        setBacking(m.bytes, `m${i}-b.qcow2`);
        const other = Buffer.from(m.bytes);
        setBacking(other, `m${i}.qcow2`);
        writeFileSync(join(mdir, `m${i}-b.qcow2`), other);
      }
      writeFileSync(f, m.bytes);
      if (m.size !== undefined) truncateSync(f, m.size);
      files.push(f);
      names.push(`#${i} seed ${seed} ${m.name}`);
    }
    // Mutants that once failed, always run whatever CASES and SEED are: [base index, seed].
    for (const [bi, seed] of REGRESSIONS) {
      const m = mutate(bases[bi]!, seed);
      const f = join(mdir, `r${seed}.qcow2`);
      writeFileSync(f, m.bytes);
      if (m.size !== undefined) truncateSync(f, m.size);
      files.push(f);
      names.push(`regression base ${bi} seed ${seed} ${m.name}`);
    }
    // A directory and a symlink to one as the image itself.
    files.push(join(mdir, 'adir'));
    names.push('a directory as the image');
    symlinkSync(join(mdir, 'adir'), join(mdir, 'link-to-dir.qcow2'));
    files.push(join(mdir, 'link-to-dir.qcow2'));
    names.push('a symlink to a directory as the image');

    const reports = new Map<number, Report>();
    const failures: string[] = [];
    // One worker for all images; when an image hangs, the watchdog kills it and a new worker
    // takes the rest.
    let next = 0;
    while (next < files.length) {
      const w = spawn(process.execPath, [join(import.meta.dirname, 'fuzz', 'worker.mjs'), build], { stdio: ['pipe', 'pipe', 'inherit'] });
      const lines = createInterface({ input: w.stdout });
      let current = next;
      const done = new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const feed = (): void => {
          clearTimeout(timer);
          if (current >= files.length) {
            w.stdin.end();
            return;
          }
          w.stdin.write(`${current} ${files[current]}\n`);
          timer = setTimeout(() => w.kill('SIGKILL'), LIMIT_MS * 2);
        };
        lines.on('line', (l) => {
          const r = JSON.parse(l) as Report;
          reports.set(r.i, r);
          current++;
          feed();
        });
        w.on('close', () => {
          clearTimeout(timer);
          resolve();
        });
        feed();
      });
      await done;
      if (current < files.length && !reports.has(current)) {
        failures.push(`${names[current]}: no answer within ${(LIMIT_MS * 2) / 1000} s (worker killed)`);
        current++;
      }
      next = current;
    }
    const qemu = requireTool('qemu-img', 'vfab check agrees with qemu-img check');
    let agreed = 0;
    let qemuSilent = 0;
    let refusedWhereQemuAnswered = 0;
    let maxRss = 0;
    let maxMs = 0;
    const outcomes = new Map<string, number>();
    for (const [i, f] of files.entries()) {
      const r = reports.get(i);
      if (!r) continue;
      maxRss = Math.max(maxRss, r.rss);
      maxMs = Math.max(maxMs, r.ms);
      outcomes.set(r.outcome.split(':')[0]!, (outcomes.get(r.outcome.split(':')[0]!) ?? 0) + 1);
      if (!r.ok) failures.push(`${names[i]}: ${r.failed}`);
      if (r.ms > LIMIT_MS) failures.push(`${names[i]}: took ${r.ms} ms`);
      if (!qemu || i >= CASES + REGRESSIONS.length) continue;
      // Awaited, not spawnSync: 500 checks in a row would block the worker past vitest's RPC timeout.
      const q = await qemuImgCheck(f);
      if (q.status === null || q.status === 1 || q.status === 63) {
        qemuSilent++;
        continue;
      }
      const qCorrupt = q.status === 2;
      if (r.outcome.startsWith('refused')) {
        // vfab refused to open what qemu-img checked: exit 2 either way; only a refusal of an
        // image qemu calls clean is a disagreement.
        if (!qCorrupt) {
          refusedWhereQemuAnswered++;
          failures.push(`${names[i]}: vfab refused (${r.outcome}) an image qemu-img check finds ${q.status === 0 ? 'clean' : 'leaky'}`);
        } else agreed++;
        continue;
      }
      if ((r.outcome === 'corrupt') !== qCorrupt) failures.push(`${names[i]}: vfab says ${r.outcome}, qemu-img check exit ${q.status}: ${(q.stdout + q.stderr).split('\n').slice(0, 3).join(' | ')}`);
      else agreed++;
    }
    process.stdout.write(
      `hostile images: ${files.length} cases, outcomes ${[...outcomes].map(([k, v]) => `${k}:${v}`).join(' ')}, agreed with qemu-img on ${agreed}, qemu-img gave no answer on ${qemuSilent}, peak RSS ${Math.round(maxRss / 1024)} MiB, slowest ${maxMs} ms\n`,
    );
    expect(failures).toEqual([]);
    expect(maxRss).toBeLessThan(RSS_LIMIT_KB);
    expect(refusedWhereQemuAnswered).toBe(0);
  }, 600_000);
});
