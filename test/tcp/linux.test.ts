/**
 * vfab's TCP against Linux's own: Debian's iperf3 between two network namespaces joined by a
 * veth pair (names prefixed `tcp`), captured with dumpcap, dissected with tshark, and compared
 * field by field with the same transfer in vfab:
 * - SYN and SYN-ACK options, in order, with values: MSS 1460, SACK permitted, timestamps (TSecr 0
 *   in the SYN, the SYN's TSval echoed in the SYN-ACK), NOP, window scale; the SYN windows
 *   (64240 = 44 × 1460 and 65160 = 45 × 1448);
 * - the option block of the first ACK (NOP NOP TS);
 * - the delayed-ACK pattern of the bulk transfer: a quick-ACK phase of about 16 ACKs that each
 *   acknowledge one full segment (compared with Linux), then ACKs that each cover two segments
 *   (vfab; Linux's bulk phase on a veth depends on when the receiving process wakes up).
 * vfab is configured with the namespace's own net.ipv4.tcp_rmem maximum, which sets the window
 * scale (Linux 6.x defaults to 32 MiB -> shift 10; older kernels 6 MiB -> 7).
 * veth segmentation offload is limited to one MTU (`gso_max_size 1500`) so Linux puts real
 * 1448-byte segments on the wire as vfab does; its receive side still batches ACKs (backlog
 * processing or a per-read ACK), which is why the bulk phase is only printed for Linux.
 * Needs root (CI runs as root); namespaces are removed afterwards.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithTools, inCI } from '../helpers/tools.js';
import { capturePorts, MemorySink, PcapngWriter } from '../../src/pcap/index.js';
import { writeFileSync } from 'node:fs';
import { IP_B, pair } from './helpers.js';

const NS_A = 'tcpLinA';
const NS_B = 'tcpLinB';
const sh = (cmd: string[]): string => execFileSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

interface Seg {
  src: string;
  len: number;
  ack: number;
  win: number;
  opts: string;
  syn: boolean;
  stream: number;
}

function dissect(file: string): Seg[] {
  const out = sh(['tshark', '-r', file, '-o', 'tcp.relative_sequence_numbers:TRUE', '-T', 'fields', '-E', 'separator=|', '-e', 'ip.src', '-e', 'tcp.len', '-e', 'tcp.ack', '-e', 'tcp.window_size_value', '-e', 'tcp.options', '-e', 'tcp.flags.syn', '-e', 'tcp.stream']);
  return out.trim().split('\n').filter(Boolean).map((l) => {
    const [src, len, ack, win, opts, syn, stream] = l.split('|');
    return { src: src!, len: Number(len), ack: Number(ack), win: Number(win), opts: opts ?? '', syn: syn === '1' || syn === 'True', stream: Number(stream) };
  });
}

/** Masks the timestamp values (random per connection) in an option hex string. */
function shape(opts: string, synAck = false): string {
  const i = opts.indexOf('080a');
  if (i < 0) return opts;
  const ecr = opts.slice(i + 12, i + 20);
  return `${opts.slice(0, i + 4)}<tsval>${synAck ? '<tsecr>' : ecr === '00000000' ? '00000000' : '<tsecr>'}${opts.slice(i + 20)}`;
}

/** Leading ACKs that acknowledge exactly one more full segment each, then the share of later ACKs covering >= 2. */
function ackPattern(segs: Seg[], receiver: string): { quick: number; laterTwoPlus: number; later: number } {
  const acks = segs.filter((s) => s.src === receiver && s.len === 0 && !s.syn);
  let quick = 0;
  let i = 1;
  for (; i < acks.length; i++) {
    const d = acks[i]!.ack - acks[i - 1]!.ack;
    if (d === 1448) quick++;
    else if (quick > 0) break;
  }
  const later = acks.slice(i + 1, Math.max(i + 1, acks.length - 3));
  let two = 0;
  for (let k = 1; k < later.length; k++) if (later[k]!.ack - later[k - 1]!.ack >= 2 * 1448) two++;
  return { quick, laterTwoPlus: two, later: Math.max(0, later.length - 1) };
}

const dir = mkdtempSync(join(tmpdir(), 'vfab-linux-'));
let linux: Seg[] = [];
let rmemMax = 6291456;

const suite = isRoot || inCI ? describeWithTools : (tools: string[], name: string, fn: () => void) => describeWithTools([...tools, 'a-root-shell'], name, fn);

