/**
 * The independent NBD decoder (written from proto.md, sharing no code with src/nbd) and the tshark
 * plumbing that turns a capture into per-stream byte sequences: used by the qemu-nbd capture
 * comparison (capture.test.ts) and by the fabric examples' capture checks.
 */
import { execFileSync } from 'node:child_process';
import { expect } from 'vitest';

// --- the independent decoder ---------------------------------------------------------------

export interface Msg {
  /** Stream offset of the first byte. */
  at: number;
  /** Normalised description compared across sessions. */
  desc: Record<string, string | number>;
  magic?: number;
  cookie?: bigint;
}

function be(b: Buffer, at: number, n: 2 | 4 | 8): bigint {
  let v = 0n;
  for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(b[at + i]!);
  return v;
}

/** Client -> server bytes: 4 flag bytes, then options ('IHAVEOPT') and requests (0x25609513). */
export function decodeClient(b: Buffer): Msg[] {
  const out: Msg[] = [{ at: 0, desc: { kind: 'client-flags', flags: Number(be(b, 0, 4)) } }];
  let p = 4;
  while (p < b.length) {
    if (b.readUInt32BE(p) === 0x25609513) {
      const type = b.readUInt16BE(p + 6);
      const length = b.readUInt32BE(p + 24);
      const cookie = be(b, p + 8, 8);
      out.push({ at: p, magic: 0x25609513, cookie, desc: { kind: 'request', flags: b.readUInt16BE(p + 4), type, offset: Number(be(b, p + 16, 8)), length } });
      p += 28 + (type === 1 ? length : 0);
    } else {
      expect(b.subarray(p, p + 8).toString('latin1')).toBe('IHAVEOPT');
      const len = b.readUInt32BE(p + 12);
      out.push({ at: p, desc: { kind: 'option', option: b.readUInt32BE(p + 8), data: b.subarray(p + 16, p + 16 + len).toString('hex') } });
      p += 16 + len;
    }
  }
  expect(p).toBe(b.length);
  return out;
}

/**
 * Server -> client bytes. Cookies may be reused once answered (QEMU does), so the k-th reply
 * with cookie X answers the k-th request with cookie X: `requests` lists, per cookie, the index
 * (in the client stream) and length of each read. A simple reply carries read data only when
 * structured replies were not negotiated.
 */
export function decodeServer(b: Buffer, requests: Map<bigint, { index: number; type: number; length: number }[]>): Msg[] {
  expect(b.subarray(0, 16).toString('latin1')).toBe('NBDMAGICIHAVEOPT');
  const out: Msg[] = [{ at: 0, desc: { kind: 'greeting', flags: b.readUInt16BE(16) } }];
  let p = 18;
  let options = true;
  let structured = false;
  const answer = (cookie: bigint, done: boolean): { index: number; type: number; length: number } | undefined => {
    const q = requests.get(cookie);
    const r = q?.[0];
    if (done) q?.shift();
    return r;
  };
  while (p < b.length) {
    if (options) {
      expect(be(b, p, 8)).toBe(0x3e889045565a9n);
      const option = b.readUInt32BE(p + 8);
      const type = b.readUInt32BE(p + 12);
      const len = b.readUInt32BE(p + 16);
      out.push({ at: p, desc: { kind: 'option-reply', option, type, data: b.subarray(p + 20, p + 20 + len).toString('hex') } });
      p += 20 + len;
      if (option === 8 && type === 1) structured = true;
      if (option === 7 && type === 1) options = false;
      continue;
    }
    const magic = b.readUInt32BE(p);
    const cookie = be(b, p + 8, 8);
    if (magic === 0x67446698) {
      const error = b.readUInt32BE(p + 4);
      const req = answer(cookie, true);
      out.push({ at: p, magic, cookie, desc: { kind: 'simple-reply', error, request: req?.index ?? -1 } });
      p += 16 + (error === 0 && !structured && req?.type === 0 ? req.length : 0);
    } else {
      expect(magic).toBe(0x668e33ef);
      const flags = b.readUInt16BE(p + 4);
      const type = b.readUInt16BE(p + 6);
      const len = b.readUInt32BE(p + 16);
      const pl = b.subarray(p + 20, p + 20 + len);
      const req = answer(cookie, (flags & 1) !== 0);
      const desc: Record<string, string | number> = { kind: 'chunk', flags, type, length: len, request: req?.index ?? -1 };
      if (type === 1 || type === 2) desc['offset'] = Number(be(pl, 0, 8));
      if (type === 2) desc['hole'] = pl.readUInt32BE(8);
      if (type === 5) desc['payload'] = pl.toString('hex');
      if (type & 0x8000) desc['error'] = pl.readUInt32BE(0);
      out.push({ at: p, magic, cookie, desc });
      p += 20 + len;
    }
  }
  expect(p).toBe(b.length);
  return out;
}

