/**
 * Geneve TLV options as flow fields: `tun_metadata0` … `tun_metadata63` (ovs-fields(7)
 * "tun_metadata", OVS lib/tun-metadata.c).
 *
 * A bridge's TLV map (`ovs-ofctl add-tlv-map br0 "{class=0xffff,type=0x80,len=4}->tun_metadata0"`)
 * binds an option (class, type, data length) to a field index. Only mapped fields exist: a flow
 * that names an unmapped one is refused as OVS refuses it (NXFMFC_INVALID_TLV_FIELD). On decap
 * the Geneve options whose (class, type) is mapped fill their field and its "present" bit; an
 * unmapped critical option drops the packet, an unmapped non-critical one is ignored, a mapped
 * option whose length differs from the map drops the packet (tun_metadata_from_geneve__). On encap
 * the present fields become options in field-index order (tun_metadata_to_geneve__), the critical
 * bit of a type setting the header's C flag.
 *
 * Layout in the key words: two words of "present" bits (bit i%32 of word W_TUN_MD_PRESENT + i/32
 * for field i), then TUN_MD_WORDS words of option data. The map allocates each field's bytes
 * contiguously in map order (OVS allocates in 4-byte chunks from a 256-byte space). A field is a
 * `wide` FieldDef over its words (most significant first), so matching, set_field, load and move
 * reuse the generic word code; `tunMd` on the FieldDef makes a match or a write include the
 * present bit, as OVS's tun_metadata_set_match / tun_metadata_write do.
 *
 * Deliberate difference: vfab's option space is TUN_MD_SPACE (64) bytes, OVS's 256; a map that
 * needs more is refused as OVS refuses an overfull one (NXTTMFC_TABLE_FULL). Costs: nothing for
 * bridges without a map; the exact-match cache is bypassed for frames that carry mapped options.
 */
import { UserError } from '../errors.js';
import type { GeneveOption } from '../wire/geneve.js';
import { W_TUN_MD, W_TUN_MD_PRESENT, TUN_MD_WORDS, type FieldDef } from './fields.js';

export const TUN_MD_FIELDS = 64;
/** Bytes of option data a bridge's TLV map can allocate (OVS: TUN_METADATA_TOT_OPT_SIZE 256). */
export const TUN_MD_SPACE = TUN_MD_WORDS * 4;
/** Largest option data (Geneve: 5-bit length in 4-byte words; OVS TLV_MAX_OPT_SIZE 124). */
export const TLV_MAX_OPT_SIZE = 124;

export interface TlvEntry {
  cls: number;
  type: number;
  /** Data length in bytes (a multiple of 4, 4..124). */
  len: number;
  index: number;
  field: FieldDef;
}

/** One `{class=…,type=…,len=…}->tun_metadataN` mapping, as given. */
export interface TlvMapping {
  cls: number;
  type: number;
  len: number;
  index: number;
}

const ENTRY_RE = /^\{\s*class\s*=\s*(0x[0-9a-f]+|\d+)\s*,\s*type\s*=\s*(0x[0-9a-f]+|\d+)\s*,\s*len\s*=\s*(0x[0-9a-f]+|\d+)\s*\}\s*->\s*tun_metadata(\d+)$/i;

/**
 * Parses ovs-ofctl's `add-tlv-map` argument (lib/ofp-tlv.c parse_ofp_tlv_table_mod_str):
 * comma-separated `{class=C,type=T,len=L}->tun_metadataN`. `where` names the place for errors.
 */
export function parseTlvMap(text: string, where: string): TlvMapping[] {
  const out: TlvMapping[] = [];
  const items = text.match(/\{[^}]*\}\s*->\s*[A-Za-z_0-9]+/g) ?? [];
  const rest = text.replace(/\{[^}]*\}\s*->\s*[A-Za-z_0-9]+/g, '').replace(/[\s,]/g, '');
  if (rest !== '' || items.length === 0) throw new UserError('TLV_MAP_SYNTAX', `"${text}": expected {class=C,type=T,len=L}->tun_metadataN[,…]`, { where });
  for (const it of items) {
    const m = ENTRY_RE.exec(it.trim());
    if (!m) throw new UserError('TLV_MAP_SYNTAX', `"${it}": expected {class=C,type=T,len=L}->tun_metadataN`, { where });
    out.push({ cls: Number(m[1]), type: Number(m[2]), len: Number(m[3]), index: Number(m[4]) });
  }
  return out;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** A bridge's TLV table. Immutable once built (vfab has no del-tlv-map at run time). */
