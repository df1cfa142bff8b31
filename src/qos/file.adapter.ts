/**
 * The file-system side of QoS files: read the file, and load the topology it names (relative to
 * the QoS file) through the topology loader, keeping VM disks and their sizes.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { parseFioIni } from './fio/ini.js';
import { UserError } from '../errors.js';
import { importFio, type FioImport, type ImportOptions } from './fio/import.js';
import { makeUserDir, readUserText, withUserPath } from '../util/user-file.adapter.js';
import { dirname, isAbsolute, join } from 'node:path';
import { loadTopology } from '../topology/index.js';
import { Chain } from '../block/chain.js';
import { FileProvider } from '../block/file-backend.adapter.js';
import { loadQosText, type QosFile, type TopologyDisks } from './file.js';
import type { DiskData } from './model.js';
import type { FioLogs } from './fio-logs.js';

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

/** Whether `path` is an fio job file (`.fio`, `.job`, `.ini`) rather than a QoS YAML file. */
export function isFioJobFile(path: string): boolean {
  return /\.(fio|job|ini)$/i.test(path);
}

/**
 * Reads an fio job file (with a size limit, `include`s relative to it as fio resolves them,
 * `${VAR}` from the environment) and imports it as a QoS file.
 */
export function importFioFile(path: string, opts: ImportOptions = {}): FioImport {
  const text = readUserText(path, { code: 'FIO_READ' });
  const sections = parseFioIni(text, path, {
    env: process.env,
    readInclude: (inc, from) => {
      // init.c: the name as written if it exists, else relative to the including file's folder
      const full = existsSync(inc) || isAbsolute(inc) ? inc : join(dirname(from), inc);
      return { text: readUserText(full, { code: 'FIO_READ' }), file: full };
    },
  });
  return importFio(sections, opts);
}

/** `loadQosFile` for an fio job file: the imported YAML, loaded as `vfab qos import` prints it. */
export function loadFioJobFile(path: string, opts: ImportOptions = {}): { qos: QosFile; imported: FioImport } {
  const imported = importFioFile(path, opts);
  return { qos: loadQosText(imported.yaml, `${path} (imported)`), imported };
}

/**
 * A QoS YAML file or an fio job file (by its name, `isFioJobFile`); notes about an fio file's
 * ignored options go to `note` (the commands print them on stderr so JSON stays clean).
 */
export function loadJobOrQosFile(path: string, maxRuntimeNs: number | undefined, note: (line: string) => void): QosFile {
  if (!isFioJobFile(path)) {
    if (maxRuntimeNs !== undefined) throw new UserError('CLI_BAD_FLAG', '--max-runtime applies to fio job files (.fio, .job, .ini) only', { where: '--max-runtime' });
    return loadQosFile(path);
  }
  const { qos, imported } = loadFioJobFile(path, maxRuntimeNs !== undefined ? { maxRuntimeNs } : {});
  for (const n of imported.notes) note(`note: ${n}`);
  return qos;
}

/** Writes fio log files (names relative to the working directory, as fio writes them); returns the paths. */
export function writeFioLogs(logs: FioLogs): string[] {
  return [...logs.files].map(([name, lines]) => {
    withUserPath(name, 'write', 'QOS_WRITE', () => writeFileSync(name, lines.length ? `${lines.join('\n')}\n` : ''), name);
    return name;
  });
}
