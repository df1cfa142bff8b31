import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeWithTools } from '../helpers/tools.js';
import { capturePorts, MemorySink, PcapngWriter } from '../../src/pcap/index.js';
import { IP_B, pair } from './helpers.js';

/** Runs a bulk transfer (plus a connect to a closed port) and returns the sender-side capture file. */
function capture(o: { loss?: number; seed?: number; bytes: number; rate?: number; queue?: number }): string {
  const p = pair({ rate: o.rate ?? 100e6, delayNs: 2_000_000, loss: o.loss ?? 0, seed: o.seed ?? 1, ...(o.queue ? { queue: o.queue } : {}) });
  const sink = new MemorySink();
  const w = new PcapngWriter(sink);
  capturePorts([p.na.port], p.sim, w);
  p.b.tcp.listen(5001, (s) => {
    s.onData = () => {};
    s.onEnd = () => s.close();
  });
  const c = p.a.tcp.connect(IP_B, 5001);
  const chunk = new Uint8Array(65536).fill(0x5a);
  let sent = 0;
  const pump = (): void => {
    while (sent < o.bytes) {
      const n = c.write(chunk.subarray(0, Math.min(65536, o.bytes - sent)));
      if (n === 0) return;
      sent += n;
    }
    c.end();
  };
  c.onConnect = pump;
  c.onDrain = pump;
  p.sim.schedule(1_000_000, () => p.a.tcp.connect(IP_B, 7)); // closed port: SYN, RST|ACK
  p.sim.run({ untilNs: 20_000_000_000 });
  w.close();
  const dir = mkdtempSync(join(tmpdir(), 'vfab-tcp-'));
  const file = join(dir, 'tcp.pcapng');
  writeFileSync(file, sink.bytes());
  return file;
}

const O = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'tcp.analyze_sequence_numbers:TRUE'];
const tshark = (file: string, ...args: string[]): string =>
  execFileSync('tshark', [...O, '-r', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 });

function analysisCounts(file: string): Record<string, number> {
  const out = tshark(file, '-Y', 'tcp.analysis.flags', '-T', 'fields', '-e', '_ws.expert.message');
  const counts: Record<string, number> = {};
  for (const line of out.split('\n')) {
    for (const m of line.split(',')) {
      const k = m.trim();
      if (k) counts[k] = (counts[k] ?? 0) + 1;
    }
  }
  return counts;
}

describeWithTools(['tshark'], 'TCP seen by Wireshark', () => {
  it('a lossless transfer dissects cleanly: valid checksums, no malformed segment, no tcp.analysis flag', () => {
    const file = capture({ bytes: 2_000_000 });
    expect(tshark(file, '-Y', '_ws.malformed || _ws.expert.severity >= error', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
    expect(tshark(file, '-Y', 'tcp && tcp.checksum.status != 1', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
    // The only expert notes a clean Linux transfer shows: the connection-refused RST (a note, not analysis).
    expect(analysisCounts(file)).toEqual({});
    const conv = tshark(file, '-q', '-z', 'conv,tcp');
    expect(conv).toMatch(/10\.0\.0\.1:\d+\s+<->\s+10\.0\.0\.2:5001/);
    const flags = tshark(file, '-Y', 'tcp.port == 7', '-T', 'fields', '-e', 'tcp.flags.str').trim().split('\n');
    expect(flags.map((f) => f.replace(/\u00b7/g, '.'))).toEqual(['..........S.', '.......A.R..']);
  });

  it('under loss, analysis flags are the ones a real stack causes (retransmissions, duplicate ACKs), never malformed', () => {
    const file = capture({ bytes: 2_000_000, loss: 0.01, seed: 3 });
    expect(tshark(file, '-Y', '_ws.malformed || _ws.expert.severity >= error', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
    const counts = analysisCounts(file);
    const allowed = new Set([
      'This frame is a (suspected) retransmission',
      'This frame is a (suspected) fast retransmission',
      'This frame is a (suspected) spurious retransmission',
      // Wireshark's heuristic for a retransmission sent less than an RTT after the previous segment.
      'This frame is a (suspected) out-of-order segment',
      'Duplicate ACK (#1)',
      'ACKed segment that wasn\'t captured (common at capture start)',
      'Previous segment(s) not captured (common at capture start)',
    ]);
    const names = Object.keys(counts).map((k) => k.replace(/Duplicate ACK \(#\d+\)/, 'Duplicate ACK (#1)'));
    for (const n of names) expect(allowed, n).toContain(n);
    expect(Object.keys(counts).some((k) => k.includes('retransmission'))).toBe(true);
    expect(Object.keys(counts).some((k) => k.startsWith('Duplicate ACK'))).toBe(true);
  });
});
