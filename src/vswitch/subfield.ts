/**
 * Subfields: `reg0[0..15]`, `NXM_NX_REG0[]`, `NXM_OF_VLAN_TCI[0..11]`, `reg1[5]`
 * (`mf_parse_subfield`, lib/nx-match.c / lib/meta-flow.c), and how their bits sit in vfab's key
 * words. Bit 0 is the field's least significant bit, as in OVS.
 *
 * Used by matches (`reg0[0..3]=5`), `load`, `move`, `output:reg0[0..15]` and `learn`.
 */
import { FIELD_BY_NAME, FIELD_BY_NXM, type FieldDef } from './fields.js';
import { tunMetadataIndex, unmappedTlvError, type TlvTable } from './tun-metadata.js';

export interface Subfield {
  fd: FieldDef;
  /** Offset of the first bit, and how many bits. */
  ofs: number;
  nBits: number;
  /** The text as written (for dump-flows: `NXM_NX_REG0[0..15]`). */
  text: string;
  /** Per bit (least significant first): key word and bit, precomputed for the run-time copies. */
  words?: Int32Array;
  bits?: Int32Array;
}

function positions(sf: Subfield): { words: Int32Array; bits: Int32Array } {
  if (!sf.words || !sf.bits) {
    sf.words = new Int32Array(sf.nBits);
    sf.bits = new Int32Array(sf.nBits);
    for (let i = 0; i < sf.nBits; i++) {
      const [w, b] = bitPos(sf.fd, sf.ofs + i);
      sf.words[i] = w;
      sf.bits[i] = b;
    }
  }
  return { words: sf.words, bits: sf.bits };
}

/**
 * Copies subfield `src` of key words `from` into subfield `dst` (same width) of `value`, and sets
 * those bits in `mask` when given. Number ops only: this runs for every `move` and `learn`.
 */
export function copySubfield(src: Subfield, from: Int32Array, dst: Subfield, value: Int32Array, mask?: Int32Array): void {
  const s = positions(src);
  const d = positions(dst);
  for (let i = 0; i < dst.nBits; i++) {
    const sw = s.words[i]!;
    const bit = sw < 0 ? 0 : (from[sw]! >>> s.bits[i]!) & 1;
    const dw = d.words[i]!;
    if (dw < 0) continue; // a bit the field does not store (zeroLowBits)
    const m = 1 << d.bits[i]!;
    value[dw] = bit ? value[dw]! | m : value[dw]! & ~m;
    if (mask) mask[dw] = mask[dw]! | m;
  }
}

/** Width of a field in bits, as the subfield syntax counts it. */
export function fieldBits(fd: FieldDef): number {
  switch (fd.kind) {
    case 'mac':
      return 48;
    case 'ipv6':
      return 128;
    case 'ipv4':
      return 32;
    case 'port':
      return 16;
    case 'wide':
      return 32 * fd.nwords;
    default:
      // OXM_OF_VLAN_VID is 12 bits as a subfield (MFF_VLAN_VID, lib/meta-flow.c), though vfab
      // keeps its 0x1000 "present" bit beside them: move/load widths count 12, as OVS's do.
      return fd.name === 'vlan_vid' ? 12 : fd.bits;
  }
}

/**
 * The key word and bit of bit `i` (0 = least significant) of field `fd`; word -1 for a bit the
 * field does not store (`zeroLowBits`: reads 0, writes dropped).
 */
export function bitPos(fd: FieldDef, i: number): [number, number] {
  switch (fd.kind) {
    case 'mac':
      return i < 32 ? [fd.word + 1, i] : [fd.word, i - 32];
    case 'ipv6':
      return [fd.word + 3 - Math.floor(i / 32), i % 32];
    case 'wide':
      return [fd.word + fd.nwords - 1 - Math.floor(i / 32), i % 32];
    case 'int':
      return fd.zeroLowBits !== undefined && i < fd.zeroLowBits ? [-1, 0] : [fd.word, fd.shift + i];
    default:
      return [fd.word, i];
  }
}

/**
 * Parses `NAME`, `NAME[]`, `NAME[N]` or `NAME[A..B]`; returns an error message (string) when the
 * text is not a valid subfield.
 *
 * As mf_parse_subfield__ (lib/nx-match.c, OVS 3.1): the name runs up to the first `[` or `-`,
 * a name without brackets is the whole field (`load:5->reg0`, `move:reg0->reg1`), and anything
 * after the closing bracket is "unexpected input following field syntax" (mf_parse_subfield).
 */