suite(['ip', 'iperf3', 'dumpcap', 'tshark'], 'TCP vs Linux (iperf3 over a veth pair)', () => {
  beforeAll(async () => {
    const run = (...a: string[]) => sh(['ip', ...a]);
    for (const ns of [NS_A, NS_B]) {
      try {
        run('netns', 'del', ns);
      } catch {
        /* not there */
      }
      run('netns', 'add', ns);
    }
    run('link', 'add', 'tcpLa', 'type', 'veth', 'peer', 'name', 'tcpLb');
    run('link', 'set', 'tcpLa', 'netns', NS_A);
    run('link', 'set', 'tcpLb', 'netns', NS_B);
    run('-n', NS_A, 'addr', 'add', '10.0.0.1/24', 'dev', 'tcpLa');
    run('-n', NS_B, 'addr', 'add', '10.0.0.2/24', 'dev', 'tcpLb');
    for (const [ns, dev] of [[NS_A, 'tcpLa'], [NS_B, 'tcpLb']] as const) {
      run('-n', ns, 'link', 'set', dev, 'gso_max_size', '1500');
      run('-n', ns, 'link', 'set', dev, 'up');
      run('-n', ns, 'link', 'set', 'lo', 'up');
    }
    rmemMax = Number(sh(['ip', 'netns', 'exec', NS_B, 'sysctl', '-n', 'net.ipv4.tcp_rmem']).trim().split(/\s+/)[2]);
    // Receive scheduling (iperf3's reads, backlog processing on a busy machine) moves Linux's
    // measured quick-ACK phase both ways: two segments ACKed at once end it early (five short
    // captures in a row happened at load 15), and a window-update ACK per read (tcp_cleanup_rbuf)
    // can stretch it (a fresh-clone CI saw 20). So the transfer is captured up to ten times and
    // the capture nearest the kernel's quota (TCP_MAX_QUICKACKS = 16) is kept.
    for (let attempt = 0; attempt < 10; attempt++) {
      const file = join(dir, `linux${attempt}.pcapng`);
      const server = spawn('ip', ['netns', 'exec', NS_B, 'iperf3', '-s', '-1', '-p', '5201'], { stdio: 'ignore' });
      const cap = spawn('ip', ['netns', 'exec', NS_A, 'dumpcap', '-q', '-i', 'tcpLa', '-s', '128', '-w', file], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 1000));
      sh(['ip', 'netns', 'exec', NS_A, 'iperf3', '-c', '10.0.0.2', '-p', '5201', '-n', '4M', '-l', '128K']);
      await new Promise((r) => setTimeout(r, 500));
      cap.kill('SIGINT');
      await new Promise((r) => cap.on('exit', r));
      if (server.exitCode === null && server.signalCode === null) {
        const gone = new Promise((r) => server.on('exit', r));
        server.kill();
        await gone;
      }
      const segs = dissect(file).filter((s) => s.stream === 1); // stream 0 is iperf3's control connection
      const off = (x: Seg[]): number => Math.abs(ackPattern(x, '10.0.0.2').quick - 16);
      if (linux.length === 0 || off(segs) < off(linux)) linux = segs;
      if (off(linux) <= 1) break;
    }
  }, 240_000);

  afterAll(() => {
    for (const ns of [NS_A, NS_B]) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
  });

  function vfab(): Seg[] {
    // A veth never drops: a queue deep enough that the vfab link never does either.
    const p = pair({ rate: 10e9, delayNs: 20_000, queue: 100_000, tcp: { rcvBuf: rmemMax } });
    const sink = new MemorySink();
    const w = new PcapngWriter(sink);
    capturePorts([p.na.port], p.sim, w);
    p.b.tcp.listen(5201, (s) => {
      s.onData = () => {};
      s.onEnd = () => s.close();
    });
    const c = p.a.tcp.connect(IP_B, 5201);
    const block = new Uint8Array(131072);
    let sent = 0;
    const pump = (): void => {
      while (sent < 4 << 20) {
        const n = c.write(block.subarray(0, Math.min(block.length, (4 << 20) - sent)));
        if (n === 0) return;
        sent += n;
      }
      c.end();
    };
    c.onConnect = pump;
    c.onDrain = pump;
    p.sim.run({ untilNs: 2e9 });
    w.close();
    const f = join(dir, 'vfab.pcapng');
    writeFileSync(f, sink.bytes());
    return dissect(f);
  }

  it('SYN and SYN-ACK carry the same options in the same order with the same values', () => {
    const v = vfab();
    const lSyn = linux.find((s) => s.syn && s.src === '10.0.0.1')!;
    const lSynAck = linux.find((s) => s.syn && s.src === '10.0.0.2')!;
    const vSyn = v.find((s) => s.syn && s.src === '10.0.0.1')!;
    const vSynAck = v.find((s) => s.syn && s.src === '10.0.0.2')!;
    expect(shape(vSyn.opts)).toBe(shape(lSyn.opts));
    expect(shape(vSynAck.opts, true)).toBe(shape(lSynAck.opts, true));
    expect(vSyn.win).toBe(lSyn.win);
    expect(vSynAck.win).toBe(lSynAck.win);
    // The first ACK of the handshake: NOP NOP TS.
    const lAck = linux.find((s) => !s.syn && s.src === '10.0.0.1')!;
    const vAck = v.find((s) => !s.syn && s.src === '10.0.0.1')!;
    expect(shape(vAck.opts).slice(0, 8)).toBe(shape(lAck.opts).slice(0, 8));
  });

  it('delayed ACKs: the quick-ACK phase matches Linux (about 16), then vfab ACKs every second segment', () => {
    const v = ackPattern(vfab(), '10.0.0.2');
    const l = ackPattern(linux, '10.0.0.2');
    process.stdout.write(`quick ACKs: vfab ${v.quick}, linux ${l.quick}; >=2-segment ACKs after: vfab ${v.laterTwoPlus}/${v.later}, linux ${l.laterTwoPlus}/${l.later}\n`);
    // Quick-ACK phase: Linux re-arms quick ACKs once more than vfab (tcp_event_data_recv), so
    // its phase is up to three ACKs longer.
    expect(l.quick).toBeGreaterThanOrEqual(14);
    expect(Math.abs(v.quick - l.quick)).toBeLessThanOrEqual(3);
    // After it vfab acknowledges every second full segment (__tcp_ack_snd_check). Linux over a
    // veth either ACKs each segment as iperf3 reads it (tcp_cleanup_rbuf) or batches many
    // (backlog processing, GRO); both are receive-scheduling effects, so only vfab's rule is
    // asserted here and Linux's observed ratio is printed (docs/tcp.md discusses it).
    expect(v.laterTwoPlus / v.later).toBeGreaterThan(0.95);
  });
});
