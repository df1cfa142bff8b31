/**
 * The storage devices a block mirror (`block-mirror.ts`) uses: drive-mirror reads the source disk
 * and writes the destination image on the hosts' own storage, so its I/O takes queue slots and
 * service time on the devices (`hosts.H.backends`) the guest's disk I/O uses, and competes with
 * it. QEMU's mirror job reads through its own BlockBackend, below the guest's throttle group
 * (block/mirror.c `mirror_start_job` inserts a mirror_top filter node; the throttle applies to the
 * guest's BlockBackend only), so nothing throttled counts it; its own limit is `speed`.
 *
 * Which device: the disk's `backend:` on the source host; on the destination the backend of the
 * same name, if that host has one (none: the writes take no time). When the run has fio steps the
 * devices are the QoS engine's (`storageDevice`), shared with the guests' I/O; otherwise a device
 * of the same spec is made for the mirror alone (PRNG fork `mirror-backend:<host>.<name>`).
 */
import { NBD_CMD_TRIM, NBD_CMD_WRITE, NBD_CMD_WRITE_ZEROES } from '../nbd/constants.js';
import type { NbdRequest } from '../nbd/wire.js';
import { readDevice } from '../qos/file.js';
import { Io } from '../qos/io.js';
import { StorageDevice } from '../qos/storage-device.js';
import type { BuildContext } from './context.js';
import { storageDevice, storageDiskRun } from './disk-io.js';

export interface MirrorDevice {
  /** `host.backend`. */
  name: string;
  device: StorageDevice;
  /** The mirror's I/Os this device served. */
  ios: number;
  /** The I/O's client on an mClock device (the mirrored disk's own, else the first). */
  client: number;
}

const own = new WeakMap<BuildContext, Map<string, StorageDevice>>();

/** The device `backend` of `host` for a mirror of disk `disk` (`vm.disk`), or undefined. */
export function mirrorDevice(ctx: BuildContext, host: string, backend: string | undefined, disk?: string): MirrorDevice | undefined {
  if (backend === undefined) return undefined;
  const doc = ctx.model.doc.hosts?.[host]?.backends?.[backend];
  if (!doc) return undefined;
  const name = `${host}.${backend}`;
  const engine = storageDevice(ctx, name);
  if (engine) {
    const run = disk !== undefined ? storageDiskRun(ctx, disk) : undefined;
    return { name, device: engine, ios: 0, client: run && run.device === engine ? run.client : 0 };
  }
  let m = own.get(ctx);
  if (!m) own.set(ctx, (m = new Map<string, StorageDevice>()));
  let dev = m.get(name);
  if (!dev) {
    const h = ctx.model.hosts.find((x) => x.name === host)!;
    const spec = readDevice(name, doc, [...h.yaml, 'backends', backend], () => undefined);
    dev = new StorageDevice(spec, ctx.sim, ctx.sim.prng.fork(`mirror-backend:${name}`), undefined);
    m.set(name, dev);
  }
  return { name, device: dev, ios: 0, client: 0 };
}

/** One I/O of `length` bytes on the device; `done` when its service ends. */
export function deviceIo(d: MirrorDevice, dir: 0 | 1, offset: number, length: number, done: () => void): void {
  const io = new Io(0, 0, {
    ioComplete: (x) => {
      d.device.finish(x);
      d.ios++;
      done();
    },
  });
  io.dir = dir;
  io.bytes = length;
  io.offset = offset;
  io.client = d.client;
  d.device.submit(io);
}

/** An NBD server's `schedule`: every command is served by the device (write zeroes and trims move no bytes). */
export function deviceSchedule(d: MirrorDevice): (req: NbdRequest, run: () => void) => void {
  return (req, run) => {
    const write = req.type === NBD_CMD_WRITE || req.type === NBD_CMD_WRITE_ZEROES || req.type === NBD_CMD_TRIM;
    deviceIo(d, write ? 1 : 0, req.offset, req.type === NBD_CMD_WRITE ? req.length : 0, run);
  };
}
