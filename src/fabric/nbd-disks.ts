/**
 * Network storage over NBD inside a run (issue 13 item 4): `hosts.st1.exports.vol1` is an NBD
 * export served on the storage host's own TCP/IP stack (port 10809), and a VM disk
 * `vda: { nbd: st1/vol1, via: storage }` is QEMU's NBD client on the VM's hypervisor, connected
 * from that host's interface `via`. Every `fio:` I/O of the disk then travels as real NBD
 * (fixed-newstyle handshake, structured replies, NBD_CMD_READ/WRITE with cookies) over TCP through
 * the bridges, links and queues between the two hosts:
 *
 *   fio job -> throttle (the VM's virtio-blk: QEMU's place) -> NbdClient on hvX -> TCP ->
 *   NbdServer on st1 -> StorageDevice of the export (service time) -> reply -> TCP -> completion
 *
 * so an I/O's latency is throttle wait + network + device queue/service + network.
 *
 * QEMU fidelity (block/nbd.c, QEMU 7.2):
 * - at most MAX_NBD_REQUESTS = 16 requests in flight per connection; more wait in the client
 *   (`nbd_co_send_request` waits on `free_sema`), here in a FIFO in front of the connection;
 * - the connection is made when the disk opens (run start); I/Os before the handshake ends wait;
 * - `reconnect-delay` 0 (the default): when the connection is lost (`nbd_channel_error` with
 *   -EIO moves to NBD_CLIENT_CONNECTING_NOWAIT) every request in flight fails with EIO and so does
 *   every later one. QEMU has no per-request timeout: a storage host that goes silent (link down)
 *   leaves requests hanging until TCP gives up (tcp_retries2 15, ~15 min of backoff, ETIMEDOUT);
 *   a run that ends first reports them as unanswered. fio stops a job at its first I/O error
 *   (no continue_on_error), and its `error` is 5 (EIO). Reconnection is not modelled.
 * - TCP_NODELAY on the client (block/nbd.c `nbd_establish_connection` sets
 *   `qio_channel_set_delay(false)`); vfab's server also sends without Nagle (a modelling choice).
 *
 * Data: with `data: true` the export is the image itself (reads of unallocated ranges are answered
 * sparsely, as qemu-nbd does); without it the export behaves as a fully allocated disk whose
 * writes are dropped and whose reads return zeros (timing only: every read moves its bytes).
 *
 * Invariants: state per fabric in a WeakMap; deterministic (sim time, PRNG forks named
 * `nbd-backend:<host>.<device>`). Bounded: the wait FIFO holds at most the disk's iodepth; the
 * failure list in the summary keeps the first 16 I/Os.
 */
import { createImage, openImage } from '../block/api.js';
import { MemoryProvider, type Chain } from '../block/chain.js';
import { FileProvider } from '../block/file-backend.adapter.js';
import { UserError } from '../errors.js';
import { chainImage } from '../nbd/block-export.js';
import { NBD_CMD_WRITE, NBD_PORT } from '../nbd/constants.js';
import type { NbdExport, NbdImage, NbdServer } from '../nbd/server.js';
import { nbdServerOnTcp } from '../nbd/tcp.js';
import { readDevice } from '../qos/file.js';
import { Io } from '../qos/io.js';
import { StorageDevice } from '../qos/storage-device.js';
import type { TopologyModel } from '../topology/model.js';
import { topologyPath } from '../topology/paths.js';
import { nearest } from '../util/nearest.js';
import type { YamlPath } from '../util/yaml-source.js';
import { formatSize } from '../util/units.js';
import { formatIpv4 } from '../wire/ip.js';
import type { BuildContext, SummarySection } from './context.js';
import type { FabricFeature } from './feature.js';
import { hostInterface, routeBetween } from './host-interfaces.js';
import { MAX_NBD_REQUESTS, NbdDiskTarget } from './nbd-disk-client.js';
import { validateNbdMigration } from './nbd-migration.js';

export { MAX_NBD_REQUESTS, NbdDiskTarget };

/** Keys of a local disk that mean nothing for a network disk. */
const NS_PER_S = 1_000_000_000;
const LOCAL_KEYS = ['image', 'memory', 'format', 'size', 'backing', 'backing_format', 'cluster_size', 'backend'] as const;

