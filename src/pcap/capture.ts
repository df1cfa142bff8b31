/**
 * Capture wiring: subscribes pcap writers to port hooks (ns-3 style tracing: devices never import
 * pcap; a capture listens on `Port.onFrame`). Timestamps are `sim.now` at the moment a frame
 * crosses the port, so traces are deterministic.
 *
 * Direction: `rx` (frame arriving into the port's owner) is pcapng "inbound", `tx` (sent out of
 * the port) is "outbound", the view of someone running tcpdump on that port.
 */
import type { Port } from '../port/port.js';
import type { Simulation } from '../sim/index.js';
import type { PcapWriter } from './pcap.js';
import type { PcapngWriter } from './pcapng.js';

export type CaptureMode = 'both' | 'rx' | 'tx';

/** Writes the port's frames (both directions by default) to a classic pcap. Returns unsubscribe. */
export function enablePcap(port: Port, sim: Simulation, writer: PcapWriter, opts: { mode?: CaptureMode } = {}): () => void {
  const mode = opts.mode ?? 'both';
  return port.onFrame((_p, dir, frame) => {
    if (mode === 'both' || mode === dir) writer.writePacket(sim.now, frame);
  });
}

export interface PortCapture {
  /** Interface id in the pcapng for each port, in the order given. */
  interfaceIds: Map<Port, number>;
  /** Stops capturing (does not close the writer). */
  stop(): void;
}

/**
 * Adds one IDB per port (in the given order, if_name = port path) and records every frame the
 * ports send (outbound) or receive (inbound).
 */
export function capturePorts(ports: readonly Port[], sim: Simulation, writer: PcapngWriter, opts: { snaplen?: number } = {}): PortCapture {
  const ids = new Map<Port, number>();
  const unsubs: Array<() => void> = [];
  for (const port of ports) {
    if (ids.has(port)) continue;
    const id = writer.addInterface({ name: port.path, ...(opts.snaplen !== undefined ? { snaplen: opts.snaplen } : {}) });
    ids.set(port, id);
    const IN = { direction: 'in' as const };
    const OUT = { direction: 'out' as const };
    unsubs.push(port.onFrame((_p, dir, frame) => writer.writePacket(id, sim.now, frame, dir === 'rx' ? IN : OUT)));
  }
  return {
    interfaceIds: ids,
    stop() {
      for (const u of unsubs.splice(0)) u();
    },
  };
}
