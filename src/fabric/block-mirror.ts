/**
 * Block migration (issue 13 item 5): `migrate: { vm, to, via: mgmt, storage: mirror }` copies the
 * VM's local disks to the destination host over NBD before the RAM migration, the way libvirt
 * drives QEMU for `virsh migrate --copy-storage-all` (docs/interop/live-block-operations.rst,
 * "QMP invocation for live storage migration with drive-mirror + NBD"; libvirt
 * src/qemu/qemu_migration.c `qemuMigrationDstStartNBDServer`, `qemuMigrationSrcNBDStorageCopy`):
 *
 *   1. destination: `nbd-server-start` on the `via` interface's address + `nbd-server-add` of an
 *      empty image of the same size per disk (export name = the disk's name);
 *   2. source: `drive-mirror` (`sync: full`) of each disk to `nbd://dst:10809/<disk>`: one NBD
 *      connection per disk from the source host's stack (`nbd/mirror.ts` is the job: only
 *      allocated clusters travel as NBD_CMD_WRITE, zero/unallocated ranges as WRITE_ZEROES, the
 *      guest's writes during the copy dirty a bitmap and are sent again);
 *   3. when every job is ready (BLOCK_JOB_READY), the RAM migration starts; libvirt waits for
 *      that before `migrate` (`qemuMigrationSrcNBDStorageCopyReady`), so the two do not overlap
 *      except that the ready jobs keep copying new writes while RAM is copied;
 *   4. the VM pauses for stop-and-copy; the jobs drain (QEMU drains all block I/O when the VM
 *      stops) and flush; the switchover waits for RAM and disks both, then the VM's disks are the
 *      targets (the pivot: later fio I/O goes there).
 *
 * Data: with the disk's `data: true` the guest's fio writes land in the source image, the mirror
 * reads real bytes, and the target is a real image — `<stem>.<to-host><ext>` next to the source
 * (created, overwriting, as `qemu-img create` does), or a memory image for a memory disk — that
 * `qemu-img compare`s equal to the source. Without it the copy is timing only: payloads carry
 * zeros of the right length, the source is asked only for its allocation map, the target is a
 * sink (no file is written).
 *
 * The NBD server listens on 10809 (the IANA port; libvirt allocates from its migration port range
 * instead) or the next free port when that host already listens there.
 */
import { basename, dirname, extname, join } from 'node:path';
import { createImage, openImage } from '../block/api.js';
import { MemoryProvider, type Chain } from '../block/chain.js';
import type { UserError } from '../errors.js';
import type { StorageMigration } from '../migration/index.js';
import { chainImage, MirrorJob, NBD_PORT, nbdClientOnTcp, nbdServerOnTcp, type NbdClient, type NbdImage } from '../nbd/index.js';
import type { TcpConnection } from '../tcp/connection.js';
import type { DiskModel, MigrateAction, ScenarioStep, TopologyModel, VmModel } from '../topology/model.js';
import { nearest } from '../util/yaml-source.js';
import { formatIpv4 } from '../wire/ip.js';
import type { BuildContext } from './context.js';
import { diskImages } from './disks.js';
import { storageDiskRun } from './disk-io.js';
import type { FabricFeature } from './feature.js';
import { hostInterface, routeBetween } from './host-interfaces.js';
import { deviceIo, deviceSchedule, mirrorDevice, type MirrorDevice } from './mirror-devices.js';

type MigrateStep = ScenarioStep & { action: MigrateAction };

/** Shared storage stays in place: `shared: true`, or a network disk (`nbd:`). */
export function isSharedDisk(d: DiskModel): boolean {
  return d.doc.shared === true || (d.doc as { nbd?: unknown }).nbd !== undefined;
}

/** Where the copy of a file disk goes on host `to`: `dir/vm1-vda.qcow2` → `dir/vm1-vda.hv2.qcow2`. */
export function mirrorTargetPath(imagePath: string, to: string): string {
  const ext = extname(imagePath);
  return join(dirname(imagePath), `${basename(imagePath, ext)}.${to}${ext}`);
}