interface ExportDoc {
  image?: string | undefined;
  memory?: number | undefined;
  size?: number | undefined;
  backend?: string | undefined;
  data?: boolean | undefined;
}

function exportsOf(model: TopologyModel, host: string): Record<string, ExportDoc> {
  return (model.doc.hosts?.[host] as { exports?: Record<string, ExportDoc> } | undefined)?.exports ?? {};
}

/** `st1/vol1` -> ['st1', 'vol1'], or undefined. */
function parseRef(ref: string): [string, string] | undefined {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(ref);
  return m ? [m[1]!, m[2]!] : undefined;
}

/** Every NBD configuration error of `model` (exports and network disks), located. */
export function validateNbd(model: TopologyModel): UserError[] {
  const out: UserError[] = [];
  const e = (code: string, path: YamlPath, msg: string, hint?: string): void => {
    out.push(model.source.error(code, path, msg, hint !== undefined ? { hint } : {}));
  };
  for (const h of model.hosts) {
    const exps = exportsOf(model, h.name);
    const backends = Object.keys(model.doc.hosts?.[h.name]?.backends ?? {});
    for (const [name, x] of Object.entries(exps)) {
      const y = [...h.yaml, 'exports', name];
      if ((x.image === undefined) === (x.memory === undefined)) e('NBD_EXPORT_SOURCE', y, `export "${name}" of host ${h.name}: give exactly one of "image" (a file) or "memory" (a size)`);
      if (x.memory !== undefined && x.size !== undefined) e('NBD_EXPORT_SOURCE', [...y, 'size'], `export "${name}": "size" is for an image file; a memory export's size is "memory"`);
      if (x.backend !== undefined && !backends.includes(x.backend)) {
        const g = nearest(x.backend, backends);
        e('NBD_UNKNOWN_BACKEND', [...y, 'backend'], `host ${h.name} has no storage device "${x.backend}"${g ? `; did you mean "${g}"?` : ''}`, backends.length ? `backends: ${backends.join(', ')}` : `declare it under hosts.${h.name}.backends`);
      }
      if ((h.interfaces ?? []).length === 0) e('NBD_NO_INTERFACES', y, `host ${h.name} exports "${name}" but has no interfaces: to serve NBD on`, `add hosts.${h.name}.interfaces.<name>: { bridge: …, ipv4: … }`);
    }
  }
  for (const vm of model.vms) {
    for (const d of vm.disks) {
      const doc = d.doc;
      const y = d.yaml;
      if (doc.reconnect_delay !== undefined) {
        if (doc.nbd === undefined) e('NBD_DISK_OPTION', [...y, 'reconnect_delay'], `disk "${d.name}" of VM ${vm.name}: "reconnect_delay" is for a network disk (nbd: host/export)`);
        // QEMU's reconnect-delay is a uint32 of seconds (qapi/block-core.json BlockdevOptionsNbd)
        else if (doc.reconnect_delay % NS_PER_S !== 0 || doc.reconnect_delay / NS_PER_S > 0xffffffff) e('NBD_RECONNECT_DELAY', [...y, 'reconnect_delay'], `disk "${d.name}" of VM ${vm.name}: reconnect_delay is whole seconds (QEMU reconnect-delay), not ${doc.reconnect_delay} ns`);
      }
      if (doc.nbd === undefined) continue;
      const where = `disk "${d.name}" of VM ${vm.name}`;
      for (const k of LOCAL_KEYS) {
        if (doc[k] === undefined) continue;
        if (k === 'image' || k === 'memory') e('NBD_DISK_SOURCE', [...y, k], `${where}: a disk is either a network disk ("nbd") or a local one ("${k}"), not both`);
        else e('NBD_DISK_OPTION', [...y, k], `${where}: "${k}" does not apply to a network disk (${k === 'backend' ? 'the storage device is the export\'s: hosts.<host>.exports.<name>.backend' : 'the export defines the image'})`);
      }
      const ref = parseRef(doc.nbd);
      if (!ref) {
        e('NBD_DISK_SYNTAX', [...y, 'nbd'], `${where}: "${doc.nbd}" is not <host>/<export> (e.g. st1/vol1)`);
        continue;
      }
      const [host, exp] = ref;
      const sh = model.hosts.find((h) => h.name === host);
      if (!sh) {
        const g = nearest(host, model.hosts.map((h) => h.name));
        e('NBD_UNKNOWN_HOST', [...y, 'nbd'], `${where}: no host "${host}"${g ? `; did you mean "${g}"?` : ''}`);
        continue;
      }
      const names = Object.keys(exportsOf(model, host));
      if (!names.includes(exp)) {
        const g = nearest(exp, names);
        e('NBD_UNKNOWN_EXPORT', [...y, 'nbd'], `${where}: host ${host} has no export "${exp}"${g ? `; did you mean "${g}"?` : ''}`, names.length ? `exports of ${host}: ${names.join(', ')}` : `declare it under hosts.${host}.exports`);
      }
      if (host === vm.host) {
        e('NBD_SAME_HOST', [...y, 'nbd'], `${where}: export ${doc.nbd} is on the VM's own host; NBD here runs host to host (use image/memory for a local disk)`);
        continue;
      }
      if (doc.via === undefined) {
        e('NBD_NEEDS_VIA', y, `${where}: a network disk needs "via: <interface of host ${vm.host}>" (the interface the NBD connection leaves from)`);
        continue;
      }
      const ifs = (model.hosts.find((h) => h.name === vm.host)?.interfaces ?? []).map((i) => i.name);
      if (!ifs.includes(doc.via)) {
        e('NBD_UNKNOWN_VIA', [...y, 'via'], `${where}: host ${vm.host} has no interface "${doc.via}"`, ifs.length ? `interfaces on ${vm.host}: ${ifs.join(', ')}` : `add hosts.${vm.host}.interfaces.${doc.via}: { bridge: …, ipv4: … }`);
        continue;
      }
      const r = routeBetween(model, vm.host, doc.via, host);
      if (!r.ok) e('NBD_NO_ROUTE', [...y, 'via'], `${where}: no route to the storage host: ${r.why}`);
    }
  }
  return out;
}

