/**
 * Simulated power loss (issue 10 #5). A process kill keeps every write the process made (they are
 * in the page cache); a power cut keeps only what reached stable storage. This harness models a
 * disk with a volatile write cache: a write is durable once a later `barrier()` (fdatasync) or
 * `fsync()` returns; writes since the last one may each reach the disk or not, in any order, and
 * a multi-sector write may land only in part (512-byte sectors, as a disk tears them).
 *
 * Each trial runs a seeded op sequence (writes, discards, write-zeroes, flushes, snapshot create
 * and delete) on a qcow2 image, cuts the power at a random write, keeps a random subset of the
 * unsynced sectors, and then requires of the surviving image what docs/disks.md promises: at worst
 * leaked clusters (vfab check and qemu-img check agree: exit 0 or 3), and every byte written
 * before the last completed flush reads back. Without the barriers between dependent metadata
 * writes (refcount before L2 entry, L2 table before L1 entry, ...) this fails: see the control
 * trial at the end, which turns them off and must find damage.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkImage, createImage, openImage, snapshotImage } from '../../src/block/api.js';
import { MemoryBackend, type BlockBackend } from '../../src/block/backend.js';
import { MemoryProvider } from '../../src/block/chain.js';
import { requireTool } from '../helpers/tools.js';
import { SIZE, applyModel, makeOps, prng, touched } from './crash/ops.mjs';

const TRIALS = Number(process.env['VFAB_POWER_TRIALS'] ?? 120);
const SECTOR = 512;

class PowerCut extends Error {}

/** Storage with a volatile cache: `view` is what reads see, `disk` what survives a power cut. */
class CachedDisk implements BlockBackend {
  readonly view: MemoryBackend;
  readonly disk: MemoryBackend;
  pending: Array<{ off: number; data: Uint8Array }> = [];
  dead = false;
  constructor(
    readonly name: string,
    private power: Power,
  ) {
    this.view = new MemoryBackend(name);
    this.disk = new MemoryBackend(name);
  }
  pread(buf: Uint8Array, offset: number): void {
    this.view.pread(buf, offset);
  }
  pwrite(data: Uint8Array, offset: number): void {
    if (this.dead) return;
    this.power.tick();
    this.view.pwrite(data, offset);
    this.pending.push({ off: offset, data: data.slice() });
  }
  private sync(): void {
    if (this.dead) return;
    for (const p of this.pending) this.disk.pwrite(p.data, p.off);
    this.pending = [];
  }
  fsync(): void {
    this.sync();
  }
  barrier(): void {
    this.sync();
  }
  size(): number {
    return this.view.size();
  }
  truncate(length: number): void {
    if (this.dead) return;
    // File length is metadata the journaling file system keeps in order with fdatasync; growing
    // is sparse, so the disk side simply follows.
    this.view.truncate(length);
    this.disk.truncate(length);
  }
  allocatedBytes(): number {
    return this.view.allocatedBytes();
  }
  close(): void {}
  /** The power goes: the disk keeps a random subset of the unsynced sectors. */
  cut(r: () => number): void {
    for (const p of this.pending) {
      const all = r() < 0.5;
      for (let s = 0; s < p.data.length; s += SECTOR) {
        if (all || r() < 0.5) this.disk.pwrite(p.data.subarray(s, Math.min(p.data.length, s + SECTOR)), p.off + s);
      }
    }
    this.pending = [];
    this.dead = true;
  }
  /** The surviving bytes as a file. */
  save(file: string): void {
    const b = new Uint8Array(this.disk.size());
    this.disk.pread(b, 0);
    writeFileSync(file, b);
  }
}

class Power {
  writes = 0;
  /** The write that never happens (0: not armed yet). */
  cutAt = 0;
  tick(): void {
    if (this.cutAt === 0) return;
    if (++this.writes === this.cutAt) throw new PowerCut();
  }
}

/** A provider whose backends persist across opens (snapshot operations reopen the image). */
class CachedProvider extends MemoryProvider {
  constructor(readonly power: Power) {
    super();
  }
  override create(name: string): BlockBackend {
    const b = new CachedDisk(`memory:${name}`, this.power);
    this.backends.set(name, b);
    return b;
  }
}

interface Outcome {
  failures: string[];
  cut: boolean;
  leaks: number;
  flushed: number;
}

