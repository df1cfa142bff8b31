/**
 * `Fabric`: a built world, ready to run — the library's main object.
 *
 *   const model = loadTopology('topologies/quickstart.yaml');
 *   const fabric = new Fabric(model, { seed: 1 });
 *   fabric.capturePcapng(new MemorySink());
 *   const summary = fabric.run({ untilNs: seconds(3) });
 *
 * or in one call: `runTopology('topologies/quickstart.yaml', { pcapng: 'out/q.pcapng' })`.
 *
 * Determinism: the same model and seed give the same summary JSON and the same trace bytes. The
 * seed feeds `sim.prng`; components fork their own streams from stable names (link loss forks
 * `link:<name>`). Nothing here reads a wall clock.
 */
import { dirname } from 'node:path';
import { PacketOrigins } from '../sim/packet-origins.js';
import { UserError, UserErrors } from '../errors.js';
import type { EventSink } from '../port/nic.js';
import type { Port } from '../port/port.js';
import { Simulation } from '../sim/simulation.js';
import { PcapngWriter, PcapWriter, type ByteSink } from '../pcap/index.js';
import type { TopologyModel } from '../topology/model.js';
import { DEFAULTS } from '../topology/model.js';
import { buildFabric, EventLog, type FabricContext } from './build.js';
import { portSelector } from './glob.js';
import { appResult, scheduleScenario, type ScheduledApp } from './scenario.js';
import { portCounters, renderSummary, type LinkSummary, type RunSummary } from './summary.js';
import { FABRIC_FEATURES } from './features.js';
import { runWithControllers, type OpenflowRunOptions } from './openflow-run.adapter.js';
import { VFAB_VERSION } from '../version.js';
import { bridgeTables, topologyHash } from './tables.js';
import { yieldToEventLoop } from './event-loop.adapter.js';

export interface FabricOptions {
  /** Run seed; default: the topology's `seed`, else 1. */
  seed?: number;
  /** Also receive every fabric event as it happens. */
  events?: EventSink;
  /** Folder for relative paths in the topology; default: the topology file's folder. */
  baseDir?: string;
  /** Events kept in the summary (default 1000; `events_total` counts all). */
  eventLimit?: number;
}

export interface RunAsyncOptions {
  untilNs?: number;
  /** Events per slice between yields to the event loop (default 100,000). */
  sliceEvents?: number;
  yieldFn?: () => Promise<void>;
  /** After each slice: simulated time now, the end time, events run so far. */
  onProgress?: (nowNs: number, untilNs: number, events: number) => void;
  /** When aborted (Ctrl-C), the run stops after the current slice; the summary is marked `partial`. */
  signal?: AbortSignal;
}

export interface CaptureOptions {
  /** Port selection; default: the topology's `capture.ports` (default "all"). */
  ports?: 'all' | string[];
  /** Default: the topology's `capture.packet_ids` (pcapng only). */
  packetIds?: boolean;
  /** Default: the topology's `capture.snaplen` (65535). */
  snaplen?: number;
}

/** Every configuration error the fabric's features find, on top of `loadTopology`'s. */
export function checkTopology(model: TopologyModel): void {
  const errors = FABRIC_FEATURES.flatMap((f) => f.validate?.(model) ?? []);
  if (errors.length === 0) return;
  errors.sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0) || (a.location?.col ?? 0) - (b.location?.col ?? 0));
  throw errors.length === 1 ? errors[0]! : new UserErrors(errors);
}

interface Capture {
  select: (path: string) => boolean;
  add(port: Port): void;
  close(): void;
}

export class Fabric {
  readonly sim: Simulation;
  readonly model: TopologyModel;
  readonly seed: number;
  readonly ctx: FabricContext;
  private readonly log: EventLog;
  private readonly apps: ScheduledApp[];
  private readonly captures: Capture[] = [];
  private ran = false;

