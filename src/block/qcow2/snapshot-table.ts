/**
 * The qcow2 internal snapshot table (docs/interop/qcow2.txt "Snapshots"): parse and serialise.
 *
 * Each entry: L1 offset u64, L1 size u32, id_str size u16, name size u16, date sec/nsec u32,
 * vm clock ns u64, vm state size u32, extra data size u32, extra data (v3: vm_state_size_large
 * u64, disk_size u64, optionally icount u64), id_str, name, padding to 8 bytes.
 */
import { UserError } from '../../errors.js';
import type { BlockBackend } from '../backend.js';
import { MAX_L1_BYTES, putU64, u64 } from './header.js';

export interface SnapshotEntry {
  l1TableOffset: number;
  l1Size: number;
  id: string;
  name: string;
  dateSec: number;
  dateNsec: number;
  vmClockNsec: number;
  vmStateSize: number;
  /** Virtual disk size when the snapshot was taken (extra data), if recorded. */
  diskSize: number | undefined;
  /** Extra data bytes past the ones vfab knows (icount …), kept verbatim. */
  extra: Uint8Array;
}

/** QEMU QCOW_MAX_SNAPSHOT_EXTRA_DATA and QCOW_MAX_SNAPSHOTS_SIZE. */
const MAX_EXTRA = 1024;
const MAX_TABLE_BYTES = 64 * 1024 * 1024;

function bad(msg: string, offset: number): UserError {
  return new UserError('QCOW2_BAD_SNAPSHOT_TABLE', `invalid snapshot table: ${msg} (byte ${offset})`, { where: `byte ${offset}` });
}

export function parseSnapshotTable(backend: BlockBackend, offset: number, count: number, clusterSize: number, version: number): SnapshotEntry[] {
  const out: SnapshotEntry[] = [];
  const fileSize = backend.size();
  let pos = offset;
  const fixed = new Uint8Array(40);
  const dv = new DataView(fixed.buffer);
  for (let i = 0; i < count; i++) {
    if (pos + 40 > fileSize) throw bad(`entry ${i} runs past the end of the file`, pos);
    if (pos - offset > MAX_TABLE_BYTES) throw bad('table is larger than 64 MiB', pos);
    backend.pread(fixed, pos);
    if (dv.getUint32(0) >= 0x200000) throw bad(`entry ${i} l1_table_offset is larger than 2^53`, pos);
    const l1TableOffset = u64(dv, 0);
    const l1Size = dv.getUint32(8);
    const idSize = dv.getUint16(12);
    const nameSize = dv.getUint16(14);
    const extraSize = dv.getUint32(36);
    if (l1TableOffset % clusterSize !== 0) throw bad(`entry ${i} l1_table_offset ${l1TableOffset} is not cluster aligned`, pos);
    if (l1Size * 8 > MAX_L1_BYTES) throw bad(`entry ${i} l1_size ${l1Size} is too large`, pos + 8);
    if (l1Size > 0 && l1TableOffset + l1Size * 8 > fileSize) throw bad(`entry ${i} L1 table (offset ${l1TableOffset}, ${l1Size} entries) lies past the end of the file`, pos);
    if (extraSize > MAX_EXTRA) throw bad(`entry ${i} extra_data_size ${extraSize} is larger than ${MAX_EXTRA}`, pos + 36);
    if (version >= 3 && extraSize < 16) throw bad(`entry ${i} extra_data_size ${extraSize} is below the 16 bytes version 3 requires`, pos + 36);
    const varLen = extraSize + idSize + nameSize;
    if (pos + 40 + varLen > fileSize) throw bad(`entry ${i} runs past the end of the file`, pos);
    const rest = new Uint8Array(varLen);
    backend.pread(rest, pos + 40);
    const rdv = new DataView(rest.buffer);
    let diskSize: number | undefined;
    let vmStateSize = dv.getUint32(32);
    if (extraSize >= 8 && rdv.getUint32(0) < 0x200000) vmStateSize = Math.max(vmStateSize, u64(rdv, 0));
    if (extraSize >= 16) {
      if (rdv.getUint32(8) >= 0x200000) throw bad(`entry ${i} disk_size is larger than 2^53`, pos + 48);
      diskSize = u64(rdv, 8);
    }
    const dec = new TextDecoder();
    out.push({
      l1TableOffset,
      l1Size,
      id: dec.decode(rest.subarray(extraSize, extraSize + idSize)),
      name: dec.decode(rest.subarray(extraSize + idSize, varLen)),
      dateSec: dv.getUint32(16),
      dateNsec: dv.getUint32(20),
      vmClockNsec: dv.getUint32(24) * 4294967296 + dv.getUint32(28),
      vmStateSize,
      diskSize,
      extra: rest.slice(Math.min(16, extraSize), extraSize),
    });
    pos += 40 + varLen;
    pos += (8 - ((pos - offset) % 8)) % 8;
  }
  return out;
}

export function serializeSnapshotTable(list: SnapshotEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const s of list) {
    const id = enc.encode(s.id);
    const name = enc.encode(s.name);
    const extraLen = 16 + s.extra.length;
    const len = 40 + extraLen + id.length + name.length;
    const buf = new Uint8Array(Math.ceil(len / 8) * 8);
    const dv = new DataView(buf.buffer);
    putU64(dv, 0, s.l1TableOffset);
    dv.setUint32(8, s.l1Size);
    dv.setUint16(12, id.length);
    dv.setUint16(14, name.length);
    dv.setUint32(16, s.dateSec >>> 0);
    dv.setUint32(20, s.dateNsec >>> 0);
    putU64(dv, 24, s.vmClockNsec);
    dv.setUint32(32, Math.min(s.vmStateSize, 0xffffffff));
    dv.setUint32(36, extraLen);
    putU64(dv, 40, s.vmStateSize);
    putU64(dv, 48, s.diskSize ?? 0);
    buf.set(s.extra, 56);
    buf.set(id, 40 + extraLen);
    buf.set(name, 40 + extraLen + id.length);
    parts.push(buf);
  }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
