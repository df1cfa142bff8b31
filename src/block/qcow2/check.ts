/**
 * `qemu-img check` for qcow2 (QEMU block/qcow2-refcount.c qcow2_check_refcounts): recount every
 * reference from the metadata and compare with the stored refcounts.
 *
 * - stored < counted: corruption ("ERROR cluster N refcount=1 reference=2"): the cluster could
 *   be handed out twice;
 * - stored > counted: leak ("Leaked cluster N refcount=1 reference=0"): space lost, data safe;
 * - COPIED flags in the active tables must say "refcount is 1" (check_oflag_copied);
 * - offsets must be cluster aligned, metadata must lie inside the file.
 * `repair` ('leaks' | 'all', like `-r`) rewrites the stored refcounts to the counted ones.
 */
import { UserError } from '../../errors.js';
import { COMPRESSED_HI, COPIED_HI, ZERO_LO, entryOffset } from './entries.js';
import { Qcow2Image } from './image.js';
import { serializeSnapshotTable } from './snapshot-table.js';
import { updateRefcounts } from './snapshot.js';

export interface CheckResult {
  filename: string;
  format: 'qcow2';
  checkErrors: number;
  corruptions: number;
  leaks: number;
  corruptionsFixed: number;
  leaksFixed: number;
  imageEndOffset: number;
  totalClusters: number;
  allocatedClusters: number;
  fragmentedClusters: number;
  messages: string[];
}

