/**
 * QEMU throttle limits: names, aliases and validation (QEMU 7.2 `util/throttle.c`,
 * `include/qemu/throttle.h`, `qapi/block-core.json` ThrottleLimits, libvirt `<iotune>`).
 *
 * Six leaky buckets in QEMU's enum order (THROTTLE_BPS_TOTAL, _READ, _WRITE, THROTTLE_OPS_TOTAL,
 * _READ, _WRITE), each with `avg` (the limit, units/s), `max` (burst rate, 0 = unset) and
 * `burst_length` (seconds, default 1), plus `op_size` (`iops-size`). Users may write QEMU
 * throttle-group property names (`iops-total-max-length`, also with an `x-`, `limits.` or
 * `throttling.` prefix), QMP `block_set_io_throttle` names (`iops_rd_max_length`) or libvirt
 * `<iotune>` names (`read_iops_sec_max_length`, `size_iops_sec`, `group_name`). Validation reproduces
 * `throttle_is_valid()` messages word for word.
 */

export const BUCKETS = ['bps-total', 'bps-read', 'bps-write', 'iops-total', 'iops-read', 'iops-write'] as const;
export type BucketName = (typeof BUCKETS)[number];
export const BPS_TOTAL = 0, BPS_READ = 1, BPS_WRITE = 2, OPS_TOTAL = 3, OPS_READ = 4, OPS_WRITE = 5;

/** `THROTTLE_VALUE_MAX` in include/qemu/throttle.h. */
export const THROTTLE_VALUE_MAX = 1_000_000_000_000_000;

export interface BucketLimits {
  /** Sustained rate, units (bytes or ops) per second; 0 = no limit. */
  avg: number;
  /** Burst rate; 0 = unset (QEMU then allows avg/10 units of burst). */
  max: number;
  /** How long a burst at `max` may last, whole seconds (QEMU default 1). */
  burstLength: number;
}

export interface QemuLimits {
  buckets: BucketLimits[]; // indexed by BPS_TOTAL..OPS_WRITE
  /** `iops-size`: requests larger than this count as size/iops-size ops (0 = off). */
  iopsSize: number;
}

export function emptyLimits(): QemuLimits {
  return { buckets: BUCKETS.map(() => ({ avg: 0, max: 0, burstLength: 1 })), iopsSize: 0 };
}

type Field = { bucket: number; part: 'avg' | 'max' | 'burstLength' } | { bucket: -1; part: 'iopsSize' } | { bucket: -2; part: 'group' };

/** Every accepted key → the field it sets. Built once from the canonical names. */
const ALIASES: Map<string, Field> = (() => {
  const m = new Map<string, Field>();
  const qmpDir: Record<string, string> = { total: '', read: '_rd', write: '_wr' };
  const virtDir: Record<string, string> = { total: 'total', read: 'read', write: 'write' };
  BUCKETS.forEach((name, bucket) => {
    const [kind, dir] = name.split('-') as [string, string];
    const parts: Array<['avg' | 'max' | 'burstLength', string]> = [['avg', ''], ['max', '-max'], ['burstLength', '-max-length']];
    for (const [part, suffix] of parts) {
      const canon = `${name}${suffix}`;
      for (const k of [canon, `x-${canon}`, `limits.${canon}`, `throttling.${canon}`, canon.replace(/-/g, '_')]) m.set(k, { bucket, part });
      // QMP block_set_io_throttle: iops, iops_rd, bps_wr_max, iops_max_length …
      m.set(`${kind}${qmpDir[dir]}${suffix.replace(/-/g, '_')}`, { bucket, part });
      // libvirt <iotune>: total_iops_sec, read_bytes_sec_max_length …
      m.set(`${virtDir[dir]}_${kind === 'bps' ? 'bytes' : 'iops'}_sec${suffix.replace(/-/g, '_')}`, { bucket, part });
    }
  });
  for (const k of ['iops-size', 'x-iops-size', 'limits.iops-size', 'throttling.iops-size', 'iops_size', 'size_iops_sec']) m.set(k, { bucket: -1, part: 'iopsSize' });
  for (const k of ['group', 'group_name', 'throttling.group', 'throttle-group']) m.set(k, { bucket: -2, part: 'group' });
  return m;
})();

/** All keys a QEMU throttle policy accepts (for did-you-mean). */
export function qemuLimitKeys(): string[] {
  return [...ALIASES.keys()];
}

export interface LimitProblem {
  /** The key the user wrote that the problem is about (for positions); undefined = whole policy. */
  key: string | undefined;
  message: string;
}

/**
 * Reads a mapping of QEMU/QMP/libvirt names into limits. Values are numbers (bytes/s, ops/s,
 * seconds); `parseValue` converts unit strings first. Unknown keys and bad values come back as
 * problems, not throws.
 */