/** The disks a step mirrors (validated: they exist and are not shared). */
function mirroredDisks(vm: VmModel, doc: MigrateAction['doc']): DiskModel[] {
  if (doc.migrate_disks) return vm.disks.filter((d) => doc.migrate_disks!.includes(d.name));
  return vm.disks.filter((d) => !isSharedDisk(d));
}

/** Located errors of every `storage: mirror` step. */
export function validateBlockMirror(model: TopologyModel): UserError[] {
  const out: UserError[] = [];
  const used = new Map<string, string>();
  for (const vm of model.vms) {
    for (const d of vm.disks) {
      if (d.imagePath !== undefined) used.set(d.imagePath, `the image of disk ${vm.name}.${d.name}`);
      if (d.backingPath !== undefined) used.set(d.backingPath, `the backing file of disk ${vm.name}.${d.name}`);
    }
  }
  for (const step of model.scenario) {
    if (step.action.kind !== 'migrate') continue;
    const doc = step.action.doc;
    const y = [...step.yaml, 'migrate'];
    if (doc.storage !== 'mirror') {
      if (doc.migrate_disks !== undefined) out.push(model.source.error('MIGRATION_MIRROR', [...y, 'migrate_disks'], '"migrate_disks" applies to a block migration; add "storage: mirror"'));
      if (doc.storage_speed !== undefined) out.push(model.source.error('MIGRATION_MIRROR', [...y, 'storage_speed'], '"storage_speed" is the block mirror\'s rate limit; add "storage: mirror"'));
      continue;
    }
    const vm = model.vms.find((v) => v.name === doc.vm);
    if (!vm) continue;
    if (doc.via === undefined) {
      out.push(model.source.error('MIGRATION_MIRROR', [...y, 'storage'], 'storage: mirror copies the disks over NBD between the hosts; add "via: <host interface>" (e.g. via: mgmt)'));
    }
    if (doc.postcopy === true) {
      out.push(model.source.error('MIGRATION_MIRROR', [...y, 'postcopy'], 'vfab does not model post-copy together with storage: mirror (drop one of them)'));
    }
    if (doc.migrate_disks !== undefined) {
      doc.migrate_disks.forEach((name, i) => {
        const d = vm.disks.find((x) => x.name === name);
        if (!d) {
          const names = vm.disks.map((x) => x.name);
          const guess = nearest(name, names);
          out.push(model.source.error('MIGRATION_MIRROR', [...y, 'migrate_disks', i], `${vm.name} has no disk "${name}"${guess ? `; did you mean "${guess}"?` : names.length ? ` (disks: ${names.join(', ')})` : ''}`));
        } else if (isSharedDisk(d)) {
          out.push(
            model.source.error('MIGRATION_SHARED_DISK', [...y, 'migrate_disks', i], `disk ${vm.name}.${name} is on shared storage${d.doc.shared ? ' (shared: true)' : ' (an NBD disk)'}: every host already sees it, block migration cannot copy it`, {
              hint: `leave it out of migrate_disks; the destination opens the same storage`,
            }),
          );
        }
      });
    }
    const disks = mirroredDisks(vm, doc);
    if (disks.length === 0 && doc.migrate_disks === undefined) {
      const shared = vm.disks.filter(isSharedDisk).map((d) => d.name);
      out.push(
        model.source.error(
          'MIGRATION_SHARED_DISK',
          [...y, 'storage'],
          vm.disks.length === 0 ? `${vm.name} has no disks to mirror` : `every disk of ${vm.name} is on shared storage (${shared.join(', ')}): there is nothing to block-migrate`,
          { hint: 'drop "storage: mirror" (a migration with shared storage leaves the disks in place)' },
        ),
      );
    }
    const here = new Map<string, string>();
    for (const d of disks) {
      if (d.imagePath === undefined || d.doc.data !== true) continue;
      const target = mirrorTargetPath(d.imagePath, doc.to);
      const clash = used.get(target) ?? here.get(target);
      if (clash !== undefined) {
        out.push(
          model.source.error('MIGRATION_MIRROR_TARGET', [...y, 'to'], `the copy of disk ${vm.name}.${d.name} on ${doc.to} would be ${target}, which is ${clash}`, {
            hint: 'rename one of the images (the copy is <image stem>.<destination host><extension>)',
          }),
        );
      }
      here.set(target, `the copy of disk ${vm.name}.${d.name} in the same migration`);
    }
  }
  return out;
}

