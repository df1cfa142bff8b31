// Seeded generator of hostile qcow2 images (issue 10 #21). Given the bytes of a valid base image
// and a seed, `mutate` returns a mutant: 1-3 mutations of the header, L1/L2 entries, refcount
// table and blocks, snapshot table, file length (huge sparse tails, truncation) and backing file
// (a directory, itself, a loop, a missing file). Same seed, same mutant.
import { prng } from '../crash/ops.mjs';

const HEADER_FIELDS = [
  // [name, offset, bytes]
  ['version', 4, 4],
  ['backing_file_offset', 8, 8],
  ['backing_file_size', 16, 4],
  ['cluster_bits', 20, 4],
  ['size', 24, 8],
  ['l1_size', 36, 4],
  ['l1_table_offset', 40, 8],
  ['refcount_table_offset', 48, 8],
  ['refcount_table_clusters', 56, 4],
  ['nb_snapshots', 60, 4],
  ['snapshots_offset', 64, 8],
  ['incompatible_features', 72, 8],
  ['compatible_features', 80, 8],
  ['autoclear_features', 88, 8],
  ['refcount_order', 96, 4],
  ['header_length', 100, 4],
  ['compression_type', 104, 1],
];

const get = (b, off, n) => (n === 8 ? b.readBigUInt64BE(off) : n === 4 ? BigInt(b.readUInt32BE(off)) : BigInt(b[off]));
const put = (b, off, n, v) => {
  const m = n === 8 ? (1n << 64n) - 1n : n === 4 ? 0xffffffffn : 0xffn;
  v &= m;
  if (n === 8) b.writeBigUInt64BE(v, off);
  else if (n === 4) b.writeUInt32BE(Number(v), off);
  else b[off] = Number(v);
};

/** Values that break parsers: edges of every width, 2^53 and beyond, file-relative offsets. */
function interesting(r, cur, fileSize, cs) {
  const int = (n) => Math.floor(r() * n);
  const vals = [
    0n, 1n, 7n, 8n, 9n, 21n, 22n, 63n, 64n, 65n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
    1n << 53n, (1n << 53n) + BigInt(cs), 1n << 55n, 1n << 56n, 1n << 62n, 1n << 63n, (1n << 64n) - 1n,
    BigInt(fileSize), BigInt(fileSize + cs), BigInt(fileSize - cs), BigInt(int(fileSize)), BigInt(int(fileSize / cs) * cs),
    cur + 1n, cur - 1n, cur * 2n, cur ^ (1n << BigInt(int(64))), cur | 0x1ffn, cur | (1n << 62n),
  ];
  return vals[int(vals.length)];
}

function u64(b, off) {
  return Number(b.readBigUInt64BE(off) & 0x00fffffffffffe00n);
}

/** The file offsets of every L1 entry, L2 entry, refcount table entry and refcount block. */
function layout(b) {
  const cs = 2 ** b.readUInt32BE(20);
  const l1Size = b.readUInt32BE(36);
  const l1Off = Number(b.readBigUInt64BE(40));
  const rtOff = Number(b.readBigUInt64BE(48));
  const rtClusters = b.readUInt32BE(56);
  const l1 = [];
  const l2 = [];
  for (let i = 0; i < l1Size && l1Off + i * 8 + 8 <= b.length; i++) {
    l1.push(l1Off + i * 8);
    const t = u64(b, l1Off + i * 8);
    if (t !== 0 && t + cs <= b.length) for (let j = 0; j < cs / 8; j++) l2.push(t + j * 8);
  }
  const rt = [];
  const blocks = [];
  for (let i = 0; i < (rtClusters * cs) / 8 && rtOff + i * 8 + 8 <= b.length; i++) {
    rt.push(rtOff + i * 8);
    const o = u64(b, rtOff + i * 8);
    if (o !== 0 && o + cs <= b.length) blocks.push(o);
  }
  return { cs, l1, l2, rt, blocks, snapOff: Number(b.readBigUInt64BE(64)), nbSnap: b.readUInt32BE(60) };
}

/**
 * A mutant of `base` (a Buffer holding a valid qcow2 image). Returns
 * `{ name, bytes, size?, backing? }`: `size` extends the file sparsely, `backing` asks the caller
 * to point the image at a special backing file ('dir' | 'self' | 'loop' | 'missing').
 */
export function mutate(base, seed) {
  const r = prng(seed);
  const int = (n) => Math.floor(r() * n);
  const b = Buffer.from(base);
  const L = layout(b);
  const names = [];
  let size;
  let backing;
  const n = 1 + int(3);
  for (let k = 0; k < n; k++) {
    const kind = int(11);
    if (kind === 0 || kind === 1) {
      const [name, off, w] = HEADER_FIELDS[int(HEADER_FIELDS.length)];
      put(b, off, w, interesting(r, get(b, off, w), b.length, L.cs));
      names.push(`header.${name}`);
    } else if (kind === 2 && L.l1.length) {
      const off = L.l1[int(L.l1.length)];
      put(b, off, 8, interesting(r, b.readBigUInt64BE(off), b.length, L.cs));
      names.push('l1');
    } else if ((kind === 3 || kind === 4) && L.l2.length) {
      // Prefer used entries (most of an L2 table is zeros).
      let off = L.l2[int(L.l2.length)];
      for (let t = 0; t < 20 && b.readBigUInt64BE(off) === 0n; t++) off = L.l2[int(L.l2.length)];
      put(b, off, 8, interesting(r, b.readBigUInt64BE(off), b.length, L.cs));
      names.push('l2');
    } else if (kind === 5 && L.rt.length) {
      const off = L.rt[int(Math.min(L.rt.length, 4))];
      put(b, off, 8, interesting(r, b.readBigUInt64BE(off), b.length, L.cs));
      names.push('reftable');
    } else if (kind === 6 && L.blocks.length) {
      const off = L.blocks[int(L.blocks.length)];
      const how = int(3);
      if (how === 0) b.fill(0xff, off, off + L.cs);
      else if (how === 1) b.fill(0, off, off + L.cs);
      else for (let i = 0; i < 8; i++) b[off + int(L.cs)] = int(256);
      names.push(['refblock.ff', 'refblock.zero', 'refblock.bytes'][how]);
    } else if (kind === 7 && L.nbSnap > 0 && L.snapOff + 40 <= b.length) {
      const fields = [[0, 8], [8, 4], [12, 2], [14, 2], [36, 4]];
      const [fo, w] = fields[int(fields.length)];
      if (w === 2) b.writeUInt16BE(int(65536), L.snapOff + fo);
      else put(b, L.snapOff + fo, w, interesting(r, get(b, L.snapOff + fo, w), b.length, L.cs));
      names.push(`snapshot+${fo}`);
    } else if (kind === 8) {
      const how = int(3);
      if (how === 0) size = 2 ** 40; // 1 TiB sparse tail
      else if (how === 1) size = Math.max(0, b.length - 1 - int(b.length));
      else size = b.length + int(64) * L.cs;
      names.push(['tail.1TiB', 'truncate', 'grow'][how]);
    } else if (kind === 9) {
      backing = ['dir', 'self', 'loop', 'missing'][int(4)];
      names.push(`backing.${backing}`);
    } else {
      const at = int(Math.min(b.length, 4 * L.cs));
      for (let i = 0; i < 1 + int(8); i++) b[Math.min(b.length - 1, at + int(64))] = int(256);
      names.push('bytes');
    }
  }
  return { name: names.join('+'), bytes: b, size, backing };
}