// --- run time -----------------------------------------------------------------------------------

/** An image that serves timing only: reads zeros, drops writes, fully allocated (no block status). */
function timingImage(size: number): NbdImage {
  return { virtualSize: size, readOnly: false, read: () => undefined, write: () => undefined, discard: () => undefined, writeZeroes: () => undefined, flush: () => undefined };
}

interface ExportRuntime {
  host: string;
  name: string;
  chain: Chain;
  data: boolean;
  device: StorageDevice | undefined;
  backend: string | undefined;
  requests: number;
}

interface NbdRun {
  exports: Map<string, ExportRuntime>;
  targets: Map<string, NbdDiskTarget>;
  servers: NbdServer[];
}

const runs = new WeakMap<BuildContext, NbdRun>();

/** The network disks of a built fabric by `vm.disk` (the disk-I/O feature routes their I/O here). */
export function nbdTargets(ctx: BuildContext): Map<string, NbdDiskTarget> {
  return runs.get(ctx)?.targets ?? new Map<string, NbdDiskTarget>();
}

/** The size of a network disk (its export's), or undefined. */
export function nbdDiskSize(ctx: BuildContext, disk: string): number | undefined {
  const r = runs.get(ctx);
  const t = r?.targets.get(disk);
  return t ? r!.exports.get(t.exportRef)?.chain.virtualSize : undefined;
}

function openExport(ctx: BuildContext, host: string, name: string, x: ExportDoc, y: YamlPath): Chain {
  const fail = (e: unknown, key: string): never => {
    if (e instanceof UserError) throw ctx.source.error(e.code, [...y, key], `export ${host}/${name}: ${e.message}`);
    throw e;
  };
  try {
    if (x.memory !== undefined) {
      const mem = new MemoryProvider();
      const id = `${host}/${name}`;
      createImage(id, { format: 'qcow2', size: x.memory }, mem);
      return openImage(id, {}, mem);
    }
    const path = topologyPath(ctx.model.source.file, x.image!);
    const files = new FileProvider();
    if (!files.exists(path)) {
      if (x.size === undefined) throw new UserError('NBD_EXPORT_MISSING', `image '${x.image}' does not exist; give "size" to create it`);
      createImage(path, { format: 'qcow2', size: x.size });
    }
    return openImage(path, {});
  } catch (e) {
    return fail(e, x.memory !== undefined ? 'memory' : 'image');
  }
}