interface DiskMirror {
  disk: DiskModel;
  name: string;
  source: Chain;
  sourceName: string;
  target: Chain | null;
  targetName: string;
  data: boolean;
  job: MirrorJob | null;
  client: NbdClient | null;
  conn: TcpConnection | null;
  readyNs: number | null;
  error: string | null;
  /** The source disk's storage device, when it has one (mirror-devices.ts). */
  srcDev: MirrorDevice | undefined;
}

interface MirrorState {
  /** Each disk's current image (after a block migration: the copy) by `vm.disk`. */
  current: Map<string, { chain: Chain; name: string }>;
  /** Targets opened here, closed with the fabric. */
  opened: Chain[];
}

const states = new WeakMap<BuildContext, MirrorState>();

function stateOf(ctx: BuildContext): MirrorState {
  let s = states.get(ctx);
  if (!s) states.set(ctx, (s = { current: new Map(), opened: [] }));
  return s;
}

/** A target that takes writes and keeps nothing (the data-less copy). */
function sinkImage(size: number): NbdImage {
  return {
    virtualSize: size,
    readOnly: false,
    read: (_o, b) => b.fill(0),
    write: () => undefined,
    discard: () => undefined,
    writeZeroes: () => undefined,
    flush: () => undefined,
  };
}

/** The `StorageMigration` of one `storage: mirror` step (validated: route and disks exist). */
export function blockMirror(ctx: BuildContext, step: MigrateStep, from: string, vmName: string): StorageMigration | undefined {
  const doc = step.action.doc;
  const vm = ctx.model.vms.find((v) => v.name === vmName)!;
  const r = routeBetween(ctx.model, from, doc.via!, doc.to);
  const src = hostInterface(ctx, from, doc.via!);
  if (!r.ok || !src) return undefined;
  const dst = hostInterface(ctx, doc.to, r.iface.name)!;
  const st = stateOf(ctx);
  const images = diskImages(ctx);
  const mirrors: DiskMirror[] = [];
  let port = NBD_PORT;
  let startNs: number | null = null;
  let readyNs: number | null = null;
  let doneNs: number | null = null;
  let status = 'scheduled';
  let stopListen: (() => void) | null = null;
  let failed = false;
  let dstDev: MirrorDevice | undefined;

  const untap = (): void => {
    for (const m of mirrors) {
      const run = storageDiskRun(ctx, m.name);
      if (run) run.writeTap = undefined;
    }
  };
  const teardown = (): void => {
    untap();
    for (const m of mirrors) {
      if (m.conn && m.conn.state !== 'CLOSED') m.conn.abort();
    }
    stopListen?.();
    stopListen = null;
  };

  return {
    start(events) {
      startNs = ctx.sim.now;
      status = 'mirror';
      const fail = (m: DiskMirror, why: string): void => {
        m.error ??= why;
        if (failed) return;
        failed = true;
        status = 'failed';
        events.fail(`${m.name}: ${why}`);
      };
      const maybeReady = (): void => {
        if (readyNs !== null || failed || mirrors.some((m) => m.readyNs === null)) return;
        readyNs = ctx.sim.now;
        status = 'ready';
        events.ready();
      };
      for (const d of mirroredDisks(vm, doc)) {
        const name = `${vm.name}.${d.name}`;
        const cur = st.current.get(name) ?? (images.has(name) ? { chain: images.get(name)!.image, name: images.get(name)!.chain[0]! } : undefined);
        if (!cur) continue; // `vfab validate`-style build without images: nothing to copy
        const data = d.doc.data === true;
        let target: Chain | null = null;
        let targetName = `sink:${doc.to}/${d.name}`;
        if (data) {
          const size = cur.chain.virtualSize;
          const fmt = cur.chain.format;
          const cluster = fmt === 'qcow2' ? { clusterSize: cur.chain.top.granule } : {};
          if (d.imagePath !== undefined) {
            targetName = mirrorTargetPath(d.imagePath, doc.to);
            createImage(targetName, { format: fmt, size, ...cluster });
            target = openImage(targetName, { format: fmt });
          } else {
            const mem = new MemoryProvider();
            targetName = `memory:${doc.to}/${name}`;
            createImage(targetName, { format: fmt, size, ...cluster }, mem);
            target = openImage(targetName, { format: fmt }, mem);
          }
          st.opened.push(target);
        }
        mirrors.push({ disk: d, name, source: cur.chain, sourceName: cur.name, target, targetName, data, job: null, client: null, conn: null, readyNs: null, error: null, srcDev: mirrorDevice(ctx, from, d.doc.backend, name) });
      }
      // destination: nbd-server-start + nbd-server-add per disk
      while (port < 65535 && dst.stack.tcp.isListening(port)) port++;
      const exports = mirrors.map((m) => ({ name: m.disk.name, image: m.target ? chainImage(m.target) : sinkImage(m.source.virtualSize) }));
      // Both ends send without Nagle: QEMU's NBD client connects with qio_channel_set_delay(false)
      // (nbd/client-connection.c nbd_connect), its server uncorks after every reply (nbd/server.c);
      // a 16-byte reply held back by Nagle behind a delayed ACK would stall the mirror's window.
      // the destination's storage device (the same-named backend there) serves the mirror's writes
      dstDev = mirrors.length > 0 ? mirrorDevice(ctx, doc.to, mirrors[0]!.disk.doc.backend) : undefined;
      const l = dst.stack.tcp.listen(port, (c) => {
        c.setNoDelay(true);
        nbdServerOnTcp(c, { exports, stream: `${doc.to}:${port}`, ...(dstDev ? { schedule: deviceSchedule(dstDev) } : {}) });
      });
      stopListen = () => l.close();
      // source: drive-mirror per disk to nbd://dst:port/<disk>
      for (const m of mirrors) {
        const conn = src.stack.tcp.connect(r.dst, port);
        conn.setNoDelay(true);
        m.conn = conn;
        const client = nbdClientOnTcp(conn, {
          exportName: m.disk.name,
          stream: `${from} -> ${doc.to}:${port}/${m.disk.name}`,
          onReady: () => {
            const srcDev = m.srcDev;
            const job = new MirrorJob(m.source, client, {
              readData: m.data,
              ...(doc.storage_speed !== undefined ? { speed: doc.storage_speed / 8 } : {}),
              clock: { now: () => ctx.sim.now, after: (ns, cb) => void ctx.sim.schedule(ns, cb) },
              // the mirror reads the disk's device directly: its queue and service time, no throttle
              ...(srcDev ? { readSource: (offset: number, length: number, done: () => void) => deviceIo(srcDev, 0, offset, length, done) } : {}),
              onReady: () => {
                m.readyNs = ctx.sim.now;
                maybeReady();
              },
              onError: (why) => fail(m, why),
            });
            m.job = job;
            const run = storageDiskRun(ctx, m.name);
            if (run) run.writeTap = (o, n) => job.guestWrote(o, n);
            job.start();
          },
          onError: (e) => fail(m, e.message),
        });
        m.client = client;
        const closed = conn.onClose;
        conn.onClose = (err) => {
          closed?.(err);
          if (err !== null && doneNs === null) fail(m, `NBD connection ${err}`);
        };
      }
      if (mirrors.length === 0) {
        readyNs = ctx.sim.now;
        events.ready();
      }
    },
    complete(done) {
      let left = mirrors.length;
      let reported = false;
      const finish = (err: string | null): void => {
        if (reported) return;
        if (err === null && --left > 0) return;
        reported = true;
        if (err === null) {
          doneNs = ctx.sim.now;
          status = 'completed';
        }
        done(err);
      };
      if (left === 0) {
        finish(null);
        return;
      }
      for (const m of mirrors) {
        if (!m.job) {
          finish(`${m.name}: the mirror never started (${m.error ?? 'no NBD connection'})`);
          return;
        }
        m.job.complete((res) => finish(res.error === 0 ? null : `${m.name}: ${res.message ?? `NBD error ${res.error}`}`));
      }
    },
    pivot() {
      untap();
      for (const m of mirrors) {
        if (m.target) {
          const target = m.target;
          st.current.set(m.name, { chain: target, name: m.targetName });
          const run = storageDiskRun(ctx, m.name);
          if (run?.data) run.data = { read: (o, b) => target.read(o, b), write: (o, b) => target.write(o, b) };
        }
        m.client?.disconnect();
      }
      stopListen?.();
      stopListen = null;
    },
    cancel() {
      if (status !== 'completed') status = 'failed';
      teardown();
    },
    record() {
      const bytesSent = mirrors.reduce((a, m) => a + (m.conn?.info().bytes_sent ?? 0), 0);
      return {
        mode: 'mirror',
        status,
        ...(doc.storage_speed !== undefined ? { speed_bps: doc.storage_speed } : {}),
        ...(dstDev ? { target_device: dstDev.name, target_device_ios: dstDev.ios } : {}),
        via: src.model.path,
        src_ip: formatIpv4(src.model.ipv4.address),
        dst_ip: formatIpv4(r.dst),
        port,
        start_ns: startNs,
        ready_ns: readyNs,
        completed_ns: doneNs,
        total_ns: doneNs !== null && startNs !== null ? doneNs - startNs : null,
        bytes_sent: bytesSent,
        data_bytes: mirrors.reduce((a, m) => a + (m.job?.stats.dataBytes ?? 0), 0),
        clusters_copied: mirrors.reduce((a, m) => a + (m.job?.stats.copiedChunks ?? 0), 0),
        dirty_resends: mirrors.reduce((a, m) => a + (m.job?.stats.recopiedChunks ?? 0), 0),
        disks: mirrors.map((m) => ({
          disk: m.name,
          source: m.sourceName,
          target: m.targetName,
          data: m.data,
          granularity: m.job?.granularity ?? null,
          data_bytes: m.job?.stats.dataBytes ?? 0,
          zero_bytes: m.job?.stats.zeroBytes ?? 0,
          writes: m.job?.stats.writes ?? 0,
          zero_writes: m.job?.stats.zeroWrites ?? 0,
          clusters_copied: m.job?.stats.copiedChunks ?? 0,
          dirty_resends: m.job?.stats.recopiedChunks ?? 0,
          bytes_sent: m.conn?.info().bytes_sent ?? 0,
          ready_ns: m.readyNs,
          error: m.error,
          // only with storage devices (backend:): other records keep their bytes
          ...(m.srcDev || dstDev ? { devices: { source: m.srcDev?.name ?? null, source_reads: m.srcDev?.ios ?? 0, target: dstDev?.name ?? null } } : {}),
        })),
      };
    },
  };
}

/** Block migration as a fabric feature: validation, and the copies it opened closed with the fabric. */
export const blockMirrorFeature: FabricFeature = {
  name: 'block_mirror',
  validate: validateBlockMirror,
  close: (ctx) => {
    const s = states.get(ctx);
    if (!s) return;
    states.delete(ctx);
    for (const c of s.opened) {
      try {
        c.flush();
      } finally {
        c.close();
      }
    }
  },
};