export class TlvTable {
  private readonly byIndex: (TlvEntry | undefined)[] = new Array<TlvEntry | undefined>(TUN_MD_FIELDS);
  private readonly byOpt = new Map<number, TlvEntry>();
  readonly entries: TlvEntry[] = [];
  /** Bytes allocated (OVS dump-tlv-map "allocated option space"). */
  readonly allocated: number;

  /** Checks as OVS's tun_metadata_table_mod does (lib/tun-metadata.c: NXTTMFC_*). */
  constructor(mappings: readonly TlvMapping[], where = 'tlv_map') {
    let word = 0;
    for (const m of mappings) {
      const name = `{class=${hex(m.cls)},type=${hex(m.type)},len=${m.len}}->tun_metadata${m.index}`;
      const bad = (code: string, msg: string): UserError => new UserError('TLV_MAP_INVALID', `${name}: ${msg} (OVS: ${code})`, { where });
      if (!Number.isInteger(m.cls) || m.cls < 0 || m.cls > 0xffff || !Number.isInteger(m.type) || m.type < 0 || m.type > 0xff) throw bad('NXTTMFC_BAD_ARGUMENT', 'class must be 16 bits and type 8 bits');
      if (!Number.isInteger(m.index) || m.index >= TUN_MD_FIELDS) throw bad('NXTTMFC_BAD_FIELD_IDX', `field index must be below ${TUN_MD_FIELDS}`);
      if (m.len <= 0 || m.len > TLV_MAX_OPT_SIZE || m.len % 4 !== 0) throw bad('NXTTMFC_BAD_OPT_LEN', `len must be a multiple of 4 in 4..${TLV_MAX_OPT_SIZE}`);
      if (this.byIndex[m.index]) throw bad('NXTTMFC_ALREADY_MAPPED', `tun_metadata${m.index} is already mapped`);
      const key = (m.cls << 8) | m.type;
      if (this.byOpt.has(key)) throw bad('NXTTMFC_DUP_ENTRY', `class ${hex(m.cls)} type ${hex(m.type)} is already mapped`);
      const nwords = m.len / 4;
      if (word + nwords > TUN_MD_WORDS) throw bad('NXTTMFC_TABLE_FULL', `the map needs more than vfab's ${TUN_MD_SPACE} bytes of option space (OVS has 256)`);
      const field: FieldDef = {
        name: `tun_metadata${m.index}`,
        aliases: [],
        kind: 'wide',
        word: W_TUN_MD + word,
        shift: 0,
        bits: 32 * nwords,
        bytes: m.len,
        extra: 0,
        maskable: true,
        prereq: 'none',
        settable: true,
        nwords,
        hex: true,
        nxm: [`NXM_NX_TUN_METADATA${m.index}`],
        tunMd: m.index,
      };
      word += nwords;
      const e: TlvEntry = { cls: m.cls, type: m.type, len: m.len, index: m.index, field };
      this.byIndex[m.index] = e;
      this.byOpt.set(key, e);
      this.entries.push(e);
    }
    this.allocated = word * 4;
  }

  static fromText(text: string, where: string): TlvTable {
    return new TlvTable(parseTlvMap(text, where), where);
  }

  /** The mapping of an option (class, type), if any. */
  option(cls: number, type: number): TlvEntry | undefined {
    return this.byOpt.get((cls << 8) | type);
  }

  entry(index: number): TlvEntry | undefined {
    return this.byIndex[index];
  }

  /** The field for a name (`tun_metadata3`, `NXM_NX_TUN_METADATA3`, with or without `_W`). */
  field(name: string): FieldDef | undefined {
    return this.byIndex[tunMetadataIndex(name) ?? -1]?.field;
  }

  /**
   * The Geneve options a packet leaving on a tunnel carries: its present fields in index order
   * (tun_metadata_to_geneve__). Null when none is present (no allocation on the common path).
   */
  toOptions(w: Int32Array): GeneveOption[] | null {
    if (w[W_TUN_MD_PRESENT] === 0 && w[W_TUN_MD_PRESENT + 1] === 0) return null;
    const out: GeneveOption[] = [];
    for (let i = 0; i < TUN_MD_FIELDS; i++) {
      if (((w[W_TUN_MD_PRESENT + (i >> 5)]! >>> (i & 31)) & 1) === 0) continue;
      const e = this.byIndex[i];
      if (!e) continue;
      const data = new Uint8Array(e.len);
      for (let k = 0; k < e.len / 4; k++) {
        const v = w[e.field.word + k]!;
        data[4 * k] = v >>> 24;
        data[4 * k + 1] = (v >>> 16) & 0xff;
        data[4 * k + 2] = (v >>> 8) & 0xff;
        data[4 * k + 3] = v & 0xff;
      }
      out.push({ cls: e.cls, type: e.type, data });
    }
    return out;
  }

