/**
 * fio job file → QoS file. `vfab qos import` prints the result as YAML; `vfab qos run job.fio`
 * runs exactly that YAML (so import followed by run is the same run by construction).
 *
 * Semantics kept from fio (HOWTO.rst, init.c, options.c):
 * - `[global]` options apply to the job sections after it (a later global section changes the
 *   defaults of later jobs only); a job's own options win; `name=` renames the job.
 * - `kb_base` applies to every size of the job, wherever it appears (fio parses it first).
 * - `stonewall` (`wait_for_previous`): the job waits until every job before it has ended;
 *   `wait_for=NAME`: until every clone of NAME has ended. Both become `wait_for:` lists.
 * - `filename` names the disk (with `directory`, `DIR/FILE`); without one, fio's default file
 *   name `JOBNAME.0.0` (clones share it in vfab: fio gives each clone its own file). A disk's size
 *   is the largest `offset + size` (or `filesize`) of its jobs, else 1 GiB (noted).
 * - The disks sit on one stand-in device `device` (32 parallel, 100 µs per I/O): fio measures a
 *   real device, a job file does not describe one; edit `backends:` to model yours.
 * - `rate_min` / `rate_iops_min` become expectations on the job's slowest interval
 *   (`JOB: min_read_bw >= X`): fio exits when a ratecycle (1 s) falls below them.
 *
 * Options that do not change which I/Os are issued in the model (engines, caching, CPU and
 * reporting options) are accepted and listed as ignored. Options that would change the workload
 * and that vfab does not model are refused at their line: `file:line:col: option 'X' is not supported`.
 */
import { stringify } from 'yaml';
import { UserError } from '../../errors.js';
import { nearest } from '../../util/nearest.js';
import type { FioOption, FioSection } from './ini.js';
import { parseDuration as parseNs } from '../../util/units.js';
import { fioBool, fioBytes, fioDirList, fioInt, fioTime, type KbBase } from './values.js';

export interface ImportOptions {
  /** Cap every job's runtime and ramp_time (and give jobs without a runtime this one). */
  maxRuntimeNs?: number;
  seed?: number;
}

export interface FioImport {
  /** The QoS document (plain data, YAML-ready). */
  doc: Record<string, unknown>;
  yaml: string;
  /** Ignored options and other notes, one line each (`file:line: ...`). */
  notes: string[];
}

/** Local block-I/O engines: their I/O pattern is what vfab models; the engine itself is ignored. */
const BLOCK_ENGINES = ['sync', 'psync', 'vsync', 'pvsync', 'pvsync2', 'io_uring', 'libaio', 'posixaio', 'solarisaio', 'windowsaio', 'mmap', 'null'];

/** Accepted and ignored: engine, caching, CPU placement, buffer contents, reporting. */
export const IGNORED_OPTIONS = new Set([
  'ioengine', 'direct', 'buffered', 'group_reporting', 'thread', 'threads', 'description', 'new_group',
  'iodepth_batch', 'iodepth_batch_submit', 'iodepth_batch_complete', 'iodepth_batch_complete_min', 'iodepth_batch_complete_max', 'iodepth_low', 'io_submit_mode',
  'norandommap', 'randrepeat', 'random_generator', 'randseed', 'allrandrepeat',
  'disable_lat', 'disable_clat', 'disable_slat', 'clat_percentiles', 'lat_percentiles', 'slat_percentiles', 'percentile_list', 'gtod_reduce', 'gtod_cpu', 'clocksource',
  'invalidate', 'create_serialize', 'create_on_open', 'create_only', 'allow_file_create', 'unlink', 'unlink_each_loop', 'fallocate', 'overwrite', 'pre_read',
  'refill_buffers', 'scramble_buffers', 'buffer_pattern', 'buffer_compress_percentage', 'buffer_compress_chunk', 'zero_buffers',
  'dedupe_percentage', 'dedupe_mode', 'dedupe_working_set_percentage', 'dedupe_global',
  'mem', 'iomem', 'iomem_align', 'mem_align', 'hugepage-size', 'cpus_allowed', 'cpus_allowed_policy', 'cpumask', 'numa_cpu_nodes', 'numa_mem_policy',
  'prio', 'prioclass', 'nice', 'cmdprio', 'cmdprio_class', 'cmdprio_percentage', 'cmdprio_bssplit', 'log_prio',
  'sqthread_poll', 'sqthread_poll_cpu', 'registerfiles', 'fixedbufs', 'hipri', 'nonvectored', 'uncached', 'userspace_reap', 'busy_wait_polling',
  'continue_on_error', 'ignore_error', 'error_dump', 'stats', 'filename_format', 'lockfile', 'openfiles', 'file_service_type', 'kb_base', 'unit_base', 'name',
  'write_hist_log', 'log_hist_msec', 'log_compression',
  'exitall_on_error', 'max_latency', 'sync', 'end_fsync', 'fsync_on_close', 'bs_is_seq_rand', 'bs_unaligned', 'group_id',
]);

