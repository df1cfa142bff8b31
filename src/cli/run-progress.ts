/**
 * `vfab run`'s progress bar on a terminal: simulated time against the run's end, simulation
 * events per wall-clock second, and the wall time left (cli-progress's ETA from the simulated-time
 * rate). Drawn on stderr, throttled by cli-progress; absent when stdout is not a TTY or with --json.
 */
import cliProgress from 'cli-progress';
import { formatDuration as formatTime } from '../util/axis.js';

export interface RunProgress {
  update(nowNs: number, untilNs: number, events: number): void;
  stop(): void;
}

export function runProgress(enabled: boolean): RunProgress | undefined {
  if (!enabled) return undefined;
  const bar = new cliProgress.SingleBar(
    { format: 'simulating [{bar}] {sim} of {end} | {eps} events/s | {eta_formatted} left', hideCursor: true, etaBuffer: 20, fps: 10 },
    cliProgress.Presets.shades_classic,
  );
  const t0 = Date.now();
  let started = false;
  return {
    update(nowNs, untilNs, events) {
      const wall = Math.max(1, Date.now() - t0) / 1000;
      const payload = { sim: formatTime(nowNs), end: formatTime(untilNs), eps: Math.round(events / wall).toLocaleString('en-US') };
      const total = Math.max(1, Math.round(untilNs / 1e6));
      if (!started) {
        bar.start(total, 0, payload);
        started = true;
      }
      bar.update(Math.min(total, Math.round(nowNs / 1e6)), payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