/** Both directions of one session; replies name the request they answer by its index. */
export function session(toServer: Buffer, toClient: Buffer): { client: Msg[]; server: Msg[]; normalised: unknown[] } {
  const client = decodeClient(toServer);
  const requests = new Map<bigint, { index: number; type: number; length: number }[]>();
  client.forEach((m, index) => {
    if (m.cookie === undefined) return;
    const q = requests.get(m.cookie) ?? [];
    q.push({ index, type: m.desc['type'] as number, length: m.desc['length'] as number });
    requests.set(m.cookie, q);
  });
  const server = decodeServer(toClient, requests);
  return { client, server, normalised: [...client.map((m) => ['C', m.desc]), ...server.map((m) => ['S', m.desc])] };
}

// --- capture plumbing ----------------------------------------------------------------------

export interface Segment {
  stream: number;
  src: number;
  seq: number;
  payload: Buffer;
}

export function segments(pcap: string): Segment[] {
  // No reassembly: with it, tshark moves a segment's bytes into the reassembled PDU's frame.
  const out = execFileSync('tshark', ['-r', pcap, '-o', 'tcp.relative_sequence_numbers:TRUE', '-o', 'tcp.desegment_tcp_streams:FALSE', '-Y', 'tcp.len > 0', '-T', 'fields', '-e', 'tcp.stream', '-e', 'tcp.srcport', '-e', 'tcp.seq', '-e', 'tcp.payload'], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
  return out
    .trim()
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [stream, src, seq, hex] = l.split('\t');
      return { stream: Number(stream), src: Number(src), seq: Number(seq), payload: Buffer.from(hex!.replace(/:/g, ''), 'hex') };
    });
}

/** The byte stream `src` sent on TCP stream `stream` (ordered by sequence number). */
export function bytesOf(segs: Segment[], stream: number, src: number): Buffer {
  const mine = segs.filter((s) => s.stream === stream && s.src === src).sort((a, b) => a.seq - b.seq);
  const parts: Buffer[] = [];
  let next = 1;
  for (const s of mine) {
    if (s.seq + s.payload.length <= next) continue; // a retransmission
    parts.push(s.payload.subarray(next - s.seq));
    next = s.seq + s.payload.length;
  }
  return Buffer.concat(parts);
}

/** What tshark 4.0's NBD dissector says, per frame: one entry per NBD message it recognised. */
export function tsharkNbd(pcap: string): { stream: number; src: number; seq: number; len: number; magic: number; type: number; handle: bigint; from?: number; length?: number; error?: number }[] {
  const f = ['tcp.stream', 'tcp.srcport', 'tcp.seq', 'tcp.len', 'nbd.magic', 'nbd.type', 'nbd.handle', 'nbd.from', 'nbd.len', 'nbd.error'];
  const out = execFileSync('tshark', ['-r', pcap, '-o', 'tcp.relative_sequence_numbers:TRUE', '-Y', 'nbd', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', ...f.flatMap((x) => ['-e', x])], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'ignore'] });
  const rows = [];
  for (const line of out.trim().split('\n').filter((l) => l)) {
    const c = line.split('\t').map((x) => x.split(','));
    const magics = c[4]!;
    for (let i = 0; i < magics.length; i++) {
      const num = (k: number): number | undefined => (c[k]?.[i] ? Number(c[k][i]) : undefined);
      const magic = Number(magics[i]);
      rows.push({
        stream: Number(c[0]![0]),
        src: Number(c[1]![0]),
        seq: Number(c[2]![0]),
        len: Number(c[3]![0]),
        magic,
        type: Number(c[5]![i]),
        handle: BigInt(c[6]![i]!),
        ...(magic === 0x25609513 ? { from: num(7)!, length: num(8)! } : { error: num(9)! }),
      });
    }
  }
  return rows;
}