function buildNbd(ctx: BuildContext): void {
  if (ctx.options.openFiles === false) return;
  const model = ctx.model;
  const used = model.vms.some((vm) => vm.disks.some((d) => d.doc.nbd !== undefined));
  const anyExports = model.hosts.some((h) => Object.keys(exportsOf(model, h.name)).length > 0);
  if (!used && !anyExports) return;
  const run: NbdRun = { exports: new Map(), targets: new Map(), servers: [] };
  runs.set(ctx, run);
  for (const h of model.hosts) {
    const exps = exportsOf(model, h.name);
    if (Object.keys(exps).length === 0) continue;
    const devices = new Map<string, StorageDevice>();
    const served: NbdExport[] = [];
    const byName = new Map<string, ExportRuntime>();
    for (const [name, x] of Object.entries(exps)) {
      const y = [...h.yaml, 'exports', name];
      const chain = openExport(ctx, h.name, name, x, y);
      let device: StorageDevice | undefined;
      if (x.backend !== undefined) {
        device = devices.get(x.backend);
        if (!device) {
          const doc = model.doc.hosts![h.name]!.backends![x.backend]!;
          const spec = readDevice(`${h.name}.${x.backend}`, doc, [...h.yaml, 'backends', x.backend], () => undefined);
          device = new StorageDevice(spec, ctx.sim, ctx.sim.prng.fork(`nbd-backend:${h.name}.${x.backend}`), undefined);
          devices.set(x.backend, device);
        }
      }
      const rt: ExportRuntime = { host: h.name, name, chain, data: x.data === true, device, backend: x.backend, requests: 0 };
      run.exports.set(`${h.name}/${name}`, rt);
      byName.set(name, rt);
      served.push({ name, image: rt.data ? chainImage(chain) : timingImage(chain.virtualSize) });
    }
    const stack = hostInterface(ctx, h.name, h.interfaces![0]!.name)!.stack;
    stack.tcp.listen(NBD_PORT, (conn) => {
      const server = nbdServerOnTcp(conn, {
        exports: served,
        stream: `${h.name}:${NBD_PORT}`,
        // the export's storage device serves each command: its queue and service time
        schedule: (req, runIt) => {
          const rt = byName.get(server.exportName ?? '');
          if (rt) rt.requests++;
          const dev = rt?.device;
          if (!dev) return runIt();
          const io = new Io(0, 0, { ioComplete: (x) => { dev.finish(x); runIt(); } });
          io.dir = req.type === NBD_CMD_WRITE ? 1 : 0;
          io.bytes = req.length;
          io.offset = req.offset;
          dev.submit(io);
        },
      });
      run.servers.push(server);
    }, { config: { nagle: false } });
  }
  for (const vm of model.vms) {
    for (const d of vm.disks) {
      const ref = d.doc.nbd;
      if (ref === undefined) continue;
      const [host] = parseRef(ref)!;
      const via = d.doc.via!;
      const r = routeBetween(model, vm.host, via, host);
      const src = hostInterface(ctx, vm.host, via);
      if (!r.ok || !src) continue;
      const key = `${vm.name}.${d.name}`;
      const dst = r.dst;
      const t = new NbdDiskTarget(ctx, {
        disk: key,
        exportRef: ref,
        exportName: parseRef(ref)![1],
        viaIf: via,
        via: src.model.path,
        src: formatIpv4(src.model.ipv4.address),
        dst: formatIpv4(dst),
        reconnectDelayNs: d.doc.reconnect_delay ?? 0,
        open: () => src.stack.tcp.connect(dst, NBD_PORT, { config: { nagle: false } }),
      });
      t.start();
      run.targets.set(key, t);
    }
  }
}

