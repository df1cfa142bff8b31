/**
 * The backup-window examples (issue 13 item 7): `vfab test` passes with the throttle on the
 * backup's disk and fails without it; every capture they write dissects cleanly in tshark (no
 * malformed frame, no TCP analysis flag: the links have no configured loss and queues deep enough
 * not to drop), carries NBD on port 10809, and its NBD stream decodes with the independent decoder
 * of test/nbd/capture-decode.ts, every message tshark's own NBD dissector recognises agreeing with
 * it. Same seed: same pcapng bytes. The runs go through `vfab test` (asynchronous slices: the
 * unthrottled one simulates ~1 M events).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import Test from '../../src/commands/test.js';
import { NBD_PORT } from '../../src/nbd/constants.js';
import { cli } from '../helpers/cli.js';
import { describeWithTools } from '../helpers/tools.js';
import { bytesOf, segments, session, tsharkNbd } from '../nbd/capture-decode.js';

const ROOT = join(import.meta.dirname, '..', '..');
const THROTTLED = join(ROOT, 'topologies', 'backup-window.yaml');
const UNTHROTTLED = join(ROOT, 'topologies', 'backup-window-unthrottled.yaml');

const O = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'tcp.analyze_sequence_numbers:TRUE'];
const tshark = (file: string, ...args: string[]): string =>
  execFileSync('tshark', [...O, '-r', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 });

/** Every check a capture of the examples must pass; returns the number of NBD requests decoded. */
function checkCapture(pcap: string): number {
  expect(tshark(pcap, '-Y', '_ws.malformed || _ws.expert.severity >= error', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
  expect(tshark(pcap, '-Y', 'tcp && tcp.checksum.status != 1', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
  expect(tshark(pcap, '-Y', 'tcp.analysis.flags', '-T', 'fields', '-e', '_ws.expert.message').trim()).toBe('');
  // NBD on its IANA port, and tshark's dissector picks it up there
  expect(tshark(pcap, '-Y', `tcp.port == ${NBD_PORT}`, '-T', 'fields', '-e', 'frame.number').trim().split('\n').length).toBeGreaterThan(100);
  const segs = segments(pcap);
  const streams = [...new Set(segs.map((s) => s.stream))];
  let requests = 0;
  const sessions = new Map<number, { server: number; client: number; dec: ReturnType<typeof session> }>();
  for (const st of streams) {
    const ports = [...new Set(segs.filter((s) => s.stream === st).map((s) => s.src))];
    if (!ports.includes(NBD_PORT)) continue;
    const client = ports.find((p) => p !== NBD_PORT)!;
    const dec = session(bytesOf(segs, st, client), bytesOf(segs, st, NBD_PORT));
    sessions.set(st, { server: NBD_PORT, client, dec });
    // vfab's client as QEMU's: fixed newstyle + NO_ZEROES, STRUCTURED_REPLY (8), then GO (7)
    expect(dec.client[0]!.desc).toEqual({ kind: 'client-flags', flags: 3 });
    expect(dec.client.filter((m) => m.desc['kind'] === 'option').map((m) => m.desc['option'])).toEqual([8, 7]);
    const reqs = dec.client.filter((m) => m.desc['kind'] === 'request');
    expect(reqs.length).toBeGreaterThan(50);
    // the tenants' fio: 4 KiB reads (NBD_CMD_READ = 0), 4 KiB aligned
    for (const r of reqs) expect([r.desc['type'], r.desc['length'], (r.desc['offset'] as number) % 4096]).toEqual([0, 4096, 0]);
    // every read answered by one OFFSET_DATA chunk (type 1) flagged DONE, carrying 8 + 4096 bytes
    const replies = dec.server.filter((m) => m.desc['kind'] === 'chunk');
    expect(replies.length).toBeGreaterThanOrEqual(reqs.length - 16);
    for (const c of replies) expect([c.desc['type'], c.desc['flags'], c.desc['length']]).toEqual([1, 1, 8 + 4096]);
    expect(replies.every((c) => (c.desc['request'] as number) >= 0)).toBe(true);
    requests += reqs.length;
  }
  expect(sessions.size).toBeGreaterThanOrEqual(1);
  // tshark 4.0 recognises the requests (not the structured replies); each must be where the
  // independent decoder found a request with that handle, with the same offset and length
  const seen = tsharkNbd(pcap).filter((t) => sessions.has(t.stream));
  expect(seen.length).toBeGreaterThan(50);
  for (const t of seen) {
    const s = sessions.get(t.stream)!;
    const msgs = t.src === s.client ? s.dec.client : s.dec.server;
    const end = t.seq - 1 + t.len;
    const m = msgs.filter((x) => x.at < end && x.magic === t.magic && x.cookie === t.handle).pop();
    expect(m, `tshark's ${t.magic.toString(16)} handle ${t.handle} in stream ${t.stream}`).toBeDefined();
    if (t.magic === 0x25609513) {
      expect({ type: t.type, from: t.from, len: t.length }).toEqual({ type: ((m!.desc['flags'] as number) << 16) | (m!.desc['type'] as number), from: m!.desc['offset'], len: m!.desc['length'] });
    } else expect(t.error).toBe(m!.desc['error']);
  }
  return requests;
}

describeWithTools(['tshark'], 'backup-window examples', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nbd-exports-bw-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('with the throttle on the backup: vfab test passes; the capture is clean NBD; same seed, same bytes', async () => {
    const a = join(dir, 'a.pcapng');
    const r = await cli(Test, [THROTTLED, '--pcapng', a, '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as { passed: boolean; expectations: { pass: boolean }[]; summary: { nbd: { disks: Record<string, { requests: number; failed_ios: number }> } } };
    expect(out.passed).toBe(true);
    expect(out.expectations.map((e) => e.pass)).toEqual([true, true, true, true]);
    // all three disks are network disks, no I/O failed
    expect(Object.keys(out.summary.nbd.disks).sort()).toEqual(['backup.vda', 'tenant1.vda', 'tenant2.vda']);
    for (const d of Object.values(out.summary.nbd.disks)) expect(d.failed_ios).toBe(0);
    checkCapture(a);
    const b = join(dir, 'b.pcapng');
    const r2 = await cli(Test, [THROTTLED, '--pcapng', b, '--json']);
    expect(r2.out).toBe(r.out.split(a).join(b));
    expect(readFileSync(b).equals(readFileSync(a))).toBe(true);
  }, 180_000);

  it('without it: vfab test fails (exit 1) on the tenants\' p99 disk and RPC latency; the capture is clean NBD', async () => {
    const pcap = join(dir, 'u.pcapng');
    const r = await cli(Test, [UNTHROTTLED, '--pcapng', pcap, '--json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.out) as { passed: boolean; expectations: { pass: boolean; expectation?: string }[] };
    expect(out.passed).toBe(false);
    // the three tenant expectations fail, the backup's bandwidth floor still holds
    expect(out.expectations.map((e) => e.pass)).toEqual([false, false, false, true]);
    checkCapture(pcap);
  }, 180_000);
});
