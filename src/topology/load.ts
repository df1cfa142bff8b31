/**
 * Loading a topology: YAML text → positions → schema → semantic checks → `TopologyModel`.
 *
 * `loadTopologyText` works on a string (tests, library users with generated topologies);
 * `loadTopology` reads a file and resolves `flows_file` relative to it. Both throw a `UserError`
 * (one problem) or `UserErrors` (several, sorted by position) for anything wrong in the input.
 */
import { dirname, basename, extname, join, isAbsolute } from 'node:path';
import { UserError, UserErrors } from '../errors.js';
import { validateYaml } from '../util/yaml-source.js';
import { parseTopologyYaml } from './yaml.js';
import { readTextFile } from './file.adapter.js';
import type { TopologyModel } from './model.js';
import { resolveTopology } from './resolve.js';
import { topologySchema } from './schema.js';

export interface LoadOptions {
  /** Reads a file referenced by the topology; default: relative to the topology file's folder. */
  readFile?: (relPath: string) => { text: string; file: string };
}

/**
 * Parses topology `text` and resolves its references, returning the model even when references
 * are wrong (with those errors), so that `vfab validate` can also run the later checks and
 * report everything in one pass. Syntax and schema errors still throw: there is no model then.
 */
export function loadTopologyPartial(text: string, file = 'topology.yaml', opts: LoadOptions = {}): { model: TopologyModel; errors: UserError[] } {
  const source = parseTopologyYaml(text, file);
  if (source.doc.contents === null) throw new UserError('TOPOLOGY_EMPTY', 'the topology file is empty', { location: { file, line: 1, col: 1 } });
  const doc = validateYaml(source, topologySchema, 'TOPOLOGY');
  return resolveTopology(source, doc, {
    defaultName: basename(file, extname(file)),
    text,
    ...(opts.readFile ? { readFile: opts.readFile } : {}),
  });
}

/** Parses and validates topology `text` (reported as `file` in errors). */
export function loadTopologyText(text: string, file = 'topology.yaml', opts: LoadOptions = {}): TopologyModel {
  const { model, errors } = loadTopologyPartial(text, file, opts);
  if (errors.length > 0) {
    errors.sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0) || (a.location?.col ?? 0) - (b.location?.col ?? 0));
    throw errors.length === 1 ? errors[0]! : new UserErrors(errors);
  }
  return model;
}

/** Reads and validates the topology file at `path`. */
export function loadTopology(path: string, opts: LoadOptions = {}): TopologyModel {
  return loadTopologyText(readTextFile(path), path, fileOptions(path, opts));
}

/** `loadTopologyPartial` of the file at `path`. */
export function loadTopologyFilePartial(path: string, opts: LoadOptions = {}): { model: TopologyModel; errors: UserError[] } {
  return loadTopologyPartial(readTextFile(path), path, fileOptions(path, opts));
}

function fileOptions(path: string, opts: LoadOptions): LoadOptions {
  const dir = dirname(path);
  return {
    readFile:
      opts.readFile ??
      ((rel) => {
        const full = isAbsolute(rel) ? rel : join(dir, rel);
        return { text: readTextFile(full), file: full };
      }),
  };
}