  /**
   * Fills the key's tun_metadata words from received options (tun_metadata_from_geneve__).
   * Returns a drop reason, or null.
   */
  fromOptions(options: readonly GeneveOption[], w: Int32Array): string | null {
    for (const o of options) {
      const e = this.byOpt.get((o.cls << 8) | o.type);
      if (!e) {
        if (o.type & 0x80) return 'geneve-critical-option';
        continue;
      }
      if (o.data.length !== e.len) return 'geneve-option-length';
      for (let k = 0; k < e.len / 4; k++) w[e.field.word + k] = (o.data[4 * k]! << 24) | (o.data[4 * k + 1]! << 16) | (o.data[4 * k + 2]! << 8) | o.data[4 * k + 3]!;
      w[W_TUN_MD_PRESENT + (e.index >> 5)] = w[W_TUN_MD_PRESENT + (e.index >> 5)]! | (1 << (e.index & 31));
    }
    return null;
  }

  /** `ovs-ofctl dump-tlv-map` mapping rows. */
  dump(): string {
    const rows = [` max option space=256 max fields=${TUN_MD_FIELDS}`, ` allocated option space=${this.allocated}`, '', ' mapping table:', '  class  type  length  match field', ' ------  ----  ------  --------------'];
    for (const e of this.entries) rows.push(`${hex(e.cls).padStart(7)}${hex(e.type).padStart(6)}${String(e.len).padStart(8)}  tun_metadata${e.index}`);
    return rows.join('\n');
  }
}

/** The index in `tun_metadataN` / `NXM_NX_TUN_METADATAN[_W]`, or undefined. */
export function tunMetadataIndex(name: string): number | undefined {
  const m = /^(?:tun_metadata|NXM_NX_TUN_METADATA)(\d+)(?:_W)?$/i.exec(name);
  if (!m) return undefined;
  const i = Number(m[1]);
  return i < TUN_MD_FIELDS ? i : undefined;
}

/** The error for a flow naming a field the bridge's TLV map does not map (OVS refuses the flow_mod). */
export function unmappedTlvError(name: string): string {
  return `${name} is not mapped in the bridge's TLV map (OVS: NXFMFC_INVALID_TLV_FIELD); map it with tlv_map: "{class=…,type=…,len=…}->${name.toLowerCase().replace(/^nxm_nx_tun_metadata(\d+).*$/, 'tun_metadata$1')}"`;
}

/** `ds_put_hex` (lib/dynamic-string.c): 0x + bytes without leading zero bytes, "0" for zero. */
export function putHex(w: Int32Array, at: number, nwords: number): string {
  let s = '';
  for (let k = 0; k < nwords; k++) {
    const v = w[at + k]! >>> 0;
    s += s === '' ? (v === 0 ? '' : v.toString(16)) : v.toString(16).padStart(8, '0');
  }
  return s === '' ? '0' : `0x${s}`;
}

/** `tun_metadata_match_format`: `tun_metadataN=V[/M]` per matched field, `=NP` when matched absent. */
export function formatTunMetadata(value: Int32Array, mask: Int32Array, tlv: TlvTable | undefined): string[] {
  const out: string[] = [];
  if (!tlv || (mask[W_TUN_MD_PRESENT] === 0 && mask[W_TUN_MD_PRESENT + 1] === 0)) return out;
  for (let i = 0; i < TUN_MD_FIELDS; i++) {
    const pw = W_TUN_MD_PRESENT + (i >> 5);
    const bit = 1 << (i & 31);
    if ((mask[pw]! & bit) === 0) continue;
    const e = tlv.entry(i);
    if (!e) continue;
    if ((value[pw]! & bit) === 0) {
      out.push(`tun_metadata${i}=NP`);
      continue;
    }
    const f = e.field;
    let full = true;
    for (let k = 0; k < f.nwords; k++) if (mask[f.word + k] !== -1) full = false;
    out.push(`tun_metadata${i}=${putHex(value, f.word, f.nwords)}${full ? '' : `/${putHex(mask, f.word, f.nwords)}`}`);
  }
  return out;
}
