/**
 * Replays a qemu-io session through vfab's throttle model, for the fidelity data recorded from
 * real QEMU (test/fixtures/qemu-throttle/*.json, `record.mjs`).
 *
 * qemu-io issues either synchronous requests (one at a time: queue depth 1) or `aio_*` requests
 * (all queued at once). For a group shared by two disks the recording drives a quorum node whose
 * two children are throttle nodes in the same group: each write goes to child 0 then child 1, and
 * completes when both have; with `read-pattern=fifo` a read goes to child 0 only. The backend is
 * taken as instantaneous (pre-written image, page cache).
 */
import { Simulation } from '../sim/index.js';
import { ThrottleGroup, type GateHost, type GateRequest } from '../block/throttle/group.js';
import { QemuMeter } from '../block/throttle/meters.js';
import type { QemuLimits } from '../block/throttle/qemu-config.js';
import type { EventId } from '../sim/queue.js';

export interface ReplayRequest {
  op: 'read' | 'write';
  bytes: number;
}

export interface ReplayCase {
  limits: QemuLimits;
  requests: ReplayRequest[];
  issue: 'sync' | 'aio';
  /** 1 = plain throttle node; 2 = quorum over two members of one group. */
  groupDisks: 1 | 2;
  /** Quorum `read-pattern=fifo`: reads go to the first child only (writes always go to all). */
  readPattern?: 'quorum' | 'fifo' | undefined;
}

interface Req extends GateRequest {
  parent: number;
}

/** Completion times (ns after the first completion), in completion order, and the directions. */
export function replayQemu(c: ReplayCase): { completionNs: number[]; ops: Array<'read' | 'write'> } {
  const sim = new Simulation(1);
  const timers: Array<Array<EventId | undefined>> = [];
  const done: number[] = [];
  const ops: Array<'read' | 'write'> = [];
  const fanout = (r: ReplayRequest): number => (r.op === 'read' && c.readPattern === 'fifo' ? 1 : c.groupDisks);
  const childrenLeft = Int32Array.from(c.requests, fanout);
  let next = 0;
  const issue = (i: number): void => {
    const r = c.requests[i]!;
    for (let m = 0; m < fanout(r); m++) group.submit(m, { dir: r.op === 'read' ? 0 : 1, bytes: r.bytes, parent: i });
  };
  const host: GateHost<Req> = {
    now: () => sim.now,
    armTimer(member, dir, at) {
      const row = (timers[member] ??= []);
      row[dir]?.cancel();
      row[dir] = sim.scheduleAt(at, () => group.timerFired(member, dir));
    },
    admit(req) {
      // instantaneous backend: completes in this instant, after the current step
      sim.schedule(0, () => {
        if (--childrenLeft[req.parent]! > 0) return;
        done.push(sim.now);
        ops.push(c.requests[req.parent]!.op);
        if (c.issue === 'sync' && next < c.requests.length) issue(next++);
      });
    },
  };
  const group: ThrottleGroup<Req> = new ThrottleGroup('tg0', new QemuMeter(c.limits), host, c.groupDisks);
  if (c.issue === 'sync') issue(next++);
  else while (next < c.requests.length) issue(next++);
  sim.run();
  const first = done[0] ?? 0;
  return { completionNs: done.map((t) => t - first), ops };
}
