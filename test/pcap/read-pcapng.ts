/**
 * A strict little pcapng/pcap reader for tests: checks every block's framing (lengths equal, multiple
 * of 4, options well formed) and returns what it found. Independent of the writers' code.
 */
export interface NgInterface {
  linkType: number;
  snaplen: number;
  options: Map<number, Uint8Array[]>;
}
export interface NgPacket {
  ifId: number;
  timeNs: bigint;
  capLen: number;
  origLen: number;
  data: Uint8Array;
  flags: number | undefined;
}
export interface NgFile {
  userAppl: string | undefined;
  sectionLength: bigint;
  interfaces: NgInterface[];
  packets: NgPacket[];
  blockTypes: number[];
}

function options(b: Uint8Array, v: DataView, start: number, end: number): Map<number, Uint8Array[]> {
  const m = new Map<number, Uint8Array[]>();
  let p = start;
  while (p < end) {
    const code = v.getUint16(p, true);
    const len = v.getUint16(p + 2, true);
    if (code === 0) {
      if (len !== 0 || p + 4 !== end) throw new Error(`opt_endofopt at ${p} is not last or has length ${len}`);
      return m;
    }
    const padded = (len + 3) & ~3;
    if (p + 4 + padded > end) throw new Error(`option ${code} at ${p} overruns its block`);
    const list = m.get(code) ?? [];
    list.push(b.slice(p + 4, p + 4 + len));
    m.set(code, list);
    p += 4 + padded;
  }
  if (p !== end) throw new Error('options do not end at block end');
  return m;
}

export function readPcapng(b: Uint8Array): NgFile {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: NgFile = { userAppl: undefined, sectionLength: 0n, interfaces: [], packets: [], blockTypes: [] };
  let p = 0;
  while (p < b.length) {
    if (p + 12 > b.length) throw new Error(`trailing ${b.length - p} bytes at ${p}`);
    const type = v.getUint32(p, true);
    const len = v.getUint32(p + 4, true);
    if (len % 4 !== 0 || len < 12 || p + len > b.length) throw new Error(`bad block length ${len} at ${p}`);
    if (v.getUint32(p + len - 4, true) !== len) throw new Error(`trailing length mismatch at ${p}`);
    out.blockTypes.push(type);
    const end = p + len - 4;
    if (type === 0x0a0d0d0a) {
      if (v.getUint32(p + 8, true) !== 0x1a2b3c4d) throw new Error('bad byte-order magic');
      if (v.getUint16(p + 12, true) !== 1 || v.getUint16(p + 14, true) !== 0) throw new Error('not version 1.0');
      out.sectionLength = v.getBigInt64(p + 16, true);
      const o = options(b, v, p + 24, end);
      const u = o.get(4)?.[0];
      out.userAppl = u ? new TextDecoder().decode(u) : undefined;
    } else if (type === 1) {
      out.interfaces.push({ linkType: v.getUint16(p + 8, true), snaplen: v.getUint32(p + 12, true), options: options(b, v, p + 16, end) });
    } else if (type === 6) {
      const ifId = v.getUint32(p + 8, true);
      if (ifId >= out.interfaces.length) throw new Error(`EPB at ${p} names interface ${ifId} before its IDB`);
      const capLen = v.getUint32(p + 20, true);
      const dataEnd = p + 28 + ((capLen + 3) & ~3);
      if (dataEnd > end) throw new Error(`EPB data overruns block at ${p}`);
      for (let i = p + 28 + capLen; i < p + 28 + ((capLen + 3) & ~3); i++) if (b[i] !== 0) throw new Error(`non-zero padding at ${i}`);
      const o = options(b, v, dataEnd, end);
      const f = o.get(2)?.[0];
      out.packets.push({
        ifId,
        timeNs: (BigInt(v.getUint32(p + 12, true)) << 32n) | BigInt(v.getUint32(p + 16, true)),
        capLen,
        origLen: v.getUint32(p + 24, true),
        data: b.slice(p + 28, p + 28 + capLen),
        flags: f ? new DataView(f.buffer).getUint32(0, true) : undefined,
      });
    } else throw new Error(`unexpected block type 0x${type.toString(16)} at ${p}`);
    p += len;
  }
  return out;
}

export interface PcapRecord {
  sec: number;
  nsec: number;
  capLen: number;
  origLen: number;
  data: Uint8Array;
}

export function readPcap(b: Uint8Array): { snaplen: number; linkType: number; records: PcapRecord[] } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(0, true) !== 0xa1b23c4d) throw new Error('not a little-endian nanosecond pcap');
  const records: PcapRecord[] = [];
  let p = 24;
  while (p < b.length) {
    if (p + 16 > b.length) throw new Error(`truncated record header at ${p}`);
    const capLen = v.getUint32(p + 8, true);
    if (p + 16 + capLen > b.length) throw new Error(`truncated record at ${p}`);
    const nsec = v.getUint32(p + 4, true);
    if (nsec >= 1e9) throw new Error(`nanoseconds ${nsec} out of range`);
    records.push({ sec: v.getUint32(p, true), nsec, capLen, origLen: v.getUint32(p + 12, true), data: b.slice(p + 16, p + 16 + capLen) });
    p += 16 + capLen;
  }
  return { snaplen: v.getUint32(16, true), linkType: v.getUint32(20, true), records };
}