export function readQemuLimits(
  input: Record<string, unknown>,
  parseValue: (key: string, v: unknown) => number | string = (_k, v) => (typeof v === 'number' ? v : `expected a number, got ${JSON.stringify(v)}`),
): { limits: QemuLimits; group: string | undefined; problems: LimitProblem[]; keys: string[] } {
  const limits = emptyLimits();
  const problems: LimitProblem[] = [];
  const seen = new Map<string, string>();
  const keyOf: (string | undefined)[] = [];
  let group: string | undefined;
  for (const [key, raw] of Object.entries(input)) {
    if (key === 'kind') continue;
    const f = ALIASES.get(key);
    if (!f) {
      problems.push({ key, message: `unknown throttle limit "${key}"` });
      continue;
    }
    const id = `${f.bucket}.${f.part}`;
    const dup = seen.get(id);
    if (dup) {
      problems.push({ key, message: `"${key}" sets the same limit as "${dup}"` });
      continue;
    }
    seen.set(id, key);
    if (f.part === 'group') {
      if (typeof raw !== 'string' || raw === '') problems.push({ key, message: `"${key}" must be a group name` });
      else group = raw;
      continue;
    }
    const v = parseValue(key, raw);
    if (typeof v === 'string') {
      problems.push({ key, message: `"${key}": ${v}` });
      continue;
    }
    if (!Number.isFinite(v) || v < 0) {
      problems.push({ key, message: `"${key}" must be a non-negative number` });
      continue;
    }
    if (f.part === 'iopsSize') limits.iopsSize = v;
    else {
      if (f.part === 'burstLength' && !Number.isInteger(v)) {
        problems.push({ key, message: `"${key}" is a whole number of seconds (QEMU's burst length is an integer)` });
        continue;
      }
      limits.buckets[f.bucket]![f.part] = v;
      keyOf[f.bucket * 3 + (f.part === 'avg' ? 0 : f.part === 'max' ? 1 : 2)] = key;
    }
  }
  if (problems.length === 0) {
    const p = validateQemuLimits(limits);
    if (p) problems.push({ key: p.bucket >= 0 ? keyOf[p.bucket * 3 + p.part] ?? undefined : undefined, message: p.message });
  }
  return { limits, group, problems, keys: keyOf.filter((k): k is string => k !== undefined) };
}

/**
 * `throttle_is_valid()` (util/throttle.c, QEMU 7.2): same checks, same order, same messages.
 * Returns the first problem (QEMU stops at the first) with the bucket and field it concerns.
 */
export function validateQemuLimits(cfg: QemuLimits): { bucket: number; part: number; message: string } | undefined {
  const b = cfg.buckets;
  const avg = (i: number) => b[i]!.avg;
  const max = (i: number) => b[i]!.max;
  const bpsFlag = avg(BPS_TOTAL) && (avg(BPS_READ) || avg(BPS_WRITE));
  const opsFlag = avg(OPS_TOTAL) && (avg(OPS_READ) || avg(OPS_WRITE));
  const bpsMaxFlag = max(BPS_TOTAL) && (max(BPS_READ) || max(BPS_WRITE));
  const opsMaxFlag = max(OPS_TOTAL) && (max(OPS_READ) || max(OPS_WRITE));
  if (bpsFlag || opsFlag || bpsMaxFlag || opsMaxFlag) {
    return { bucket: bpsFlag || bpsMaxFlag ? BPS_TOTAL : OPS_TOTAL, part: bpsFlag || opsFlag ? 0 : 1, message: 'bps/iops/max total values and read/write values cannot be used at the same time' };
  }
  if (cfg.iopsSize && !avg(OPS_TOTAL) && !avg(OPS_READ) && !avg(OPS_WRITE)) {
    return { bucket: -1, part: 0, message: 'iops size requires an iops value to be set' };
  }
  for (let i = 0; i < b.length; i++) {
    const k = b[i]!;
    if (k.avg > THROTTLE_VALUE_MAX || k.max > THROTTLE_VALUE_MAX) {
      return { bucket: i, part: k.avg > THROTTLE_VALUE_MAX ? 0 : 1, message: `bps/iops/max values must be within [0, ${THROTTLE_VALUE_MAX}]` };
    }
    if (!k.burstLength) return { bucket: i, part: 2, message: 'the burst length cannot be 0' };
    if (k.burstLength > 1 && !k.max) return { bucket: i, part: 2, message: 'burst length set without burst rate' };
    if (k.max && !k.avg) return { bucket: i, part: 1, message: 'bps_max/iops_max require corresponding bps/iops values' };
    if (k.max && k.max < k.avg) return { bucket: i, part: 1, message: 'bps_max/iops_max cannot be lower than bps/iops' };
  }
  return undefined;
}

/** True when any bucket limits anything. */
export function hasLimits(cfg: QemuLimits): boolean {
  return cfg.buckets.some((b) => b.avg > 0);
}