/** Options vfab reads (the rest of the known vocabulary is ignored or refused); exported for docs and tests. */
export const SUPPORTED_OPTIONS = [
  'rw', 'readwrite', 'rwmixread', 'rwmixwrite', 'bs', 'blocksize', 'bsrange', 'blocksize_range', 'bssplit', 'bssplit_order', 'iodepth', 'numjobs',
  'size', 'filesize', 'offset', 'filename', 'directory', 'nrfiles', 'nr_files', 'runtime', 'timeout', 'time_based', 'ramp_time', 'startdelay', 'thinktime',
  'write_lat_log', 'write_bw_log', 'write_iops_log', 'log_avg_msec', 'per_job_logs', 'log_offset', 'log_max_value',
  'rate', 'rate_iops', 'rate_min', 'ratemin', 'rate_iops_min', 'rate_process', 'random_distribution', 'number_ios', 'stonewall', 'wait_for_previous', 'wait_for',
];

const RW = ['read', 'write', 'randread', 'randwrite', 'rw', 'readwrite', 'randrw'];
const DEFAULT_DISK_SIZE = 1 << 30;

function refuse(o: FioOption, why = ''): UserError {
  return new UserError('FIO_UNSUPPORTED', `option '${o.name}' is not supported${why ? `: ${why}` : ''}`, { location: { file: o.file, line: o.line, col: o.col } });
}

function bad(o: FioOption, msg: string): UserError {
  return new UserError('FIO_VALUE', `${o.name}: ${msg}`, { location: { file: o.file, line: o.line, col: o.col } });
}

/** A duration in vfab's unit syntax, exact in ns. */
function dur(ns: number): string {
  for (const [u, m] of [['s', 1e9], ['ms', 1e6], ['us', 1e3]] as const) if (ns % m === 0) return `${ns / m}${u}`;
  return `${ns}ns`;
}

interface Job {
  name: string;
  section: FioSection;
  opts: Map<string, FioOption>;
  /** Names of the jobs before it (for stonewall). */
  before: string[];
}

