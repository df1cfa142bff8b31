/**
 * VM disks in the fabric (issue 4, item 7). Integration point between the topology
 * (`vms.*.disks.*`: `image` (+ `size`, `backing`, `format`, `backing_format`, `cluster_size`,
 * `readonly`) or `memory: SIZE`) and `src/block/`. The fabric builder calls:
 *
 *   1. `validateDisks(model)` from `vfab validate` and before building: every user error (neither
 *      or both of image/memory, bad cluster size, backing on a memory disk …), positioned.
 *   2. `buildDisks(ctx)` after the VMs exist: open each image (paths relative to the topology),
 *      creating missing ones with `size` and optional `backing` (thin qcow2 by default), and
 *      publish the `disks` summary section: per disk `{vm, name, format, virtual_size,
 *      allocated_bytes, chain}`.
 *   3. `closeDisks(ctx)` when the run ends: flush and close (releases the image locks).
 *
 * Memory disks are thin qcow2 (or raw) images on a memory backend: no file, same semantics.
 * `allocated_bytes` counts guest bytes the top image maps (data or zero clusters), from the image
 * metadata, so the summary is deterministic (file block counts differ between file systems).
 * Other modules (QoS workloads) get the open images with `diskImages(ctx)`.
 */
import { dirname, isAbsolute, relative, resolve as resolvePath } from 'node:path';
import { createImage, openImage } from '../block/api.js';
import { MemoryProvider, type Chain } from '../block/chain.js';
import { FileProvider } from '../block/file-backend.adapter.js';
import { ST_UNALLOC } from '../block/image.js';
import { validateCreate } from '../block/qcow2/create.js';
import { UserError } from '../errors.js';
import type { TopologyModel } from '../topology/model.js';
import { formatSize } from '../util/units.js';
import type { BuildContext, SummarySection } from './context.js';
import type { FabricFeature } from './feature.js';

export interface DiskRuntime {
  vm: string;
  name: string;
  image: Chain;
  /** Chain as the user sees it: paths relative to the topology folder, or `memory:vm.disk`. */
  chain: string[];
}

const opened = new WeakMap<BuildContext, DiskRuntime[]>();

/** The open disks of a built fabric, keyed `vm.disk` (for workloads that do real I/O). */
export function diskImages(ctx: BuildContext): Map<string, DiskRuntime> {
  return new Map((opened.get(ctx) ?? []).map((d) => [`${d.vm}.${d.name}`, d]));
}

/** All disk configuration errors in `model` (empty when fine). */
export function validateDisks(model: TopologyModel): UserError[] {
  const errors: UserError[] = [];
  for (const vm of model.vms) {
    for (const d of vm.disks) {
      const doc = d.doc;
      const where = `disk "${d.name}" of VM ${vm.name}`;
      const err = (code: string, msg: string, key?: string): void => {
        errors.push(model.source.error(code, key ? [...d.yaml, key] : d.yaml, `${where}: ${msg}`));
      };
      // network disks (`nbd:`) are the NBD feature's (nbd-disks.ts), which checks them
      if (doc.nbd !== undefined) continue;
      if (doc.via !== undefined) err('DISK_VIA', '"via" applies to a network disk; add "nbd: <host>/<export>"', 'via');
      if ((doc.image === undefined) === (doc.memory === undefined)) {
        err('DISK_SOURCE', 'give exactly one of "image" (a file) or "memory" (a size)');
        continue;
      }
      if (doc.memory !== undefined) {
        for (const k of ['size', 'backing', 'backing_format', 'readonly'] as const) {
          if (doc[k] !== undefined) err('DISK_MEMORY_OPTION', `"${k}" does not apply to a memory disk`, k);
        }
      }
      if (doc.backing !== undefined && doc.format === 'raw') err('DISK_BACKING_RAW', 'a raw image cannot have a backing file', 'backing');
      if (doc.backing_format !== undefined && doc.backing === undefined) err('DISK_BACKING_FORMAT', '"backing_format" needs "backing"', 'backing_format');
      const size = doc.memory ?? doc.size;
      if (doc.format !== 'raw' && (doc.cluster_size !== undefined || size !== undefined)) {
        try {
          validateCreate({ size: size ?? 0, ...(doc.cluster_size !== undefined ? { clusterSize: doc.cluster_size } : {}) });
        } catch (e) {
          if (!(e instanceof UserError)) throw e;
          err('DISK_BAD_OPTION', e.message, (e.where === 'cluster_size' ? 'cluster_size' : doc.memory !== undefined ? 'memory' : 'size'));
        }
      }
      if (doc.format === 'raw' && doc.cluster_size !== undefined) err('DISK_BAD_OPTION', 'raw images have no cluster size', 'cluster_size');
    }
  }
  return errors;
}

function topLayerAllocated(c: Chain): number {
  const top = c.top;
  let n = 0;
  let p = 0;
  while (p < top.virtualSize) {
    const st = top.status(p);
    const len = Math.max(1, Math.min(st.length, top.virtualSize - p));
    if (st.kind !== ST_UNALLOC) n += len;
    p += len;
  }
  return n;
}

