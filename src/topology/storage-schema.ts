/**
 * The storage vocabulary shared by topologies and QoS files (one schema, two file kinds): a
 * storage device (`backends:` entries, a service-time model), and an fio job (`jobs:` in a QoS
 * file, the `fio:` scenario action in a topology). Both loaders turn these into the same
 * `qos/` model with the same code (`qos/file.ts` readDevice / readJob / readPolicy).
 * Throttle policies stay open records here: their keys depend on the policy kind and are checked
 * with positions by `qos/file.ts` readPolicy.
 */
import { z } from 'zod';
import { zDuration, zSize } from '../util/zod-units.js';

/** fio `rw` / `readwrite` values (fio HOWTO.rst). */
export const RW_MODES = ['read', 'write', 'randread', 'randwrite', 'rw', 'readwrite', 'randrw'] as const;

const num = z.union([z.number(), z.string()]);

export const serviceSchema = z.union([
  z.string(),
  z.strictObject({ fixed: zDuration() }),
  z.strictObject({ lognormal: z.strictObject({ p50: zDuration(), p99: zDuration() }) }),
  z.strictObject({ table: z.record(z.string(), zDuration()) }),
]);

export const storageDeviceSchema = z.strictObject({
  parallelism: z.number().int().min(1).max(1 << 20).optional().describe('I/Os served at once (default 32)'),
  service: serviceSchema.optional().describe('service time per I/O: "100us", {fixed}, {lognormal: {p50, p99}}, {table: {p50: .., p99: ..}}'),
  bandwidth: z.union([z.number(), z.string()]).optional().describe('bytes per second, e.g. 2GiB or 2GiB/s'),
});

export const policySchema = z.record(z.string(), z.unknown());

export const fioJobSchema = z.strictObject({
  disk: z.string(),
  rw: z.enum(RW_MODES).optional(),
  readwrite: z.enum(RW_MODES).optional(),
  rwmixread: z.number().min(0).max(100).optional(),
  rwmixwrite: z.number().min(0).max(100).optional(),
  bs: num.optional(),
  blocksize: num.optional(),
  bssplit: z.string().optional(),
  bssplit_order: z.enum(['random', 'fixed']).optional().describe('random: seeded draw per I/O (default); fixed: a repeating cycle of 100/gcd(percentages) I/Os, each size pct/gcd times in list order'),
  bsrange: z.string().optional().describe('fio bsrange: MIN-MAX, or MIN-MAX,MIN-MAX (read,write)'),
  iodepth: z.number().int().min(1).max(65536).optional(),
  numjobs: z.number().int().min(1).max(4096).optional(),
  rate_iops: num.optional(),
  rate: num.optional().describe('bytes/s per direction: 1MiB or "1MiB,500KiB" (read,write); wins over rate_iops'),
  write_lat_log: z.string().optional().describe('fio latency logs PREFIX_lat|clat|slat.N.log'),
  write_bw_log: z.string().optional().describe('fio bandwidth log PREFIX_bw.N.log'),
  write_iops_log: z.string().optional().describe('fio IOPS log PREFIX_iops.N.log'),
  log_avg_msec: z.number().int().min(0).optional().describe('average log values over windows of this many ms (0: one line per I/O)'),
  per_job_logs: z.union([z.boolean(), z.number()]).optional().describe('one log per job (default) or one for all jobs'),
  log_offset: z.union([z.boolean(), z.number()]).optional().describe('add the I/O offset column'),
  wait_for: z.union([z.string(), z.array(z.string())]).optional().describe('jobs (every clone) that must end before this one starts (fio wait_for / stonewall)'),
  size: zSize().optional(),
  offset: zSize().optional(),
  number_ios: z.number().int().min(0).optional(),
  runtime: num.optional(),
  time_based: z.union([z.boolean(), z.number()]).optional(),
  ramp_time: num.optional(),
  thinktime: num.optional(),
  startdelay: num.optional(),
});

export type FioJobDoc = z.output<typeof fioJobSchema>;
export type StorageDeviceDoc = z.output<typeof storageDeviceSchema>;
export type ServiceDoc = z.output<typeof serviceSchema>;