/** Converts parsed sections into a QoS document. */
export function importFio(sections: FioSection[], opts: ImportOptions = {}): FioImport {
  const notes: string[] = [];
  const ignoredSeen = new Map<string, string>();
  let defaults = new Map<string, FioOption>();
  const jobs: Job[] = [];
  for (const sec of sections) {
    if (sec.global) {
      defaults = new Map(defaults);
      for (const o of sec.options) defaults.set(o.name, o);
      continue;
    }
    const own = new Map(defaults);
    for (const o of sec.options) own.set(o.name, o);
    const nameOpt = own.get('name');
    const name = nameOpt?.value !== undefined && nameOpt.value !== '' ? nameOpt.value : sec.name;
    jobs.push({ name, section: sec, opts: own, before: jobs.map((j) => j.name) });
  }
  if (jobs.length === 0) {
    const at = sections[0] ?? { file: 'job file', line: 1 };
    throw new UserError('FIO_NO_JOBS', 'no job sections (only [global]): fio would run nothing', { location: { file: at.file, line: at.line, col: 1 } });
  }

  const docJobs: Record<string, Record<string, unknown>> = {};
  const disks = new Map<string, number>();
  const expect: string[] = [];
  const used = new Set<string>();
  for (const job of jobs) {
    const o = job.opts;
    // the engine first: engine-specific options only make sense with their engine
    const eng = o.get('ioengine');
    if (eng) {
      const e = (eng.value ?? '').trim();
      if (!BLOCK_ENGINES.includes(e)) throw refuse(eng, `ioengine=${e} (vfab models local block I/O: ${BLOCK_ENGINES.join(', ')})`);
    }
    const kbOpt = o.get('kb_base');
    let kb: KbBase = 1024;
    if (kbOpt) {
      if (kbOpt.value?.trim() === '1000') kb = 1000;
      else if (kbOpt.value?.trim() !== '1024') throw bad(kbOpt, 'must be 1000 or 1024');
    }
    const bytes = (x: FioOption, s = x.value): number => {
      if (s === undefined) throw bad(x, 'needs a value');
      const v = fioBytes(s, kb);
      if (typeof v === 'string') throw bad(x, v);
      return v;
    };
    const time = (x: FioOption, bareSeconds: boolean): number => {
      if (x.value === undefined) throw bad(x, 'needs a value');
      if (/^\s*\d+\s*-\s*\d+/.test(x.value)) throw refuse(x, `a range ("${x.value}")`);
      const v = fioTime(x.value, bareSeconds);
      if (typeof v === 'string') throw bad(x, v);
      return v;
    };
    const flag = (x: FioOption): boolean => {
      const v = fioBool(x.value);
      if (typeof v === 'string') throw bad(x, v);
      return v;
    };
    const j: Record<string, unknown> = {};
    let fname: string | undefined;
    let dir: string | undefined;
    let size: number | undefined;
    let filesize: number | undefined;
    let offset = 0;
    let runtime: number | undefined;
    let ramp: number | undefined;
    const waitFor: string[] = [];
    const mins: Array<[string, string]> = [];
    for (const x of o.values()) {
      const v = x.value;
      // options.c fio_keyword_replace: host values (then bc arithmetic); a simulation has no host
      if (v !== undefined && /\$(pagesize|ncpus|mb_memory)/.test(v)) throw refuse(x, `"${v}" uses a host-dependent keyword ($pagesize, $ncpus, $mb_memory)`);
      switch (x.name) {
        case 'rw':
        case 'readwrite': {
          const mode = (v ?? '').trim();
          if (mode.includes(':')) throw refuse(x, `an offset modifier ("${mode}")`);
          if (!RW.includes(mode)) {
            if (/trim/.test(mode)) throw refuse(x, `rw=${mode} (vfab issues no trims)`);
            throw bad(x, `"${mode}" is not a mode${nearest(mode, RW) ? `; did you mean "${nearest(mode, RW)}"?` : ''} (${RW.join(', ')})`);
          }
          j['rw'] = mode;
          break;
        }
        case 'rwmixread':
        case 'rwmixwrite': {
          const n = fioInt(v, 0, 100);
          if (typeof n === 'string') throw bad(x, n);
          j[x.name] = n;
          break;
        }
        case 'bs':
        case 'blocksize': {
          const r = fioDirList(v ?? '', (s) => fioBytes(s, kb));
          if (typeof r === 'string') throw bad(x, r);
          j['bs'] = `${r[0] ?? 4096},${r[1] ?? 4096}`;
          break;
        }
        case 'bsrange':
        case 'blocksize_range': {
          const r = fioDirList(v ?? '', (s): [number, number] | string => {
            const m = /^([^-]+)-(.+)$/.exec(s.trim());
            if (!m) return `"${s}" is not MIN-MAX`;
            const lo = fioBytes(m[1]!, kb);
            const hi = fioBytes(m[2]!, kb);
            if (typeof lo === 'string') return lo;
            if (typeof hi === 'string') return hi;
            if (lo <= 0) return `block size "${m[1]}" must be more than 0`;
            return [Math.min(lo, hi), Math.max(lo, hi)];
          });
          if (typeof r === 'string') throw bad(x, r);
          const range = (p: [number, number] | undefined): string => (p ? `${p[0]}-${p[1]}` : '4096-4096');
          j['bsrange'] = `${range(r[0])},${range(r[1])}`;
          break;
        }
        case 'bssplit':
          j['bssplit'] = bssplit(x, kb);
          break;
        case 'bssplit_order': {
          // vfab's own option (fio has none): fixed = the deterministic repeating order.
          const o = (v ?? '').trim();
          if (o !== 'random' && o !== 'fixed') throw bad(x, `bssplit_order=${o}: random or fixed`);
          j['bssplit_order'] = o;
          break;
        }
        case 'iodepth':
        case 'numjobs':
        case 'number_ios': {
          const n = fioInt(v, x.name === 'number_ios' ? 0 : 1, x.name === 'numjobs' ? 4096 : x.name === 'iodepth' ? 65536 : Number.MAX_SAFE_INTEGER);
          if (typeof n === 'string') throw bad(x, n);
          j[x.name] = n;
          break;
        }
        case 'size':
          size = bytes(x);
          break;
        case 'filesize':
          if (v?.includes('-')) throw refuse(x, `a range ("${v}")`);
          filesize = bytes(x);
          break;
        case 'offset':
          offset = bytes(x);
          break;
        case 'filename':
          if ((v ?? '').includes(':')) throw refuse(x, `several files ("${v}"): vfab runs a job on one disk`);
          fname = (v ?? '').trim() || undefined;
          break;
        case 'directory':
          if ((v ?? '').includes(':')) throw refuse(x, `several directories ("${v}")`);
          dir = (v ?? '').trim().replace(/\/+$/, '') || undefined;
          break;
        case 'nrfiles':
        case 'nr_files': {
          const n = fioInt(v, 1, 1 << 20);
          if (n !== 1) throw refuse(x, `nrfiles=${v} (vfab runs a job on one disk)`);
          break;
        }
        case 'runtime':
        case 'timeout':
          runtime = time(x, true);
          break;
        case 'ramp_time':
          ramp = time(x, true);
          break;
        case 'startdelay':
          j['startdelay'] = dur(time(x, true));
          break;
        case 'thinktime':
          j['thinktime'] = dur(time(x, false));
          break;
        case 'time_based':
          if (flag(x)) j['time_based'] = true;
          break;
        case 'rate':
        case 'rate_iops': {
          const r = fioDirList(v ?? '', (s) => (x.name === 'rate' ? fioBytes(s, kb) : fioInt(s, 0, Number.MAX_SAFE_INTEGER)));
          if (typeof r === 'string') throw bad(x, r);
          j[x.name] = `${r[0] ?? 0},${r[1] ?? 0}`;
          break;
        }
        case 'rate_min':
        case 'ratemin':
        case 'rate_iops_min': {
          const iops = x.name === 'rate_iops_min';
          const r = fioDirList(v ?? '', (s) => (iops ? fioInt(s, 0, Number.MAX_SAFE_INTEGER) : fioBytes(s, kb)));
          if (typeof r === 'string') throw bad(x, r);
          if (r[0]) mins.push(['read', iops ? `read_iops >= ${r[0]}` : `read_bw >= ${r[0]}`]);
          if (r[1]) mins.push(['write', iops ? `write_iops >= ${r[1]}` : `write_bw >= ${r[1]}`]);
          break;
        }
        case 'rate_process':
          if ((v ?? '').trim() !== 'linear') throw refuse(x, `rate_process=${v} (vfab's rate process is fio's default, linear)`);
          break;
        case 'random_distribution':
          if ((v ?? '').trim() !== 'random') throw refuse(x, `random_distribution=${v} (vfab draws uniform offsets, fio's default "random")`);
          break;
        case 'write_lat_log':
        case 'write_bw_log':
        case 'write_iops_log':
          // fio: an empty value means the job's name as the prefix
          j[x.name] = (v ?? '').trim() || job.name;
          break;
        case 'log_avg_msec': {
          const n = fioInt(v, 0, 1 << 30);
          if (typeof n === 'string') throw bad(x, n);
          j[x.name] = n;
          break;
        }
        case 'per_job_logs':
        case 'log_offset':
          j[x.name] = flag(x);
          break;
        case 'log_max_value':
          if (flag(x)) throw refuse(x, 'vfab averages windowed log values (fio\'s default)');
          break;
        case 'stonewall':
        case 'wait_for_previous':
          if (flag(x)) for (const b of job.before) if (!waitFor.includes(b)) waitFor.push(b);
          break;
        case 'wait_for': {
          const w = (v ?? '').trim();
          if (!job.before.includes(w)) throw bad(x, `"${w}" names no job before this one (fio: the waitee must be defined prior to the waiter)`);
          if (!waitFor.includes(w)) waitFor.push(w);
          break;
        }
        default:
          if (IGNORED_OPTIONS.has(x.name)) {
            if (!ignoredSeen.has(x.name)) ignoredSeen.set(x.name, `${x.file}:${x.line}`);
            break;
          }
          throw refuse(x, unsupportedWhy(x.name));
      }
    }
    if (runtime !== undefined || opts.maxRuntimeNs !== undefined) {
      const rt = Math.min(runtime ?? Number.POSITIVE_INFINITY, opts.maxRuntimeNs ?? Number.POSITIVE_INFINITY);
      if (rt > 0) j['runtime'] = dur(rt);
      else if (j['time_based']) delete j['time_based']; // fio: runtime=0 means no limit; time_based without one is refused by the loader
    }
    if (ramp !== undefined) j['ramp_time'] = dur(Math.min(ramp, opts.maxRuntimeNs ?? Number.POSITIVE_INFINITY));
    if (waitFor.length) j['wait_for'] = waitFor;
    // the disk: fio's file name rules
    const file = fname ?? `${job.name}.0.0`;
    const disk = dir !== undefined && !file.startsWith('/') ? `${dir}/${file}` : file;
    j['disk'] = disk;
    const jobSize = size ?? filesize;
    if (size !== undefined) j['size'] = size;
    else if (filesize !== undefined) j['size'] = filesize;
    if (offset) j['offset'] = offset;
    const need = jobSize !== undefined ? offset + jobSize : 0;
    disks.set(disk, Math.max(disks.get(disk) ?? 0, need, filesize ?? 0));
    // unique job keys (fio allows duplicate names; a QoS file's jobs are a mapping)
    let key = job.name;
    for (let n = 2; used.has(key); n++) key = `${job.name}_${n}`;
    if (key !== job.name) notes.push(`${job.section.file}:${job.section.line}: job "${job.name}" is named "${key}" (another job has its name)`);
    used.add(key);
    const ordered: Record<string, unknown> = { disk };
    for (const [k, val] of Object.entries(j)) if (k !== 'disk') ordered[k] = val;
    docJobs[key] = ordered;
    // rate_min: checked over the job's own run, which is known only when it waits for no one
    if (mins.length && waitFor.length === 0 && j['runtime'] !== undefined) {
      const from = (j['startdelay'] !== undefined ? parseNs(j['startdelay'] as string) : 0) + (j['ramp_time'] !== undefined ? parseNs(j['ramp_time'] as string) : 0);
      const to = from + parseNs(j['runtime'] as string);
      for (const [, m] of mins) expect.push(`${key}: min_${m} over [${dur(from)}, ${dur(to)}]`);
    } else if (mins.length) {
      notes.push(`${job.section.file}:${job.section.line}: job "${job.name}": rate_min is not checked (vfab checks it only for a job with a runtime that waits for no other job)`);
    }
  }
  const docDisks: Record<string, unknown> = {};
  for (const [name, size] of disks) {
    if (size <= 0) notes.push(`disk "${name}": no size, offset or filesize in the job file; vfab gives it 1 GiB`);
    docDisks[name] = { size: size > 0 ? size : DEFAULT_DISK_SIZE, backend: 'device' };
  }
  if (ignoredSeen.size) {
    notes.unshift(`ignored (no effect on the modelled I/O): ${[...ignoredSeen].map(([k, at]) => `${k} (${at})`).join(', ')}`);
  }
  const doc: Record<string, unknown> = {
    seed: opts.seed ?? 1,
    backends: { device: { parallelism: 32, service: '100us' } },
    disks: docDisks,
    jobs: docJobs,
  };
  if (expect.length) doc['expect'] = expect;
  const head = `# imported from ${sections[0]?.file ?? 'a job file'} by vfab qos import\n# backends.device is a stand-in: a job file does not describe the device; edit it to model yours\n${notes.map((n) => `# note: ${n}\n`).join('')}`;
  return { doc, yaml: head + stringify(doc, { lineWidth: 0 }), notes };
}

