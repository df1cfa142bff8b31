/**
 * `amend -o refcount_bits=N`: rebuilds the refcount table and blocks at another entry width.
 *
 * What QEMU does (block/qcow2-refcount.c qcow2_change_refcount_order, QEMU 7.2): walk the old
 * refcount table, allocating (through the old refcounts) a new block for every new-width block
 * that would not be all zeros, and a new table, repeating until a walk allocates nothing; then
 * write the new blocks and the new table, switch the header (refcount_order,
 * refcount_table_offset and refcount_table_clusters in one qcow2_update_header) and only then
 * free the old blocks and table through the new refcounts. A refcount that does not fit the
 * narrower width is refused ("Cannot decrease refcount entry width to N bits: Cluster at offset
 * 0x… has a refcount of M").
 *
 * What vfab does differently, and why. The new table and blocks go past everything in use (as
 * meta-txn.ts does for snapshots) WITHOUT touching the old refcounts: before the header switch
 * the new clusters are unreferenced with refcount 0 in the old structures, so a kill or power
 * loss leaves the old image exactly as it was (QEMU leaves leaked clusters there). In the new
 * blocks the old table and blocks already count 0 (nothing references them once the header has
 * switched) and the new ones count 1, so there is no window after the switch either: the header
 * write is the single commit point, and no freeing step follows. Every refcount is checked
 * against the new width before the first write, so a refusal writes nothing (QEMU may have
 * allocated new blocks by then, which it frees again). Layouts differ from qemu-img's; the
 * refcounts, the guest data and `qemu-img check` agree.
 *
 * Cost: one pass over the refcounts of every cluster below the end of the file, and one cluster
 * of memory at a time for the new blocks (the table is held whole, at most 8 MiB like QEMU's).
 */
import { UserError } from '../../errors.js';
import { MAX_REFTABLE_BYTES, putU64 } from './header.js';
import type { Qcow2Image } from './image.js';
import { setRefcountEntry } from './refcount.js';

/** Refcount widths qcow2 knows (refcount_order 0..6), as qcow2_amend_options checks them. */
export function refcountOrderOf(bits: bigint): number {
  for (let order = 0; order <= 6; order++) if (bits === 1n << BigInt(order)) return order;
  throw new UserError('QCOW2_BAD_OPTION', 'Refcount width must be a power of two and may not exceed 64 bits', { where: '-o refcount_bits' });
}

/** Rebuilds the refcounts at width 2^`order`; `version` (an upgrade to 3) goes into the same header write. */
export function changeRefcountOrder(img: Qcow2Image, order: number, version = img.header.version): void {
  const h = img.header;
  if (order === h.refcountOrder) return;
  img.settleRefcounts();
  const rc = img.refcounts();
  const cs = img.cs;
  const backend = img.backend;
  const newBits = 2 ** order;
  const perBlock = (cs * 8) / newBits;
  const limit = newBits >= 53 ? Infinity : 2 ** newBits;

  // The old structures: they count 0 in the new refcounts (nothing references them after the switch).
  const oldMeta = new Set<number>();
  const tableFirst = h.refcountTableOffset / cs;
  for (let k = 0; k < h.refcountTableClusters; k++) oldMeta.add(tableFirst + k);
  for (const off of rc.tableEntries()) if (off !== 0) oldMeta.add(off / cs);

  // First cluster past everything in use or in the file: the new structures start there.
  const start = Math.max(rc.end, Math.ceil(backend.size() / cs));
  const used = new Set<number>();
  for (let c = 0; c < start; c++) {
    const v = rc.get(c);
    if (v === 0) continue;
    // walk_over_reftable: the first cluster (in table order, i.e. by offset) that does not fit.
    if (v >= limit) {
      throw new UserError(
        'QCOW2_BAD_OPTION',
        `Cannot decrease refcount entry width to ${newBits} bits: Cluster at offset 0x${(c * cs).toString(16)} has a refcount of ${v}`,
        { where: '-o refcount_bits' },
      );
    }
    if (oldMeta.has(c) && v === 1) continue;
    used.add(Math.floor(c / perBlock));
  }

  // The new table and blocks describe themselves too: grow until the layout stops changing
  // (QEMU repeats its allocating walk for the same reason).
  let tableClusters = 1;
  let blocks: number[] = [];
  for (;;) {
    const end = start + tableClusters + blocks.length;
    const want = new Set(used);
    for (let bi = Math.floor(start / perBlock); bi <= Math.floor((end - 1) / perBlock); bi++) want.add(bi);
    const next = [...want].sort((a, b) => a - b);
    const needTable = Math.max(1, Math.ceil(((next[next.length - 1] ?? 0) + 1) * 8 / cs));
    if (needTable * cs > MAX_REFTABLE_BYTES) {
      // alloc_refblock's refusal, word for word.
      throw new UserError('QCOW2_TOO_BIG', 'This operation would make the refcount table grow beyond the maximum size supported by QEMU, aborting', { where: '-o refcount_bits' });
    }
    if (needTable === tableClusters && next.length === blocks.length) {
      blocks = next;
      break;
    }
    tableClusters = Math.max(tableClusters, needTable);
    blocks = next;
  }
  const end = start + tableClusters + blocks.length;
  const value = (c: number): number => {
    if (c >= start) return 1;
    const v = rc.get(c);
    return oldMeta.has(c) && v === 1 ? 0 : v;
  };

  // New blocks (past the end: nothing the current header reaches is written), then the table.
  const table = new Uint8Array(tableClusters * cs);
  const tdv = new DataView(table.buffer);
  blocks.forEach((bi, j) => {
    const at = (start + tableClusters + j) * cs;
    const block = new Uint8Array(cs);
    const last = Math.min(end, (bi + 1) * perBlock);
    for (let c = bi * perBlock; c < last; c++) {
      const v = value(c);
      if (v !== 0) setRefcountEntry(block, c - bi * perBlock, v, newBits);
    }
    backend.pwrite(block, at);
    putU64(tdv, bi * 8, at);
  });
  backend.pwrite(table, start * cs);
  backend.fsync();

  // The commit point: one header write names the new width, table and size together.
  h.version = version;
  h.refcountOrder = order;
  h.refcountTableOffset = start * cs;
  h.refcountTableClusters = tableClusters;
  try {
    img.writeHeader();
    backend.fsync();
  } catch (e) {
    // Whether the header reached the file is unknown: close without writing anything more.
    img.abandon();
    throw e;
  }
  img.afterMetadataSwitch();
}