/** Opens/creates every VM disk and registers the `disks` summary section. */
export function buildDisks(ctx: BuildContext): void {
  const disks: DiskRuntime[] = [];
  opened.set(ctx, disks);
  const files = new FileProvider();
  const base = ctx.options.baseDir;
  const shown = (p: string): string => {
    const r = relative(base, p);
    return r.startsWith('..') || isAbsolute(r) ? p : r;
  };
  try {
    for (const vm of ctx.model.vms) {
      for (const d of vm.disks) {
        const doc = d.doc;
        if (doc.nbd !== undefined) continue;
        const where = `disk "${d.name}" of VM ${vm.name}`;
        const fail = (e: unknown, key?: string): never => {
          if (e instanceof UserError) throw ctx.source.error(e.code, key ? [...d.yaml, key] : d.yaml, `${where}: ${e.message}`);
          throw e;
        };
        if (doc.memory !== undefined) {
          const mem = new MemoryProvider();
          const name = `${vm.name}.${d.name}`;
          try {
            createImage(name, { format: doc.format ?? 'qcow2', size: doc.memory, ...(doc.cluster_size !== undefined ? { clusterSize: doc.cluster_size } : {}) }, mem);
            disks.push({ vm: vm.name, name: d.name, image: openImage(name, {}, mem), chain: [`memory:${name}`] });
          } catch (e) {
            fail(e, 'memory');
          }
          continue;
        }
        // resolved against the topology's folder by topology/ (the same path `vfab qos` sizes)
        const path = d.imagePath!;
        if (!files.exists(path)) {
          if (doc.readonly) fail(new UserError('DISK_MISSING', `image '${doc.image}' does not exist (a readonly disk is never created)`), 'image');
          let backingFile: string | undefined;
          if (doc.backing !== undefined) {
            // Written relative to the topology; stored relative to the new image (QEMU resolves
            // backing names against the overlay's folder), so the pair can move together.
            const abs = d.backingPath!;
            if (!files.exists(abs)) fail(new UserError('DISK_NO_BACKING', `backing file '${doc.backing}' does not exist`), 'backing');
            backingFile = relative(dirname(resolvePath(path)), abs) || abs;
          }
          if (doc.size === undefined && backingFile === undefined) {
            fail(new UserError('DISK_NO_SIZE', `image '${doc.image}' does not exist; give "size" (and optionally "backing") to create it`), 'image');
          }
          try {
            createImage(path, {
              format: doc.format ?? 'qcow2',
              ...(doc.size !== undefined ? { size: doc.size } : {}),
              ...(doc.cluster_size !== undefined ? { clusterSize: doc.cluster_size } : {}),
              ...(backingFile !== undefined ? { backingFile, backingFormat: doc.backing_format ?? 'qcow2' } : {}),
            });
          } catch (e) {
            fail(e, 'image');
          }
        }
        try {
          const image = openImage(path, { readOnly: doc.readonly ?? false, ...(doc.format ? { format: doc.format } : {}) });
          disks.push({ vm: vm.name, name: d.name, image, chain: image.layers.map((l) => shown(resolvePath(l.name))) });
        } catch (e) {
          fail(e, 'image');
        }
      }
    }
  } catch (e) {
    closeDisks(ctx);
    throw e;
  }
}

/** The `disks` summary block (undefined when the fabric opened no disk). */
function disksSummary(ctx: BuildContext): SummarySection | undefined {
  const disks = opened.get(ctx);
  if (!disks || disks.length === 0) return undefined;
  const rows = (): { vm: string; name: string; format: string; virtual_size: number; allocated_bytes: number; chain: string[] }[] =>
    disks.map((d) => ({ vm: d.vm, name: d.name, format: d.image.format, virtual_size: d.image.virtualSize, allocated_bytes: topLayerAllocated(d.image), chain: d.chain }));
  return {
    json: rows,
    text: () =>
      rows().map((r) => `disk ${r.vm}.${r.name}: ${r.format} ${formatSize(r.virtual_size)}, ${formatSize(r.allocated_bytes)} allocated, chain ${r.chain.join(' <- ')}`),
  };
}

/** Flushes and closes every disk opened by `buildDisks` (run end, failure or Ctrl-C). */
export function closeDisks(ctx: BuildContext): void {
  const disks = opened.get(ctx);
  if (!disks) return;
  opened.delete(ctx);
  for (const d of disks) {
    try {
      if (!d.image.readOnly) d.image.flush();
    } finally {
      d.image.close();
    }
  }
}

/** VM disks as a fabric feature (`feature.ts`): images opened once the fabric is wired (not by `vfab validate`). */
export const disksFeature: FabricFeature = {
  name: 'disks',
  validate: validateDisks,
  build: {
    attached: (ctx) => {
      if (ctx.options.openFiles !== false) buildDisks(ctx);
    },
  },
  summary: disksSummary,
  close: closeDisks,
};
