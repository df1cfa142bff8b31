/**
 * User-given paths and inputs, as a user meets them (issue 10 #7, #9, #14): size caps, FIFOs and
 * devices, file-system errors on output paths, `validate --json` for invalid files, a QoS
 * file's missing topology. Real child processes; every failure is exit 2, names the path and
 * the reason, and has no stack trace.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'vfab-inputs-'));
const vfab = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['bin/run.js', ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });

function expectUserError(r: ReturnType<typeof vfab>, re: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toMatch(re);
  expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
}

describe('input files: size cap and kind', () => {
  it('refuses devices, FIFOs and directories with a message (no read at all)', () => {
    expectUserError(vfab(['validate', '/dev/zero']), /cannot read \/dev\/zero: is a character device/);
    const fifo = join(dir, 'fifo.yaml');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expectUserError(vfab(['validate', fifo]), /fifo\.yaml: is a FIFO \(named pipe\)/);
    expectUserError(vfab(['validate', dir]), /is a directory/);
    expectUserError(vfab(['trace', '--flows', dir, '--port', 'p1:1', '--packet', 'in_port=1']), /^--flows: cannot read .*: is a directory/);
  });

  it('caps input size (default, flag, environment) and names the limit', () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `name: x\n#${'x'.repeat(17 * 1024 * 1024)}\n`);
    expectUserError(vfab(['validate', big]), /big\.yaml: \d+ bytes is over the input size limit of 16777216 bytes\n\s+hint: raise the limit with --max-input-size/);
    expectUserError(vfab(['validate', 'topologies/quickstart.yaml', '--max-input-size', '100']), /over the input size limit of 100 bytes/);
    expectUserError(vfab(['validate', 'topologies/quickstart.yaml'], { VFAB_MAX_INPUT_SIZE: '100' }), /over the input size limit of 100 bytes/);
    expectUserError(vfab(['validate', 'topologies/quickstart.yaml', '--max-input-size', 'lots']), /^--max-input-size: "lots" is not a size/);
    expect(vfab(['validate', big, '--max-input-size', '32MiB']).status).toBe(0); // read in full: a valid (empty) topology
  });

  it('a flows_file over the cap is located at its flows_file: line', () => {
    writeFileSync(join(dir, 'huge.flows'), 'priority=0,actions=NORMAL\n'.repeat(2000));
    const t = join(dir, 'ff.yaml');
    writeFileSync(t, ['hosts:', '  hv1:', '    bridges:', '      br0: { flows_file: huge.flows }', ''].join('\n'));
    expectUserError(vfab(['validate', t, '--max-input-size', '10k']), /ff\.yaml:4:26: flows file "huge\.flows": cannot read .*huge\.flows: \d+ bytes is over the input size limit of 10240 bytes/);
    expectUserError(vfab(['validate', t.replace('ff.yaml', 'none.yaml')]), /none\.yaml: no such file or directory/);
  });

  it('any input file up to 100 MB is handled within 1 GiB (a 50 MB name, a 40 MB flows_file)', () => {
    const q = readFileSync('topologies/quickstart.yaml', 'utf8');
    const named = join(dir, 'named.yaml');
    writeFileSync(named, q.replace(/^name: .*$/m, `name: n${'a'.repeat(50_000_000)}`));
    writeFileSync(join(dir, 'big.flows'), 'priority=1,ip,nw_dst=10.0.0.1,actions=NORMAL\n'.repeat(900_000));
    const flows = join(dir, 'flows.yaml');
    writeFileSync(flows, ['hosts:', '  hv1:', '    bridges:', '      br0: { flows_file: big.flows }', ''].join('\n'));
    for (const f of [named, flows]) {
      const r = spawnSync('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, 'bin/run.js', 'validate', f, '--max-input-size', '100M'], { encoding: 'utf8', timeout: 120_000, maxBuffer: 256 * 1024 * 1024 });
      expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
      const kb = Number(/maxrss_kb=(\d+)/.exec(r.stderr)?.[1]);
      expect(kb, f).toBeGreaterThan(0);
      expect(kb, f).toBeLessThan(1024 * 1024);
    }
  }, 240_000);
});

describe('output paths: every file-system error is exit 2 naming the path', () => {
  it('--pcapng DIR, --pcap-dir FILE, --pcapng in a missing parent that is a file', () => {
    const file = join(dir, 'plain.txt');
    writeFileSync(file, 'x');
    expectUserError(vfab(['run', 'topologies/quickstart.yaml', '--until', '1ms', '--pcapng', dir]), new RegExp(`cannot write ${dir}: is a directory`));
    expectUserError(vfab(['run', 'topologies/quickstart.yaml', '--until', '1ms', '--pcap-dir', file]), new RegExp(`cannot create folder ${file}: exists and is not a directory`));
    expectUserError(vfab(['run', 'topologies/quickstart.yaml', '--until', '1ms', '--pcapng', join(file, 'x.pcapng')]), /plain\.txt: (exists and is not a directory|a component of the path is not a directory)/);
    const ro = join(dir, 'ro');
    mkdirSync(ro, { mode: 0o555 });
    if (process.getuid?.() !== 0) expectUserError(vfab(['run', 'topologies/quickstart.yaml', '--until', '1ms', '--pcapng', join(ro, 'a.pcapng')]), /permission denied/);
    expectUserError(vfab(['qos', 'run', 'topologies/qos-burst.qos.yaml', '--svg', file]), new RegExp(`cannot create folder ${file}: exists and is not a directory`));
  });
});

describe('validate --json', () => {
  it('prints {valid:false, errors:[{file,line,col,code,message}]} and exits 2', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, ['hosts:', '  hv1: { bridges: { br0: {} } }', 'vms:', '  vm1: { host: hv9, interfaces: { eth0: { bridge: br0 } } }', ''].join('\n'));
    const r = vfab(['validate', bad, '--json']);
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      file: bad,
      valid: false,
      errors: [{ file: bad, line: 4, col: 16, code: 'TOPOLOGY_UNKNOWN_HOST', message: 'unknown host "hv9"; did you mean "hv1"?' }],
    });
    const syntax = join(dir, 'syntax.yaml');
    writeFileSync(syntax, 'hosts: [\n');
    const s = JSON.parse(vfab(['validate', syntax, '--json']).stdout) as { valid: boolean; errors: unknown[] };
    expect(s.valid).toBe(false);
    expect(s.errors[0]).toMatchObject({ file: syntax, line: expect.any(Number), col: expect.any(Number), code: 'YAML_SYNTAX' });
    const missing = JSON.parse(vfab(['validate', join(dir, 'missing.yaml'), '--json']).stdout) as { errors: unknown[] };
    expect(missing.errors[0]).toMatchObject({ code: 'TOPOLOGY_READ', message: expect.stringMatching(/no such file or directory/) });
  });

  it('a QoS file whose topology: is missing points at its topology: line', () => {
    const q = join(dir, 'q.qos.yaml');
    writeFileSync(q, ['disks:', '  vda: { size: 1G }', 'topology: gone.yaml', 'jobs:', '  j: { disk: vda, number_ios: 1 }', ''].join('\n'));
    expectUserError(vfab(['qos', 'run', q]), new RegExp(`q\\.qos\\.yaml:3:11: topology "gone\\.yaml": cannot read .*gone\\.yaml: no such file or directory`));
  });
});
