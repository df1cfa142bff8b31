/**
 * No command reads standard input unless given `-` (issue 10 #10). Real child processes, real
 * pipes: a piped stdin must change nothing compared with stdin at /dev/null.
 *
 * Before the fix @oclif/core filled any positional argument missing from argv from a non-TTY
 * stdin (10 ms race): `printf 'a\nb\n' | while read x; do vfab disk create … ov-$x.qcow2; done`
 * took `b` as SIZE, and `echo hi | vfab trace --flows …` took `hi` as a topology file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve('.');
const bin = join(root, 'bin/run.js');
const dir = mkdtempSync(join(tmpdir(), 'vfab-stdin-'));

function vfab(args: string[], stdin: string, cwd = root): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 30_000,
    // a string is written into a pipe before the child starts reading: the worst case of the race
    ...(stdin === 'ignore' ? { stdio: ['ignore', 'pipe', 'pipe'] } : { input: stdin }),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.replaceAll(dir, 'DIR').replace(/\(node:\d+\)/g, '(node:PID)') };
}

/** `vfab` without blocking the test worker (many commands in a row outran vitest's RPC timeout). */
function vfabAsync(args: string[], stdin: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const c = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: [stdin === 'ignore' ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    // written before the child starts reading: the worst case of the race
    if (stdin !== 'ignore') c.stdin!.end(stdin);
    const timer = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('close', (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr: stderr.replaceAll(dir, 'DIR').replace(/\(node:\d+\)/g, '(node:PID)') });
    });
  });
}

/** Every command id, from the compiled command files (`disk create`, `qos test`, …). */
function commandIds(): string[] {
  const base = join(root, 'dist/commands');
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith('.js')) out.push(relative(base, p).replace(/\.js$/, '').split('/').join(' '));
    }
  };
  walk(base);
  return out.sort();
}

describe('stdin is never read implicitly', () => {
  it('a shell loop fed by a pipe creates every overlay (no line is taken as SIZE)', () => {
    expect(vfab(['disk', 'create', '-f', 'qcow2', join(dir, 'base.qcow2'), '1M'], 'ignore').status).toBe(0);
    const r = spawnSync('sh', ['-c', `printf 'a\\nb\\nc\\n' | while read x; do node "${bin}" disk create -f qcow2 -b base.qcow2 -F qcow2 ov-$x.qcow2 || echo "failed $x"; done`], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stdout).not.toMatch(/failed/);
    expect(r.stderr).toBe('');
    for (const x of ['a', 'b', 'c']) expect(existsSync(join(dir, `ov-${x}.qcow2`)), `ov-${x}.qcow2`).toBe(true);
  });

  it('`echo hi | vfab trace --flows …` behaves exactly as without a pipe', () => {
    const flows = join(dir, 'br0.flows');
    writeFileSync(flows, 'priority=0,actions=NORMAL\n');
    const args = ['trace', '--flows', flows, '--port', 'p1:1', '--port', 'p2:2', '--packet', 'in_port=1,dl_src=00:00:00:00:00:0a,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1'];
    const plain = vfab(args, 'ignore');
    expect(plain.status).toBe(0);
    for (const input of ['hi\n', 'topologies/quickstart.yaml\n']) expect(vfab(args, input)).toEqual(plain);
  });

  it('every command, with its arguments missing, ignores a piped line', async () => {
    const ids = commandIds();
    expect(ids).toContain('disk create');
    expect(ids).toContain('validate');
    const queue = [...ids];
    const seen: string[] = [];
    await Promise.all(
      [0, 1, 2].map(async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          const argv = [...id.split(' '), '--help'].slice(0, -1);
          // a pipe holding a valid argument for most commands: it must not be used
          const plain = await vfabAsync(argv, 'ignore');
          const piped = await vfabAsync(argv, 'topologies/quickstart.yaml\n');
          expect(JSON.stringify(piped), `vfab ${id}`).toBe(JSON.stringify(plain));
          seen.push(id);
        }
      }),
    );
    expect(seen.sort()).toEqual(ids);
  }, 300_000);
});