function summary(ctx: BuildContext): SummarySection | undefined {
  const run = runs.get(ctx);
  if (!run) return undefined;
  const end = (): number => ctx.sim.now;
  const exportsJson = (): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (const [k, x] of run.exports) {
      const dev = x.device;
      o[k] = {
        size: x.chain.virtualSize,
        data: x.data,
        backend: x.backend ?? null,
        requests: x.requests,
        device: dev
          ? { served: dev.served, utilisation: Math.round((end() ? dev.busyNsSum / (end() * dev.spec.parallelism) : 0) * 1e4) / 1e4, max_queue: dev.maxQueued }
          : null,
      };
    }
    return o;
  };
  const disksJson = (): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (const [k, t] of run.targets) {
      o[k] = {
        export: t.exportRef,
        via: t.via,
        src_ip: t.src,
        dst_ip: t.dst,
        port: NBD_PORT,
        connected_ns: t.connectedNs,
        requests: t.requests,
        failed_ios: t.failedIos,
        unanswered_ios: t.unanswered,
        ...(t.lostNs >= 0 ? { lost_ns: t.lostNs, lost_reason: t.lostReason } : {}),
        failures: t.failures,
        // only for disks that can reconnect or did: the summaries of other runs keep their bytes
        ...(t.o.reconnectDelayNs > 0 || t.reconnects > 0
          ? { reconnect_delay_s: t.o.reconnectDelayNs / NS_PER_S, reconnects: t.reconnects, retried_ios: t.retriedIos, expired_ios: t.expiredIos, connection_events: t.events }
          : {}),
      };
    }
    return o;
  };
  return {
    json: () => ({ exports: exportsJson(), disks: disksJson() }),
    text: () =>
      [...run.targets.values()].map((t) => {
        const head = `nbd ${t.disk} -> ${t.exportRef} via ${t.via} (${t.src} -> ${t.dst}:${NBD_PORT}): ${t.requests} requests`;
        if (t.lostNs < 0 && t.failedIos === 0) return `${head}${t.unanswered ? `, ${t.unanswered} unanswered at the end` : ''}`;
        if (t.o.reconnectDelayNs > 0 || t.reconnects > 0) return `${head}; ${reconnectText(t)}${t.unanswered ? `, ${t.unanswered} unanswered at the end` : ''}`;
        const f = t.failures[0];
        return `${head}; connection lost at ${(t.lostNs / 1e9).toFixed(3)}s (${t.lostReason}): ${t.failedIos} I/Os failed with EIO${f ? ` (first: ${f.op} ${formatSize(f.length)} at offset ${f.offset})` : ''}${t.unanswered ? `, ${t.unanswered} unanswered at the end` : ''}`;
      }),
  };
}

const secs = (ns: number): string => `${(ns / 1e9).toFixed(3)}s`;

/** What became of each lost connection of a disk that reconnects (reconnect-delay > 0). */
function reconnectText(t: NbdDiskTarget): string {
  const parts = t.events.map((ev) => {
    const head = `connection lost at ${secs(ev.lost_ns)} (${ev.reason})`;
    if (ev.reconnected_ns !== null) return `${head}, reconnected at ${secs(ev.reconnected_ns)}: ${ev.retried_ios} I/Os retried`;
    if (ev.expired_ns !== null) return `${head}, not back within reconnect-delay ${t.o.reconnectDelayNs / NS_PER_S}s`;
    return `${head}, not reconnected`;
  });
  const f = t.failures[0];
  const failed = t.failedIos === 0 ? 'no I/O failed' : `${t.failedIos} I/Os failed with EIO${t.expiredIos ? ` (${t.expiredIos} when reconnect-delay ran out)` : ''}${f ? ` (first: ${f.op} ${formatSize(f.length)} at offset ${f.offset} at ${secs(f.at_ns)})` : ''}`;
  return `${parts.join('; ')}; ${failed}`;
}

function close(ctx: BuildContext): void {
  const run = runs.get(ctx);
  if (!run) return;
  runs.delete(ctx);
  for (const x of run.exports.values()) {
    try {
      if (x.data) x.chain.flush();
    } finally {
      x.chain.close();
    }
  }
}

/** NBD exports and network disks as a fabric feature (`feature.ts`). */
export const nbdFeature: FabricFeature = {
  name: 'nbd',
  validate: (model) => [...validateNbd(model), ...validateNbdMigration(model)],
  // before disk-io's attached stage: it routes network disks' I/O through `nbdTargets`
  build: { attached: buildNbd },
  summary,
  close,
};
