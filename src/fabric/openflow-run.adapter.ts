/**
 * The run loop of a fabric whose bridges talk to real OpenFlow controllers (issue 15): virtual
 * time advances in slices; whenever a bridge's message reaches a controller the loop stops and
 * settles with the real processes (`openflow/controller.adapter.ts`) before going on. With
 * `serve`, the loop is also paced against the wall clock (`speed` virtual seconds per wall
 * second; 0 = as fast as the controllers allow) and keeps running until `untilNs`, so real
 * clients (`ovs-ofctl`) can connect to `ptcp:` targets meanwhile.
 */
import { ControllerHub } from '../openflow/controller.adapter.js';
import type { FabricContext } from './build.js';

export interface OpenflowRunOptions {
  /** Wall-clock silence that ends a controller's answer (ms, default 10). */
  quietMs?: number;
  probeTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Pace virtual time against the wall clock (vfab run --serve). */
  serve?: boolean;
  /** With `serve`: virtual seconds per wall second; 0 = unpaced (default 1). */
  speed?: number;
  /** Called once the sockets are up (serve mode: the ptcp ports are listening). */
  onListening?: () => void;
  /** Stops a serve run early (Ctrl-C). */
  signal?: AbortSignal;
}

export async function runWithControllers(ctx: FabricContext, untilNs: number, slice: number, o: OpenflowRunOptions): Promise<ControllerHub> {
  const sim = ctx.sim;
  const hub = new ControllerHub({
    sim,
    report: (e) => ctx.events({ ...e, time_ns: sim.now }),
    ...(o.quietMs !== undefined ? { quietMs: o.quietMs } : {}),
    ...(o.probeTimeoutMs !== undefined ? { probeTimeoutMs: o.probeTimeoutMs } : {}),
    ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
  });
  try {
    await hub.start(ctx.openflow);
    o.onListening?.();
    const speed = o.serve ? (o.speed ?? 1) : 0;
    const wall0 = Date.now();
    const virt0 = sim.now;
    for (;;) {
      if (o.signal?.aborted) break;
      let limit = untilNs;
      if (speed > 0) limit = Math.min(untilNs, virt0 + Math.floor((Date.now() - wall0) * 1e6 * speed));
      const r = sim.run({ untilNs: limit, maxEvents: slice });
      if (hub.wantsSettle) {
        await hub.settle();
        continue;
      }
      if (o.serve) {
        hub.poll();
        if (sim.now >= untilNs && r.reason !== 'max-events') break;
        if (r.reason === 'idle' || r.reason === 'until') {
          // Nothing to do in virtual time yet: let wall time pass (and clients talk).
          await new Promise<void>((resolve) => setTimeout(resolve, 2));
          if (r.reason === 'idle' && speed === 0) {
            // Unpaced and idle: time jumps to the next client message or to the end.
            if (sim.pendingEvents === 0) sim.run({ untilNs: Math.min(untilNs, sim.now + 1_000_000) });
          }
        } else await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      if (r.reason !== 'max-events' && r.reason !== 'stopped') break;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    await hub.close();
  }
  return hub;
}
