/**
 * Internal snapshots (qemu-img snapshot -c/-l/-a/-d), after QEMU block/qcow2-snapshot.c.
 *
 * A snapshot is a copy of the active L1 table plus one more reference on every L2 table and data
 * cluster it reaches; writes to shared clusters then copy them (refcount > 1 ⇒ COW). Order, as
 * QEMU: refcounts go up before the table that needs them is published, and go down only after the
 * table that used them is gone, so a crash leaks clusters at worst.
 */
import { UserError } from '../../errors.js';
import { COPIED_HI, entryOffset } from './entries.js';
import { INCOMPAT_DIRTY, putU64 } from './header.js';
import type { Qcow2Image } from './image.js';
import { serializeSnapshotTable, type SnapshotEntry } from './snapshot-table.js';

export interface SnapshotInfo {
  id: string;
  name: string;
  vmStateSize: number;
  dateSec: number;
  dateNsec: number;
  vmClockNsec: number;
  diskSize: number | undefined;
}

/** Times recorded in a new snapshot: the CLI passes the wall clock, the library defaults to 0. */
export interface SnapshotTimes {
  dateSec?: number;
  dateNsec?: number;
  vmClockNsec?: number;
}

export function listSnapshots(img: Qcow2Image): SnapshotInfo[] {
  return img.snapshots.map((s) => ({
    id: s.id,
    name: s.name,
    vmStateSize: s.vmStateSize,
    dateSec: s.dateSec,
    dateNsec: s.dateNsec,
    vmClockNsec: s.vmClockNsec,
    diskSize: s.diskSize,
  }));
}

/** QEMU find_snapshot_by_id_or_name: an id match first, then a name match. */
export function findSnapshot(img: Qcow2Image, idOrName: string): number {
  const byId = img.snapshots.findIndex((s) => s.id === idOrName);
  if (byId >= 0) return byId;
  return img.snapshots.findIndex((s) => s.name === idOrName);
}

function readL1(img: Qcow2Image, offset: number, size: number): Uint8Array {
  const b = new Uint8Array(size * 8);
  img.backend.pread(b, offset);
  for (let i = 0; i < size; i++) {
    const off = entryOffset(new DataView(b.buffer), i);
    if (off % img.cs !== 0) throw new UserError('QCOW2_CORRUPT', `${img.name}: snapshot L1 entry ${i} (byte ${offset + i * 8}) is unaligned`);
  }
  return b;
}

/**
 * Adds `addend` (+1, -1 or 0) to the refcount of every L2 table and data cluster reachable from
 * an L1 table, and sets COPIED where the refcount is now 1 (QEMU qcow2_update_snapshot_refcount).
 * Changed L1 entries are written back at `l1Offset` unless it is -1 (a table about to be dropped).
 */
export function updateRefcounts(img: Qcow2Image, l1: Uint8Array, l1Offset: number, addend: number): void {
  const rc = img.refcounts();
  const cs = img.cs;
  const l1dv = new DataView(l1.buffer, l1.byteOffset, l1.byteLength);
  const n = l1.length / 8;
  for (let i = 0; i < n; i++) {
    const l2off = entryOffset(l1dv, i);
    if (l2off === 0) continue;
    const t = img.l2At(l2off).slice();
    const dv = new DataView(t.buffer);
    let dirty = false;
    for (let j = 0; j < img.l2Entries; j++) {
      const hi = dv.getUint32(j * 8);
      const host = entryOffset(dv, j);
      if (host === 0) continue;
      if (hi & 0x40000000) throw new UserError('QCOW2_UNSUPPORTED_FEATURE', `${img.name}: compressed clusters are not supported (L2 entry at byte ${l2off + j * 8})`);
      const r = addend !== 0 ? rc.update(host / cs, addend) : rc.get(host / cs);
      const want = r === 1 ? COPIED_HI : 0;
      if ((hi & COPIED_HI) !== want) {
        dv.setUint32(j * 8, (hi & ~COPIED_HI) | want);
        dirty = true;
      }
    }
    const r2 = addend !== 0 ? rc.update(l2off / cs, addend) : rc.get(l2off / cs);
    if (dirty && r2 > 0) img.writeL2(l2off, t);
    const hi = l1dv.getUint32(i * 8);
    const want = r2 === 1 ? COPIED_HI : 0;
    if ((hi & COPIED_HI) !== want) {
      l1dv.setUint32(i * 8, (hi & ~COPIED_HI) | want);
      if (l1Offset >= 0) img.backend.pwrite(l1.subarray(i * 8, i * 8 + 8), l1Offset + i * 8);
    }
  }
}

/** Writes the snapshot table to new clusters, switches the header to it, frees the old one. */
function publishTable(img: Qcow2Image, list: SnapshotEntry[]): void {
  const h = img.header;
  const oldOff = h.snapshotsOffset;
  const oldBytes = serializeSnapshotTable(img.snapshots).length;
  const bytes = serializeSnapshotTable(list);
  let off = 0;
  if (list.length > 0) {
    off = img.allocMeta(Math.ceil(bytes.length / img.cs));
    img.backend.pwrite(bytes, off);
  }
  img.backend.fsync();
  const hb = new Uint8Array(12);
  const dv = new DataView(hb.buffer);
  dv.setUint32(0, list.length);
  putU64(dv, 4, off);
  img.backend.pwrite(hb, 60);
  h.nbSnapshots = list.length;
  h.snapshotsOffset = off;
  img.snapshots = list;
  if (oldOff !== 0 && oldBytes > 0) {
    const rc = img.refcounts();
    for (let k = 0; k < Math.ceil(oldBytes / img.cs); k++) rc.update(oldOff / img.cs + k, -1);
  }
}