  constructor(model: TopologyModel, opts: FabricOptions = {}) {
    checkTopology(model);
    this.model = model;
    this.seed = opts.seed ?? model.seed ?? 1;
    this.sim = new Simulation(this.seed);
    this.log = new EventLog(opts.eventLimit ?? 1000);
    const userSink = opts.events;
    const sink: EventSink = userSink
      ? (e) => {
          this.log.sink(e);
          userSink(e);
        }
      : this.log.sink;
    this.ctx = buildFabric(model, {
      sim: this.sim,
      events: sink,
      baseDir: opts.baseDir ?? dirname(model.file),
      onPort: (p) => {
        for (const c of this.captures) if (c.select(p.path)) c.add(p);
      },
    });
    this.apps = scheduleScenario(this.ctx);
  }

  /** The scenario's apps (live objects), in scenario order: what expectations read. */
  get scenarioApps(): readonly ScheduledApp[] {
    return this.apps;
  }

  /** All ports, sorted by path. */
  get ports(): Port[] {
    return this.ctx.ports.all();
  }

  port(path: string): Port | undefined {
    return this.ctx.ports.get(path);
  }

  private selection(opts: CaptureOptions): (path: string) => boolean {
    return portSelector(opts.ports ?? this.model.capture.ports);
  }

  /**
   * Captures the selected ports into one pcapng on `sink` (one IDB per port, `if_name` = port
   * path, registration order; ports added later in the run — a migrated NIC's new bridge port —
   * get their IDB when they appear). Returns the writer; `close()` or the end of `runTopology`
   * closes it.
   */
  capturePcapng(sink: ByteSink, opts: CaptureOptions = {}): PcapngWriter {
    const snaplen = opts.snaplen ?? this.model.capture.snaplen;
    const writer = new PcapngWriter(sink, { snaplen });
    const sim = this.sim;
    const IN = { direction: 'in' as const };
    const OUT = { direction: 'out' as const };
    const seen = new Set<Port>();
    // packet ids: numbered 1, 2, … in the order packets are first captured (deterministic)
    const origins = opts.packetIds ?? this.model.capture.packetIds ? (sim.packetOrigins ??= new PacketOrigins()) : undefined;
    const packetIds = new WeakMap<Uint8Array, number>();
    const IN_ID = { direction: 'in' as const, packetId: 0 };
    const OUT_ID = { direction: 'out' as const, packetId: 0 };
    let lastId = 0;
    const idOf = (frame: Uint8Array): number => {
      const o = origins!.origin(frame);
      let id = packetIds.get(o);
      if (id === undefined) packetIds.set(o, (id = ++lastId));
      return id;
    };
    const add = (port: Port): void => {
      if (seen.has(port)) return;
      seen.add(port);
      const id = writer.addInterface({ name: port.path });
      if (origins) {
        port.onFrame((_p, dir, frame) => {
          // one scratch record per direction: writePacket reads it before returning
          const o = dir === 'rx' ? IN_ID : OUT_ID;
          o.packetId = idOf(frame);
          writer.writePacket(id, sim.now, frame, o);
        });
      }
      else port.onFrame((_p, dir, frame) => writer.writePacket(id, sim.now, frame, dir === 'rx' ? IN : OUT));
    };
    const c: Capture = { select: this.selection(opts), add, close: () => writer.close() };
    for (const p of this.ctx.portOrder) if (c.select(p.path)) add(p);
    this.captures.push(c);
    return writer;
  }

  /** Captures each selected port into its own classic pcap; `open(path)` gives the sink for port `path`. */
  capturePcapPerPort(open: (portPath: string) => ByteSink, opts: CaptureOptions = {}): void {
    const snaplen = opts.snaplen ?? this.model.capture.snaplen;
    const sim = this.sim;
    const writers: PcapWriter[] = [];
    const seen = new Set<Port>();
    const add = (port: Port): void => {
      if (seen.has(port)) return;
      seen.add(port);
      const w = new PcapWriter(open(port.path), { snaplen });
      writers.push(w);
      port.onFrame((_p, _dir, frame) => w.writePacket(sim.now, frame));
    };
    const c: Capture = { select: this.selection(opts), add, close: () => writers.forEach((w) => w.close()) };
    for (const p of this.ctx.portOrder) if (c.select(p.path)) add(p);
    this.captures.push(c);
  }

