/**
 * The file-system side of QoS files: read the file, and load the topology it names (relative to
 * the QoS file) through the topology loader, keeping VM disks and their sizes.
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { UserError } from '../errors.js';
import { loadTopology } from '../topology/index.js';
import { loadQosText, type QosFile, type TopologyDisks } from './file.js';

export function loadQosFile(path: string): QosFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError('QOS_READ', `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, { where: path });
  }
  return loadQosText(text, path, {
    loadTopology: (rel) => {
      const full = isAbsolute(rel) ? rel : join(dirname(path), rel);
      const topo = loadTopology(full);
      const disks: TopologyDisks['disks'] = new Map();
      for (const vm of topo.vms) for (const d of vm.disks) disks.set(`${vm.name}.${d.name}`, d.doc.memory ?? d.doc.size);
      return { disks };
    },
  });
}

/** Writes chart files into `dir` (created if needed); returns the paths written. */
export function writeCharts(dir: string, charts: Record<string, string>): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(charts).map(([name, svg]) => {
    const p = join(dir, name);
    writeFileSync(p, svg);
    return p;
  });
}