/** fio bssplit: `SIZE/PCT:…[,…]`; entries without a percentage share what is left evenly (options.c bssplit_ddir). */
function bssplit(x: FioOption, kb: KbBase): string {
  const v = (x.value ?? '').trim();
  const dirs = v.split(',');
  if (dirs.length > 3) throw bad(x, `"${v}": at most read,write,trim lists`);
  const out: string[] = [];
  for (const d of dirs.slice(0, 2)) {
    if (d.trim() === '') {
      out.push(out[0] ?? '4096/100');
      continue;
    }
    const items = d.split(':').filter((s) => s.trim() !== '');
    const sizes: number[] = [];
    const pcts: Array<number | undefined> = [];
    for (const it of items) {
      const [s, p] = it.split('/');
      const b = fioBytes(s ?? '', kb);
      if (typeof b === 'string') throw bad(x, b);
      if (b <= 0) throw bad(x, `block size "${s}" must be more than 0`);
      sizes.push(b);
      if (p === undefined || p.trim() === '') pcts.push(undefined);
      else {
        const n = Number(p.trim());
        if (!Number.isInteger(n) || n < 0 || n > 100) throw bad(x, `percentage "${p}" must be a whole number 0..100`);
        pcts.push(n);
      }
    }
    if (!sizes.length) throw bad(x, `"${d}" has no block sizes`);
    const given = pcts.reduce<number>((a, p) => a + (p ?? 0), 0);
    const open = pcts.filter((p) => p === undefined).length;
    if (given > 100) throw bad(x, `the percentages of "${d}" add up to ${given}, more than 100`);
    if (open === 0 && given !== 100) throw bad(x, `the percentages of "${d}" add up to ${given}, not 100`);
    // fio splits the rest evenly over the entries without one (integer division; the last takes the remainder)
    const share = open ? Math.floor((100 - given) / open) : 0;
    let left = 100 - given - share * open;
    const filled = pcts.map((p) => {
      if (p !== undefined) return p;
      const extra = left > 0 ? left : 0;
      left = 0;
      return share + extra;
    });
    out.push(sizes.map((s, i) => `${s}/${filled[i]}`).filter((_, i) => filled[i]! > 0).join(':'));
  }
  return dirs.length === 1 ? out[0]! : `${out[0]},${out[1]}`;
}

/** Why an option is refused, for the common families. */
function unsupportedWhy(name: string): string {
  if (/verify/.test(name)) return 'vfab does not verify data (no write-then-read-back phase)';
  if (/^zone|zbd|max_open_zones|read_beyond_wp/.test(name)) return 'vfab has no zoned devices';
  if (/^(loops|io_size|io_limit|fill_device|offset_increment|percentage_random|blockalign|ba)$/.test(name)) return 'it changes which I/Os are issued, and vfab does not model it';
  if (/^(fsync|fdatasync|trim_)/.test(name)) return 'vfab issues no flushes or trims';
  if (/^(ss|ss_|steadystate)/.test(name)) return 'steady-state detection is not modelled';
  if (/^(latency_|flow)/.test(name)) return 'feedback-driven depth and flow control are not modelled';
  if (/^(exitall|exit_what)$/.test(name)) return 'ending other jobs early is not modelled';
  if (/^(cpuload|cpumode|cpuchunks|exec_|program|arguments)/.test(name)) return 'it is not block I/O';
  return 'vfab does not model it';
}
