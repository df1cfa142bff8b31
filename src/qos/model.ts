/**
 * A QoS run as plain data: backends, disks with their policies, throttle groups, fio-style jobs.
 * The QoS file loader (`file.ts`) produces one; library users may build one directly.
 */
import type { QemuLimits } from '../block/throttle/qemu-config.js';
import type { IoMaxLimits } from '../block/throttle/meters.js';
import type { TokenBucketConfig } from '../block/throttle/token-bucket.js';
import type { StorageDeviceSpec, MclockSpec } from './storage-device.js';
import type { JobSpec } from './workload.js';

export type PolicySpec =
  | { kind: 'qemu'; limits: QemuLimits }
  | { kind: 'firecracker'; bandwidth: TokenBucketConfig | undefined; ops: TokenBucketConfig | undefined }
  | { kind: 'io.max'; limits: IoMaxLimits }
  | { kind: 'mclock'; mclock: MclockSpec };

export interface DiskSpec {
  /** Dotted name: `vm1.vda` (from a topology) or any name for a standalone disk. */
  name: string;
  size: number;
  /** Storage device name (a key of the QoS file's `backends:`); undefined = a null device (instant, unlimited). */
  backend: string | undefined;
  policy: PolicySpec | undefined;
  /** An image file (qcow2/raw) for real I/O when the run moves data; as written (the adapter resolves it). */
  image?: string | undefined;
}

/** Where a disk's bytes go when a run moves data (a block-layer `Chain` fits). */
export interface DiskData {
  read(offset: number, buf: Uint8Array): void;
  write(offset: number, data: Uint8Array): void;
}

export interface GroupSpec {
  name: string;
  members: string[];
  policy: PolicySpec;
}

export interface QosModel {
  seed: number;
  /** Simulated time limit (0 = until every job ends). */
  durationNs: number;
  intervalNs: number;
  backends: StorageDeviceSpec[];
  disks: DiskSpec[];
  groups: GroupSpec[];
  jobs: JobSpec[];
  /** Move real data to the disks' images (`data: true`); timing stays virtual either way. */
  data?: boolean;
}

export const NULL_DEVICE: StorageDeviceSpec = { name: 'null', parallelism: 1 << 30, service: { kind: 'fixed', ns: 0 }, bandwidth: 0 };
