/**
 * Two writers racing for a stale lock (issue 10 #2): an image whose lock file names a dead pid
 * (what every SIGKILL leaves), two writer processes told to open it at the same instant. Exactly
 * one may win every time, and the image must stay clean (vfab check and qemu-img check).
 * VFAB_LOCK_TRIALS sets the trial count (default 200; the two writers are long-lived processes,
 * so a trial costs a few ms plus a qemu-img check).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { checkImage, createImage } from '../../src/block/api.js';
import { requireTool } from '../helpers/tools.js';
import { buildBlockLayer } from './crash/build.js';

const TRIALS = Number(process.env['VFAB_LOCK_TRIALS'] ?? 200);

class Writer {
  private lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  constructor(readonly proc: { stdin: Writable; stdout: Readable }) {
    createInterface({ input: proc.stdout }).on('line', (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
  }
  next(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((res) => this.waiters.push(res));
  }
  send(s: string): void {
    this.proc.stdin.write(`${s}\n`);
  }
}

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('stale-lock takeover race', () => {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'vfab-lockrace-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`lets exactly one of two racing writers take over a dead writer's lock (${TRIALS} trials), image clean`, async () => {
    const build = buildBlockLayer('lock-race');
    const child = join(import.meta.dirname, 'crash', 'lock-child.mjs');
    const writers = [0, 1].map(() => new Writer(spawn(process.execPath, [child, build], { stdio: ['pipe', 'pipe', 'inherit'] })));
    try {
      for (const w of writers) expect(await w.next()).toBe('READY');
      const qemu = requireTool('qemu-img', 'raced images pass qemu-img check');
      let dead = deadPid();
      const failures: string[] = [];
      let won = 0;
      for (let t = 0; t < TRIALS; t++) {
        if (alive(dead)) dead = deadPid();
        const image = join(dir, `t${t}.qcow2`);
        createImage(image, { size: 4 << 20, clusterSize: t % 2 ? 4096 : 65536 });
        // Both lock formats a SIGKILL can leave: vfab's `PID NONCE` and the older `PID`.
        writeFileSync(`${image}.lock`, t % 3 === 0 ? `${dead}\n` : `${dead} deadbeef${t}\n`);
        for (const w of writers) w.send(`go ${image}`);
        const answers = await Promise.all(writers.map((w) => w.next()));
        const winners = writers.filter((_, i) => answers[i] === 'WON');
        won += winners.length;
        if (winners.length !== 1) failures.push(`trial ${t}: ${answers.join(', ')}`);
        for (const l of answers.filter((a) => a !== 'WON')) if (l !== 'LOST BLOCK_LOCKED') failures.push(`trial ${t}: loser said '${l}'`);
        winners.forEach((w, i) => w.send(`write ${t * 7 + i}`));
        for (const w of winners) expect(await w.next()).toBe('DONE');
        const c = checkImage(image);
        if (c.corruptions !== 0 || c.leaks !== 0) failures.push(`trial ${t}: vfab check ${c.corruptions} corruptions, ${c.leaks} leaks`);
        if (qemu) {
          const q = spawnSync('qemu-img', ['check', image], { encoding: 'utf8' });
          if (q.status !== 0) failures.push(`trial ${t}: qemu-img check exit ${q.status}`);
        }
        rmSync(image);
        const left = readdirSync(dir);
        if (left.length > 0) failures.push(`trial ${t}: files left behind: ${left.join(' ')}`);
        for (const f of left) rmSync(join(dir, f), { force: true });
      }
      expect(failures).toEqual([]);
      expect(won).toBe(TRIALS);
    } finally {
      for (const w of writers) w.send('quit');
    }
  }, 300_000);
});