function trial(n: number, dir: string, barriers: boolean, qemu: boolean): Outcome {
  const seed = 7_000_001 + n * 7919;
  const r = prng(seed);
  const cs = n % 3 === 0 ? 4096 : 65536;
  const power = new Power();
  const provider = new CachedProvider(power);
  const name = `img${n}`;
  // The image is created (and synced) before the power can go.
  createImage(name, { size: SIZE, clusterSize: cs }, provider);
  const disk = provider.backends.get(name) as CachedDisk;
  disk.fsync();
  power.cutAt = 1 + Math.floor(r() * 140);
  const ops = makeOps(seed, false);
  let durable = 0;
  let cut = false;
  let img = openImage(name, { barriers }, provider);
  try {
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (op.t === 'write') img.write(op.off, new Uint8Array(op.len).fill(op.v));
      else if (op.t === 'discard') img.discard(op.off, op.len);
      else if (op.t === 'zero') img.writeZeroes(op.off, op.len);
      else if (op.t === 'flush') {
        img.flush();
        durable = i + 1;
      } else if (op.t === 'snap' || op.t === 'delsnap') {
        img.close();
        snapshotImage(name, op.t === 'snap' ? { create: op.name } : { delete: op.name }, provider);
        img = openImage(name, { barriers }, provider);
        durable = i + 1;
      } else throw new Error(`op ${op.t} needs a backing file; standalone images only here`);
    }
    img.close();
    durable = ops.length;
  } catch (e) {
    if (!(e instanceof PowerCut)) throw e;
    cut = true;
    disk.dead = true; // nothing after the cut reaches the disk (cleanup code may still run)
    try {
      img.close();
    } catch {
      // closing after the power went is allowed to fail: the disk is gone
    }
  }
  disk.dead = false;
  disk.cut(r);
  const file = join(dir, `p${n}.qcow2`);
  disk.save(file);
  const failures: string[] = [];
  const where = `trial ${n} (seed ${seed}, cut at write ${power.writes}, barriers ${barriers})`;
  if (qemu) {
    const q = spawnSync('qemu-img', ['check', '-f', 'qcow2', file], { encoding: 'utf8' });
    if (q.status !== 0 && q.status !== 3) failures.push(`${where}: qemu-img check exit ${q.status}: ${(q.stdout + q.stderr).split('\n').slice(0, 3).join(' | ')}`);
  }
  const v = checkImage(file);
  if (v.corruptions !== 0 || v.checkErrors !== 0) failures.push(`${where}: vfab check: ${v.messages.filter((m) => m.startsWith('ERROR')).slice(0, 3).join('; ')}`);
  const model = new Uint8Array(SIZE);
  for (let i = 0; i < durable; i++) applyModel(model, ops[i]!, cs);
  const maybe = new Uint8Array(SIZE);
  for (let i = durable; i < ops.length; i++) {
    const rg = touched(ops[i]!);
    if (rg) maybe.fill(1, rg[0], rg[1]);
  }
  if (v.corruptions === 0) {
    const back = openImage(file, { readOnly: true });
    const got = new Uint8Array(SIZE);
    back.read(0, got);
    back.close();
    for (let i = 0; i < SIZE; i++) {
      if (!maybe[i] && got[i] !== model[i]) {
        failures.push(`${where}: byte ${i} reads ${got[i]}, a flushed write left ${model[i]}`);
        break;
      }
    }
  }
  rmSync(file, { force: true });
  return { failures, cut, leaks: v.leaks, flushed: durable };
}

describe('power loss', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-power-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`${TRIALS} power cuts at random writes: at worst leaks, and every flushed byte survives`, async () => {
    const qemu = requireTool('qemu-img', 'images after a power cut pass qemu-img check');
    const failures: string[] = [];
    let cuts = 0;
    let leaks = 0;
    let flushed = 0;
    for (let n = 0; n < TRIALS; n++) {
      // Yield between trials: a worker that never returns to its event loop for a minute loses
      // vitest's RPC channel ("Timeout calling onTaskUpdate").
      await new Promise((res) => setImmediate(res));
      const o = trial(n, dir, true, qemu);
      failures.push(...o.failures);
      if (o.cut) cuts++;
      leaks += o.leaks;
      flushed += o.flushed;
    }
    expect(failures).toEqual([]);
    // The harness must really cut mid-run and really have flushed data to compare.
    expect(cuts).toBeGreaterThan(TRIALS / 2);
    expect(flushed).toBeGreaterThan(TRIALS);
    process.stdout.write(`power loss: ${TRIALS} trials, ${cuts} cut mid-run, ${leaks} leaked clusters (allowed), 0 corruptions, 0 lost flushed bytes\n`);
  }, 240_000);

  it('the harness can fail: without metadata barriers the same cuts damage images', async () => {
    let damaged = 0;
    for (let n = 0; n < TRIALS && damaged === 0; n++) {
      await new Promise((res) => setImmediate(res));
      if (trial(n, dir, false, false).failures.length > 0) damaged++;
    }
    expect(damaged).toBeGreaterThan(0);
  }, 240_000);
});