export function checkQcow2(img: Qcow2Image, opts: { repair?: 'leaks' | 'all' } = {}): CheckResult {
  const cs = img.cs;
  const fileSize = img.backend.size();
  const counted = new Map<number, number>();
  const messages: string[] = [];
  let corruptions = 0;
  let checkErrors = 0;
  const inc = (off: number, bytes: number, what: string): void => {
    if (off % cs !== 0) {
      messages.push(`ERROR ${what} offset=0x${off.toString(16)} is not cluster aligned`);
      corruptions++;
      return;
    }
    for (let c = off / cs; c < Math.ceil((off + bytes) / cs); c++) counted.set(c, (counted.get(c) ?? 0) + 1);
  };
  const h = img.header;
  inc(0, cs, 'header');
  let allocated = 0;
  let fragmented = 0;
  const walkL1 = (l1: Uint8Array, l1Off: number, l1Size: number, active: boolean): void => {
    inc(l1Off, l1Size * 8, 'L1 table');
    const dv = new DataView(l1.buffer, l1.byteOffset, l1.byteLength);
    let prevHost = -1;
    for (let i = 0; i < l1Size; i++) {
      const l2off = entryOffset(dv, i);
      if (l2off === 0) continue;
      if (l2off % cs !== 0) {
        messages.push(`ERROR l2_offset=0x${l2off.toString(16)}: L2 table is not cluster aligned; L1 index ${i}`);
        corruptions++;
        continue;
      }
      if (l2off >= fileSize) {
        messages.push(`ERROR l2_offset=0x${l2off.toString(16)}: L2 table is outside the image`);
        corruptions++;
        continue;
      }
      inc(l2off, cs, 'L2 table');
      const t = img.l2At(l2off);
      const tdv = new DataView(t.buffer, t.byteOffset, t.byteLength);
      for (let j = 0; j < img.l2Entries; j++) {
        const hi = tdv.getUint32(j * 8);
        const lo = tdv.getUint32(j * 8 + 4);
        if (hi & COMPRESSED_HI) {
          messages.push(`ERROR compressed cluster at L2 byte ${l2off + j * 8} (not supported by vfab)`);
          checkErrors++;
          continue;
        }
        const host = entryOffset(tdv, j);
        if (host === 0) continue;
        if (host % cs !== 0) {
          messages.push(`ERROR offset=0x${host.toString(16)}: Cluster is not properly aligned; L2 entry corrupted`);
          corruptions++;
          continue;
        }
        inc(host, cs, 'data');
        if (active && !(h.version >= 3 && lo & ZERO_LO)) {
          allocated++;
          if (prevHost >= 0 && host !== prevHost + cs) fragmented++;
          prevHost = host;
        }
      }
    }
  };
  walkL1(img.l1, h.l1TableOffset, h.l1Size, true);
  for (const sn of img.snapshots) {
    const l1 = new Uint8Array(sn.l1Size * 8);
    img.backend.pread(l1, sn.l1TableOffset);
    walkL1(l1, sn.l1TableOffset, sn.l1Size, false);
  }
  if (h.nbSnapshots > 0) inc(h.snapshotsOffset, serializeSnapshotTable(img.snapshots).length, 'snapshot table');
  inc(h.refcountTableOffset, h.refcountTableClusters * cs, 'refcount table');
  const rc = img.refcounts();
  rc.tableEntries().forEach((off, i) => {
    if (off === 0) return;
    if (off >= fileSize) {
      messages.push(`ERROR refcount block ${i} is outside image`);
      corruptions++;
    }
    inc(off, cs, 'refcount block');
  });
  // Only clusters someone counts or a refcount block mentions can differ (mutated images may
  // claim clusters far past the file: never loop over the whole index space).
  const candidates = new Set<number>(counted.keys());
  rc.forEachNonZero((c) => candidates.add(c));
  let maxC = 0;
  let leaks = 0;
  const fixes: [number, number][] = [];
  let endOffset = 0;
  for (const c of [...candidates].sort((a, b) => a - b)) {
    maxC = c + 1;
    const stored = rc.get(c);
    const ref = counted.get(c) ?? 0;
    if (stored > 0 || ref > 0) endOffset = (c + 1) * cs;
    if (stored === ref) continue;
    if (stored < ref) {
      messages.push(`ERROR cluster ${c} refcount=${stored} reference=${ref}`);
      corruptions++;
      if (opts.repair === 'all') fixes.push([c, ref - stored]);
    } else {
      messages.push(`Leaked cluster ${c} refcount=${stored} reference=${ref}`);
      leaks++;
      if (opts.repair) fixes.push([c, ref - stored]);
    }
  }
  // COPIED flags of the active tables (using stored refcounts).
  let flagErrors = 0;
  for (let i = 0; i < h.l1Size; i++) {
    const l2off = img.l1Offset(i);
    if (l2off === 0 || l2off % cs !== 0 || l2off >= fileSize) continue;
    const want = rc.get(l2off / cs) === 1;
    if (img.isCopied(i) !== want) {
      messages.push(`ERROR OFLAG_COPIED L2 cluster: l1_index=${i} l1_entry=${l2off} refcount=${rc.get(l2off / cs)}`);
      flagErrors++;
    }
    const t = img.l2At(l2off);
    const tdv = new DataView(t.buffer, t.byteOffset, t.byteLength);
    for (let j = 0; j < img.l2Entries; j++) {
      const host = entryOffset(tdv, j);
      if (host === 0 || host % cs !== 0) continue;
      const copied = (tdv.getUint32(j * 8) & COPIED_HI) !== 0;
      if (copied !== (rc.get(host / cs) === 1)) {
        messages.push(`ERROR OFLAG_COPIED data cluster: l2_entry=${host} refcount=${rc.get(host / cs)}`);
        flagErrors++;
      }
    }
  }
  corruptions += flagErrors;
  let corruptionsFixed = 0;
  let leaksFixed = 0;
  if (fixes.length > 0 || (flagErrors > 0 && opts.repair === 'all')) {
    if (img.readOnly) throw new UserError('QCOW2_CHECK_READ_ONLY', 'cannot repair an image opened read-only');
    rc.reserveBelow(maxC);
    fixes.sort((a, b) => b[1] - a[1]); // raise too-low refcounts before freeing leaks
    for (const [c, d] of fixes) {
      rc.update(c, d);
      if (d > 0) corruptionsFixed++;
      else leaksFixed++;
    }
    if (opts.repair === 'all') {
      updateRefcounts(img, img.l1, h.l1TableOffset, 0);
      corruptionsFixed += flagErrors;
    }
    img.backend.fsync();
  }
  return {
    filename: img.name,
    format: 'qcow2',
    checkErrors,
    corruptions: corruptions - corruptionsFixed,
    leaks: leaks - leaksFixed,
    corruptionsFixed,
    leaksFixed,
    imageEndOffset: endOffset,
    totalClusters: Math.ceil(h.size / cs),
    allocatedClusters: allocated,
    fragmentedClusters: fragmented,
    messages,
  };
}

// Dirty images are repaired on read-write open (see Qcow2Image.openForWriting).
Qcow2Image.rebuild = (img) => {
  checkQcow2(img, { repair: 'all' });
};