  /**
   * Runs the scenario until `untilNs` (default: the topology's `duration`, else 10 s) and returns
   * the summary. A fabric runs once.
   */
  run(opts: { untilNs?: number; maxEvents?: number } = {}): RunSummary {
    if (this.ran) throw new UserError('FABRIC_ALREADY_RAN', 'a Fabric runs once; build a new one to run again');
    if (this.ctx.openflow.length > 0) {
      throw new UserError('OPENFLOW_NEEDS_ASYNC', `bridge ${this.ctx.openflow[0]!.path} talks to an OpenFlow controller: run it with runAsync()/runTopologyAsync() (vfab run does)`);
    }
    this.ran = true;
    const untilNs = opts.untilNs ?? this.model.durationNs ?? DEFAULTS.durationNs;
    this.sim.run({ untilNs, ...(opts.maxEvents !== undefined ? { maxEvents: opts.maxEvents } : {}) });
    return this.summary();
  }

  /**
   * Like `run`, but yields to the Node event loop every `sliceEvents` events (default 100,000)
   * so signal handlers (Ctrl-C closing trace files) and other I/O get a turn during long runs.
   * The simulation itself is unchanged: same events, same order, same results as `run`.
   */
  async runAsync(opts: RunAsyncOptions & { openflow?: OpenflowRunOptions } = {}): Promise<RunSummary> {
    if (this.ran) throw new UserError('FABRIC_ALREADY_RAN', 'a Fabric runs once; build a new one to run again');
    this.ran = true;
    const untilNs = opts.untilNs ?? this.model.durationNs ?? DEFAULTS.durationNs;
    const slice = opts.sliceEvents ?? 100_000;
    const yieldFn = opts.yieldFn ?? yieldToEventLoop;
    if (this.ctx.openflow.length > 0) {
      await runWithControllers(this.ctx, untilNs, slice, opts.openflow ?? {});
      return this.summary();
    }
    let partial = false;
    for (;;) {
      const r = this.sim.run({ untilNs, maxEvents: slice });
      opts.onProgress?.(this.sim.now, untilNs, this.sim.eventsRun);
      if (r.reason !== 'max-events') break;
      await yieldFn();
      if (opts.signal?.aborted) {
        // Stop at the current instant: the last event run; nothing after it happens.
        partial = true;
        break;
      }
    }
    const summary = this.summary();
    if (partial) summary.partial = true;
    return summary;
  }

  /** The summary as of now (also valid mid-run from an event handler). */
  summary(): RunSummary {
    const links: Record<string, LinkSummary> = {};
    for (const [name, l] of this.ctx.links) {
      const s = l.stats();
      const d = (x: typeof s.ab) => ({
        frames: x.frames, bytes: x.bytes, queue_full: x.queueFull, lost: x.lost, link_down: x.linkDown, max_queued: x.maxQueued,
        ...(Object.keys(x.qdiscDrops).length > 0 || x.ecnMarks > 0 ? { qdisc_drops: x.qdiscDrops, ecn_marks: x.ecnMarks } : {}),
      });
      links[name] = { a: l.a.path, b: l.b.path, up: l.up, a_to_b: d(s.ab), b_to_a: d(s.ba) };
    }
    const summary: RunSummary = {
      vfab_version: VFAB_VERSION,
      topology: this.model.name,
      topology_file: this.model.file,
      topology_sha256: topologyHash(this.model),
      seed: this.seed,
      simulated_ns: this.sim.now,
      sim_events: this.sim.eventsRun,
      ports: portCounters(this.ctx.ports.all()),
      links,
      apps: this.apps.map(appResult),
      events: [...this.log.list],
      events_total: Object.fromEntries(Object.entries(this.log.totals).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    };
    for (const [key, sec] of this.ctx.sections) summary[key] = sec.json();
    summary['bridges'] = bridgeTables(this.ctx.bridges);
    return summary;
  }

  /** The human-readable summary table. */
  renderSummary(summary: RunSummary = this.summary()): string {
    const sections = [...this.ctx.sections].map(([key, s]) => ({ key, lines: s.text ? s.text() : [] }));
    return renderSummary(summary, sections);
  }

  /** Closes every capture writer and what the features opened (disks …) (idempotent). */
  close(): void {
    for (const c of this.captures.splice(0)) c.close();
    for (const f of FABRIC_FEATURES) f.close?.(this.ctx);
  }
}
