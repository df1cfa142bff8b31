/**
 * `runTopology`: load, build, capture to files, run, close — what `vfab run` does, as one call.
 *
 * Trace files are complete whatever happens: on success they are closed at the end; when the run
 * throws they are closed before the error propagates; with `closeOnExit` (the CLI) Ctrl-C and
 * SIGTERM close them too (`pcap/file-sink.adapter.ts`).
 */
import { dirname, join } from 'node:path';
import { makeUserDir, withUserPath } from '../util/user-file.adapter.js';
import { closeAllOnExit, FileSink } from '../pcap/file-sink.adapter.js';
import type { ByteSink } from '../pcap/index.js';
import type { EventSink } from '../port/nic.js';
import { loadTopology, loadTopologyText } from '../topology/load.js';
import type { TopologyModel } from '../topology/model.js';
import { Fabric } from './fabric.js';
import type { OpenflowRunOptions } from './openflow-run.adapter.js';
import type { RunSummary } from './summary.js';

export interface RunTopologyOptions {
  /** Default: the topology's `seed`, else 1. */
  seed?: number;
  /** Default: the topology's `duration`, else 10 s. */
  untilNs?: number;
  /** Write one classic pcap per captured port into this folder (`<port path>.pcap`). */
  pcapDir?: string;
  /** Write one pcapng of every captured port to this file. */
  pcapng?: string;
  /** Or to this sink (tests, benchmarks). */
  pcapngSink?: ByteSink;
  /** Port selection overriding the topology's `capture.ports`. */
  capturePorts?: 'all' | string[];
  events?: EventSink;
  /** Install SIGINT/SIGTERM/exit handlers that close trace files (the CLI does). */
  closeOnExit?: boolean;
  /** Folder for relative paths in the topology (default: the file's folder). */
  baseDir?: string;
  /** Bridges with OpenFlow controllers: synchronisation and serve-mode options. */
  openflow?: OpenflowRunOptions;
  /** `runTopologyAsync`: progress after each slice of events. */
  onProgress?: (nowNs: number, untilNs: number, events: number) => void;
  /** `runTopologyAsync`: stop early (Ctrl-C); the summary is marked `partial`, traces are closed. */
  signal?: AbortSignal;
  /** `runTopologyAsync`: events per slice (default 100,000). */
  sliceEvents?: number;
  /** Render the human-readable summary into `text` (default true; `vfab run --json` does not print it). */
  summaryText?: boolean;
}

export interface RunResult {
  summary: RunSummary;
  /** The human-readable summary ('' with `summaryText: false`). */
  text: string;
  /** Trace files written. */
  files: string[];
  fabric: Fabric;
}

/** Input: a topology file path, `{ text, file? }` YAML, or a model from `loadTopology`. */
export type TopologyInputSource = string | { text: string; file?: string } | TopologyModel;

export function toModel(input: TopologyInputSource): TopologyModel {
  if (typeof input === 'string') return loadTopology(input);
  if ('text' in input) return loadTopologyText(input.text, input.file ?? 'topology.yaml');
  return input;
}

export function runTopology(input: TopologyInputSource, opts: RunTopologyOptions = {}): RunResult {
  const { fabric, files } = prepare(input, opts);
  try {
    const summary = fabric.run(opts.untilNs !== undefined ? { untilNs: opts.untilNs } : {});
    return { summary, text: opts.summaryText === false ? '' : fabric.renderSummary(summary), files, fabric };
  } finally {
    fabric.close();
  }
}

/**
 * `runTopology` for long runs and the CLI: the simulation yields to the event loop between
 * slices of events, so Ctrl-C (with `closeOnExit`) stops the run and leaves complete traces.
 */
export async function runTopologyAsync(input: TopologyInputSource, opts: RunTopologyOptions = {}): Promise<RunResult> {
  const { fabric, files } = prepare(input, opts);
  try {
    const summary = await fabric.runAsync({
      ...(opts.untilNs !== undefined ? { untilNs: opts.untilNs } : {}),
      ...(opts.openflow !== undefined ? { openflow: opts.openflow } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.sliceEvents !== undefined ? { sliceEvents: opts.sliceEvents } : {}),
    });
    return { summary, text: opts.summaryText === false ? '' : fabric.renderSummary(summary), files, fabric };
  } finally {
    fabric.close();
  }
}

/**
 * A trace file the user named: a directory given as the file, a file given as the folder, a
 * read-only place… are exit 2 naming the path and the reason (issue 10 #9), never an internal
 * error.
 */
function userFileSink(path: string): FileSink {
  makeUserDir(dirname(path), 'PCAP_OUTPUT');
  return withUserPath(path, 'write', 'PCAP_OUTPUT', () => new FileSink(path));
}

function prepare(input: TopologyInputSource, opts: RunTopologyOptions): { fabric: Fabric; files: string[] } {
  const model = toModel(input);
  // With a signal the caller owns Ctrl-C (stop, close, partial summary); files still close on exit.
  if (opts.closeOnExit) closeAllOnExit(opts.signal ? { sigint: false } : {});
  const fabric = new Fabric(model, {
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.events ? { events: opts.events } : {}),
    ...(opts.baseDir !== undefined ? { baseDir: opts.baseDir } : {}),
  });
  const files: string[] = [];
  const sel = opts.capturePorts !== undefined ? { ports: opts.capturePorts } : {};
  try {
    if (opts.pcapng !== undefined) {
      fabric.capturePcapng(userFileSink(opts.pcapng), sel);
      files.push(opts.pcapng);
    }
    if (opts.pcapngSink) fabric.capturePcapng(opts.pcapngSink, sel);
    if (opts.pcapDir !== undefined) {
      const dir = opts.pcapDir;
      fabric.capturePcapPerPort((path) => {
        const f = join(dir, `${path}.pcap`);
        files.push(f);
        return userFileSink(f);
      }, sel);
    }
  } catch (e) {
    fabric.close();
    throw e;
  }
  return { fabric, files };
}