function checkWritable(img: Qcow2Image): void {
  if (img.readOnly) throw new UserError('BLOCK_READ_ONLY', `${img.name} is open read-only`);
}

/**
 * Snapshot operations touch refcounts and COPIED flags of many clusters; between the two there
 * is always an instant where `check` would see a flag that disagrees with its refcount. vfab sets
 * the dirty bit (incompatible_features bit 0) for the duration, so a crash inside leaves an image
 * that QEMU and vfab repair on their next read-write open (qcow2.c qcow2_do_open "Repair image if
 * dirty"). Deliberate difference: QEMU relies on its cache flush ordering instead.
 */
function withDirtyBit(img: Qcow2Image, fn: () => void): void {
  if (img.header.version < 3) {
    fn();
    return;
  }
  const write = (): void => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, img.header.incompatibleFeatures);
    img.backend.pwrite(b, 76);
  };
  img.header.incompatibleFeatures |= INCOMPAT_DIRTY;
  write();
  img.backend.fsync();
  fn();
  img.backend.fsync();
  img.header.incompatibleFeatures &= ~INCOMPAT_DIRTY;
  write();
}

export function createSnapshot(img: Qcow2Image, name: string, times: SnapshotTimes = {}): SnapshotInfo {
  checkWritable(img);
  if (name.length === 0) throw new UserError('QCOW2_SNAPSHOT_NAME', 'snapshot name must not be empty');
  if (img.snapshots.some((s) => s.name === name)) {
    throw new UserError('QCOW2_SNAPSHOT_EXISTS', `Could not create snapshot '${name}': snapshot with the same name already exists`);
  }
  if (img.header.refcountOrder === 0) {
    throw new UserError('QCOW2_SNAPSHOT_REFCOUNT', `Could not create snapshot '${name}': refcount_bits=1 cannot count a second reference (QEMU refuses too)`);
  }
  if (img.snapshots.length >= 65536) throw new UserError('QCOW2_TOO_MANY_SNAPSHOTS', 'too many snapshots (65536)');
  let maxId = 0;
  for (const s of img.snapshots) {
    const v = Number.parseInt(s.id, 10);
    if (Number.isFinite(v)) maxId = Math.max(maxId, v);
  }
  const h = img.header;
  withDirtyBit(img, () => {
    let l1Off = 0;
    if (h.l1Size > 0) {
      l1Off = img.allocMeta(Math.ceil((h.l1Size * 8) / img.cs));
      img.backend.pwrite(img.l1, l1Off);
    }
    updateRefcounts(img, img.l1, h.l1TableOffset, 1);
    const entry: SnapshotEntry = {
      l1TableOffset: l1Off,
      l1Size: h.l1Size,
      id: String(maxId + 1),
      name,
      dateSec: times.dateSec ?? 0,
      dateNsec: times.dateNsec ?? 0,
      vmClockNsec: times.vmClockNsec ?? 0,
      vmStateSize: 0,
      diskSize: h.size,
      extra: new Uint8Array(0),
    };
    publishTable(img, [...img.snapshots, entry]);
  });
  return listSnapshots(img).at(-1)!;
}

function mustFind(img: Qcow2Image, idOrName: string, verb: string): number {
  const i = findSnapshot(img, idOrName);
  if (i < 0) throw new UserError('QCOW2_NO_SNAPSHOT', `Could not ${verb} snapshot '${idOrName}': snapshot not found`);
  return i;
}

/** Reverts the active state to a snapshot (QEMU qcow2_snapshot_goto). */
export function applySnapshot(img: Qcow2Image, idOrName: string): void {
  checkWritable(img);
  const sn = img.snapshots[mustFind(img, idOrName, 'apply')]!;
  const h = img.header;
  if (sn.diskSize !== undefined && sn.diskSize !== h.size) {
    throw new UserError('QCOW2_SNAPSHOT_SIZE', `snapshot '${idOrName}' has disk size ${sn.diskSize}, the image ${h.size}; vfab does not resize on apply`);
  }
  if (sn.l1Size > h.l1Size) throw new UserError('QCOW2_SNAPSHOT_SIZE', `snapshot '${idOrName}' has a larger L1 table than the image`);
  const snL1 = new Uint8Array(h.l1Size * 8);
  snL1.set(readL1(img, sn.l1TableOffset, sn.l1Size));
  withDirtyBit(img, () => {
    // 1. references for what the snapshot reaches (flags computed on a scratch copy).
    updateRefcounts(img, snL1.slice(), -1, 1);
    // 2. publish it as the active table (one write, synced).
    img.backend.pwrite(snL1, h.l1TableOffset);
    img.backend.fsync();
    // 3. drop the old active state's references (its L1 is still in memory).
    const old = img.l1.slice();
    img.l1.set(snL1);
    img.resetCaches();
    updateRefcounts(img, old, -1, -1);
    // 4. COPIED flags of the new active table.
    updateRefcounts(img, img.l1, h.l1TableOffset, 0);
  });
}

export function deleteSnapshot(img: Qcow2Image, idOrName: string): void {
  checkWritable(img);
  const i = mustFind(img, idOrName, 'delete');
  const sn = img.snapshots[i]!;
  const snL1 = readL1(img, sn.l1TableOffset, sn.l1Size);
  withDirtyBit(img, () => {
    publishTable(
      img,
      img.snapshots.filter((_, k) => k !== i),
    );
    updateRefcounts(img, snL1, -1, -1);
    const rc = img.refcounts();
    if (sn.l1Size > 0) for (let k = 0; k < Math.ceil((sn.l1Size * 8) / img.cs); k++) rc.update(sn.l1TableOffset / img.cs + k, -1);
    updateRefcounts(img, img.l1, img.header.l1TableOffset, 0);
  });
}
