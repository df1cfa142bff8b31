/**
 * File sinks for traces: synchronous writes (`fs.writeSync`) so that when a run ends, fails or is
 * interrupted the file already holds every complete block handed to it. `closeAllOnExit()` makes
 * Ctrl-C (SIGINT), SIGTERM and process exit flush and close every open sink (writers flush their
 * buffers through `beforeClose`), so an interrupted run still leaves valid pcap/pcapng files.
 * This is an adapter: the only place in pcap/ that touches `node:fs` and `process`.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ByteSink } from './sink.js';

const open = new Set<FileSink>();

export class FileSink implements ByteSink {
  private fd: number | null;
  beforeClose?: (() => void) | undefined;
  bytesWritten = 0;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'w');
    open.add(this);
  }

  write(chunk: Uint8Array): void {
    const fd = this.fd;
    if (fd === null) throw new Error(`write to closed file sink ${this.path}`);
    let off = 0;
    while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    this.bytesWritten += chunk.length;
  }

  /** Flushes the writer using this sink (if any) and closes the file. Idempotent. */
  close(): void {
    if (this.fd === null) return;
    const hook = this.beforeClose;
    this.beforeClose = undefined;
    try {
      hook?.();
    } finally {
      const fd = this.fd;
      this.fd = null;
      open.delete(this);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- hook() may re-enter close(); TS keeps the narrowing across the call
      if (fd !== null) closeSync(fd);
    }
  }
}

/** Closes every open FileSink (best effort: one failing does not stop the others). */
export function closeAllFileSinks(): void {
  for (const s of [...open]) {
    try {
      s.close();
    } catch {
      // keep closing the rest; the process is ending anyway
    }
  }
}

let installed = false;

/**
 * Installs (once) handlers that close all open sinks on `exit`, SIGINT and SIGTERM. After a
 * signal the process exits with 128 + signal number (130 for Ctrl-C, 143 for SIGTERM), as a
 * shell reports a process killed by that signal.
 */
export function closeAllOnExit(opts: { sigint?: boolean } = {}): void {
  if (installed) return;
  installed = true;
  process.on('exit', closeAllFileSinks);
  const onSignal = (code: number) => () => {
    closeAllFileSinks();
    process.exit(code);
  };
  // `sigint: false`: the caller handles Ctrl-C itself (vfab run stops the simulation, closes the
  // traces and prints a partial summary); files are still closed on exit and SIGTERM.
  if (opts.sigint !== false) process.once('SIGINT', onSignal(130));
  process.once('SIGTERM', onSignal(143));
}
