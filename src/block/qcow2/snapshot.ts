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
import { MetaTxn, type HeaderSwitch } from './meta-txn.js';
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
    if (l2off % cs !== 0) {
      if (addend === 0) continue;
      throw new UserError('QCOW2_CORRUPT', `${img.name}: L1 entry ${i} points to unaligned L2 table offset ${l2off}`);
    }
    const t = img.l2At(l2off).slice();
    const dv = new DataView(t.buffer);
    let dirty = false;
    for (let j = 0; j < img.l2Entries * img.l2Step; j += img.l2Step) {
      const hi = dv.getUint32(j * 8);
      const host = entryOffset(dv, j);
      if (host === 0) continue;
      if (hi & 0x40000000) throw new UserError('QCOW2_UNSUPPORTED_FEATURE', `${img.name}: compressed clusters are not supported (L2 entry at byte ${l2off + j * 8})`);
      // An unaligned data offset is corruption check reports; fixing COPIED flags (addend 0)
      // leaves the entry as it is, and nothing may change the refcounts it points into.
      if (host % cs !== 0) {
        if (addend === 0) continue;
        throw new UserError('QCOW2_CORRUPT', `${img.name}: L2 entry at byte ${l2off + j * 8} points to unaligned offset ${host}`);
      }
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

function checkWritable(img: Qcow2Image): void {
  if (img.readOnly) throw new UserError('BLOCK_READ_ONLY', `${img.name} is open read-only`);
}

/**
 * Runs a snapshot operation as one metadata transaction (meta-txn.ts): a kill or power loss at any
 * instant leaves the old image or the new one, never a mix, so `qemu-img check` finds at worst
 * leaks and never OFLAG_COPIED errors. A refused operation (refcount overflow …) has written
 * nothing the header reaches, and the dirty bit is never set (QEMU leaves it clear too).
 */
function transaction(img: Qcow2Image, fn: (txn: MetaTxn) => HeaderSwitch, list?: SnapshotEntry[]): void {
  const txn = new MetaTxn(img);
  let sw: HeaderSwitch;
  try {
    sw = fn(txn);
  } catch (e) {
    txn.abort();
    img.resetCaches();
    throw e;
  }
  txn.commit(sw);
  if (list) img.snapshots = list;
}

/** New snapshot table in fresh clusters (the old one is released); returns [offset, count]. */
function writeTable(img: Qcow2Image, txn: MetaTxn, list: SnapshotEntry[]): [number, number] {
  const h = img.header;
  if (h.nbSnapshots > 0) txn.release(h.snapshotsOffset, serializeSnapshotTable(img.snapshots).length);
  if (list.length === 0) return [0, 0];
  const bytes = serializeSnapshotTable(list);
  const off = txn.alloc(Math.ceil(bytes.length / img.cs));
  txn.put(bytes, off);
  return [off, list.length];
}

/** The active L1 of the new state in fresh clusters (the old one is released); returns its offset. */
function writeActiveL1(img: Qcow2Image, txn: MetaTxn, entries: Uint8Array): number {
  const h = img.header;
  txn.release(h.l1TableOffset, h.l1Size * 8);
  if (h.l1Size === 0) return 0;
  const l1 = txn.activeL1(entries);
  const off = txn.alloc(Math.ceil(l1.length / img.cs));
  txn.put(l1, off);
  return off;
}

export function createSnapshot(img: Qcow2Image, name: string, times: SnapshotTimes = {}): SnapshotInfo {
  checkWritable(img);
  if (name.length === 0) throw new UserError('QCOW2_SNAPSHOT_NAME', 'snapshot name must not be empty');
  // qcow2-snapshot.c qcow2_snapshot_create: -ENOTSUP with an external data file.
  if (img.hasDataFile) throw new UserError('QCOW2_SNAPSHOT_DATA_FILE', `Could not create snapshot '${name}': -95 (Operation not supported)`, { where: img.name, hint: 'internal snapshots cannot be used with an external data file' });
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
  const list = [...img.snapshots];
  transaction(
    img,
    (txn) => {
      // The snapshot keeps the current tables (one more reference on each); the active state
      // moves to copies of the tables whose COPIED flags change.
      txn.addReachable(img.l1, 1);
      let snapOff = 0;
      if (h.l1Size > 0) {
        const snapL1 = img.l1.slice();
        const dv = new DataView(snapL1.buffer);
        for (let i = 0; i < h.l1Size; i++) dv.setUint32(i * 8, dv.getUint32(i * 8) & ~COPIED_HI);
        snapOff = txn.alloc(Math.ceil(snapL1.length / img.cs));
        txn.put(snapL1, snapOff);
      }
      const l1Off = writeActiveL1(img, txn, img.l1);
      list.push({
        l1TableOffset: snapOff,
        l1Size: h.l1Size,
        id: String(maxId + 1),
        name,
        dateSec: times.dateSec ?? 0,
        dateNsec: times.dateNsec ?? 0,
        vmClockNsec: times.vmClockNsec ?? 0,
        vmStateSize: 0,
        diskSize: h.size,
        extra: new Uint8Array(0),
      });
      const [tOff, n] = writeTable(img, txn, list);
      return { l1Size: h.l1Size, l1TableOffset: l1Off, nbSnapshots: n, snapshotsOffset: tOff };
    },
    list,
  );
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
  transaction(img, (txn) => {
    txn.addReachable(snL1, 1); // the new active path first: no refcount dips through zero
    txn.addReachable(img.l1, -1);
    const l1Off = writeActiveL1(img, txn, snL1);
    return { l1Size: h.l1Size, l1TableOffset: l1Off, nbSnapshots: h.nbSnapshots, snapshotsOffset: h.snapshotsOffset };
  });
}

export function deleteSnapshot(img: Qcow2Image, idOrName: string): void {
  checkWritable(img);
  const i = mustFind(img, idOrName, 'delete');
  const sn = img.snapshots[i]!;
  const snL1 = readL1(img, sn.l1TableOffset, sn.l1Size);
  const h = img.header;
  const list = img.snapshots.filter((_, k) => k !== i);
  transaction(
    img,
    (txn) => {
      txn.addReachable(snL1, -1);
      txn.release(sn.l1TableOffset, sn.l1Size * 8);
      const l1Off = writeActiveL1(img, txn, img.l1);
      const [tOff, n] = writeTable(img, txn, list);
      return { l1Size: h.l1Size, l1TableOffset: l1Off, nbSnapshots: n, snapshotsOffset: tOff };
    },
    list,
  );
}