export function parseSubfield(text: string, tlv?: TlvTable): Subfield | string {
  let nameLen = 0;
  while (nameLen < text.length && text[nameLen] !== '[' && text[nameLen] !== '-') nameLen++;
  const name = text.slice(0, nameLen);
  if (!/^[A-Za-z0-9_]+$/.test(name)) return `${text}: unknown field \`${name}'`;
  // tun_metadataN exists only when the bridge's TLV map maps it (tun-metadata.ts).
  if (tunMetadataIndex(name) !== undefined && !tlv?.field(name)) return unmappedTlvError(name);
  const fd = tlv?.field(name) ?? FIELD_BY_NXM.get(name) ?? FIELD_BY_NXM.get(name.replace(/_W$/, '')) ?? FIELD_BY_NAME.get(name);
  if (!fd) return `${name}: unknown field`;
  const width = fieldBits(fd);
  let ofs = 0;
  let end = width - 1;
  let rest = text.slice(nameLen);
  if (rest.startsWith('[')) {
    const m = /^\[(?:\s*\+?(\d+)(?:\.\.\s*\+?(\d+))?)?\]/.exec(rest);
    if (!m) return `${text}: syntax error expecting [] or [<bit>] or [<start>..<end>]`;
    if (m[1] !== undefined) {
      ofs = Number(m[1]);
      end = m[2] !== undefined ? Number(m[2]) : ofs;
    }
    rest = rest.slice(m[0].length);
  }
  if (rest !== '') return `${text}: unexpected input following field syntax`;
  if (ofs > end) return `${text}: starting bit ${ofs} is after ending bit ${end}`;
  if (ofs >= width) return `${text}: starting bit ${ofs} is not valid because field is only ${width} bits wide`;
  if (end >= width) return `${text}: ending bit ${end} is not valid because field is only ${width} bits wide`;
  return { fd, ofs, nBits: end - ofs + 1, text };
}

/** Where the bits of a subfield of up to 32 bits go: its words (ascending), their masks, and per bit its word's index and bit. */
interface Layout {
  words: number[];
  masks: number[];
  at: Int32Array;
  bit: Int32Array;
}
const layouts = new WeakMap<Subfield, Layout>();

function layoutOf(sf: Subfield): Layout {
  let l = layouts.get(sf);
  if (l === undefined) {
    const all = subfieldWrites(sf, -1n, true);
    const at = new Int32Array(sf.nBits);
    const bit = new Int32Array(sf.nBits);
    for (let i = 0; i < sf.nBits; i++) {
      const [w, b] = bitPos(sf.fd, sf.ofs + i);
      at[i] = all.words.indexOf(w);
      bit[i] = b;
    }
    l = { words: all.words, masks: all.masks, at, bit };
    layouts.set(sf, l);
  }
  return l;
}

/** Word masks and values that set subfield `sf` to `v` (lowest `nBits` bits of v). */
export function subfieldWrites(sf: Subfield, v: bigint, slow = false): { words: number[]; values: number[]; masks: number[] } {
  if (sf.nBits <= 32 && !slow) {
    // Number ops (this runs per learned flow and per immediate learn match): same result as below.
    const l = layoutOf(sf);
    const n = Number(BigInt.asUintN(32, v));
    const values = new Array<number>(l.words.length).fill(0);
    for (let i = 0; i < sf.nBits; i++) if ((n >>> i) & 1 && l.at[i]! >= 0) values[l.at[i]!] = values[l.at[i]!]! | (1 << l.bit[i]!);
    return { words: l.words.slice(), values, masks: l.masks.slice() };
  }
  const byWord = new Map<number, [number, number]>();
  for (let i = 0; i < sf.nBits; i++) {
    const [w, b] = bitPos(sf.fd, sf.ofs + i);
    if (w < 0) continue;
    const cur = byWord.get(w) ?? [0, 0];
    cur[1] |= 1 << b;
    if ((v >> BigInt(i)) & 1n) cur[0] |= 1 << b;
    byWord.set(w, cur);
  }
  const words = [...byWord.keys()].sort((a, b) => a - b);
  return { words, values: words.map((w) => byWord.get(w)![0] | 0), masks: words.map((w) => byWord.get(w)![1] | 0) };
}

/** Reads subfield `sf` from key words `w` as a bigint. */
export function readSubfield(sf: Subfield, w: Int32Array): bigint {
  if (sf.nBits <= 32) {
    // Number ops, one BigInt at the end (runs per learned flow, output:reg, ct zone).
    const p = positions(sf);
    let n = 0;
    for (let i = sf.nBits - 1; i >= 0; i--) n = n * 2 + (p.words[i]! < 0 ? 0 : (w[p.words[i]!]! >>> p.bits[i]!) & 1);
    return BigInt(n);
  }
  let v = 0n;
  for (let i = sf.nBits - 1; i >= 0; i--) {
    const [word, b] = bitPos(sf.fd, sf.ofs + i);
    v = (v << 1n) | BigInt(word < 0 ? 0 : (w[word]! >>> b) & 1);
  }
  return v;
}

/** Writes `v` into subfield `sf` of key words `w`. */
export function writeSubfield(sf: Subfield, v: bigint, w: Int32Array): void {
  for (let i = 0; i < sf.nBits; i++) {
    const [word, b] = bitPos(sf.fd, sf.ofs + i);
    if (word < 0) continue;
    if ((v >> BigInt(i)) & 1n) w[word] = w[word]! | (1 << b);
    else w[word] = w[word]! & ~(1 << b);
  }
}

/** `NXM_NX_REG0[0..15]` / `NXM_NX_REG0[]` as OVS prints a subfield (NXM name when it has one). */
export function formatSubfield(sf: Subfield): string {
  const width = fieldBits(sf.fd);
  const name = sf.text.slice(0, sf.text.indexOf('['));
  if (sf.ofs === 0 && sf.nBits === width) return `${name}[]`;
  if (sf.nBits === 1) return `${name}[${sf.ofs}]`;
  return `${name}[${sf.ofs}..${sf.ofs + sf.nBits - 1}]`;
}
