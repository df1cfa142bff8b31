/**
 * The file-system side of QoS files: read the file, and load the topology it names (relative to
 * the QoS file) through the topology loader, keeping VM disks and their sizes.
 */
import { writeFileSync } from 'node:fs';
import { makeUserDir, readUserText, withUserPath } from '../util/user-file.adapter.js';
import { dirname, isAbsolute, join } from 'node:path';
import { loadTopology } from '../topology/index.js';
import { Chain } from '../block/chain.js';
import { FileProvider } from '../block/file-backend.adapter.js';
import { loadQosText, type QosFile, type TopologyDisks } from './file.js';
import type { DiskData } from './model.js';

export function loadQosFile(path: string): QosFile {
  const text = readUserText(path, { code: 'QOS_READ' });
  return loadQosFileText(text, path);
}

/** `loadQosFile` for text already in memory (sweeps: a QoS file with parameters applied); `path` names it and anchors relative paths. */
export function loadQosFileText(text: string, path: string): QosFile {
  const here = dirname(path);
  return loadQosText(text, path, {
    loadTopology: (rel) => {
      const full = isAbsolute(rel) ? rel : join(here, rel);
      const topo = loadTopology(full);
      const disks: TopologyDisks['disks'] = new Map();
      for (const vm of topo.vms) {
        for (const d of vm.disks) {
          // resolved once by topology/ (the same file `vfab run` opens)
          disks.set(`${vm.name}.${d.name}`, { size: d.doc.memory ?? d.doc.size, image: d.imagePath });
        }
      }
      return { disks };
    },
    imageSize: (image, fromTopology) => {
      const chain = Chain.open(new FileProvider(), fromTopology || isAbsolute(image) ? image : join(here, image), { readOnly: true, forceShare: true });
      try {
        return chain.virtualSize;
      } finally {
        chain.close();
      }
    },
  });
}

/**
 * Opens the images of a run that moves data (`data: true`): one block-layer `Chain` per disk with
 * an image, read-write. Call `close()` when the run ends.
 */
export function openDataPaths(qos: QosFile): { data: Map<string, DiskData>; close(): void } {
  const data = new Map<string, Chain>();
  if (qos.model.data) {
    const here = dirname(qos.file);
    try {
      for (const d of qos.model.disks) {
        if (d.image === undefined) continue;
        data.set(d.name, Chain.open(new FileProvider(), isAbsolute(d.image) ? d.image : join(here, d.image)));
      }
    } catch (e) {
      for (const c of data.values()) c.close();
      throw e;
    }
  }
  return {
    data,
    close() {
      for (const c of data.values()) {
        c.flush();
        c.close();
      }
    },
  };
}

/** Writes chart files into `dir` (created if needed); returns the paths written. */
export function writeCharts(dir: string, charts: Record<string, string>): string[] {
  makeUserDir(dir, 'QOS_WRITE', '--svg');
  return Object.entries(charts).map(([name, svg]) => {
    const p = join(dir, name);
    withUserPath(p, 'write', 'QOS_WRITE', () => writeFileSync(p, svg), '--svg');
    return p;
  });
}
