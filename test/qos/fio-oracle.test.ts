/**
 * Oracle: real fio 3.x (null engine, no disk needed) and vfab describe the same workload with the
 * same JSON shape, and agree on what a rate-capped job does.
 */
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { describeWithTools } from '../helpers/tools.js';
import { runQos } from '../../src/qos/run.js';
import { defaultJob } from '../../src/qos/workload.js';

type Json = Record<string, unknown>;
const keys = (o: unknown): string[] => Object.keys(o as Json).sort();

describeWithTools(['fio'], 'fio-shaped JSON against fio itself', () => {
  const fio = JSON.parse(
    execFileSync('fio', ['--name=j', '--ioengine=null', '--rw=randread', '--bs=4k', '--size=64m', '--rate_iops=500', '--runtime=2', '--time_based', '--output-format=json'], { encoding: 'utf8' }),
  ) as { jobs: Array<Json & { read: Json & { clat_ns: Json & { percentile: Json }; iops: number } }> } & Json;
  const { result } = runQos({
    seed: 1,
    durationNs: 0,
    intervalNs: 500_000_000,
    backends: [],
    disks: [{ name: 'j', size: 64 * 2 ** 20, backend: undefined, policy: undefined }],
    groups: [],
    jobs: [{ ...defaultJob('j', 'j'), rw: 'randread', rateIops: [500, 500], runtimeNs: 2e9, timeBased: true }],
  });
  const ours = result.fio;

  it('has every key fio prints for a job direction, with the same latency objects and percentile keys', () => {
    const f = fio.jobs[0]!;
    const o = ours.jobs[0]! as unknown as typeof f;
    expect(keys(o.read)).toEqual(expect.arrayContaining(keys(f.read)));
    expect(keys(o.read.clat_ns)).toEqual(keys(f.read.clat_ns));
    expect(keys(o.read.clat_ns.percentile)).toEqual(keys(f.read.clat_ns.percentile));
    for (const k of ['jobname', 'groupid', 'error', 'job options', 'read', 'write', 'trim', 'job_runtime', 'elapsed', 'latency_ns', 'latency_us', 'latency_ms', 'iodepth_level']) expect(keys(o)).toContain(k);
    for (const k of ['fio version', 'timestamp', 'time', 'jobs']) expect(keys(ours)).toContain(k);
  });

  it('agrees with fio on the IOPS of a rate_iops=500 job within 5 %', () => {
    const fioIops = fio.jobs[0]!.read.iops;
    const ourIops = ours.jobs[0]!.read.iops;
    expect(Math.abs(ourIops / fioIops - 1)).toBeLessThan(0.05);
    expect(ours.jobs[0]!.read.iops_samples).toBe(4);
    expect(ours.jobs[0]!.read.iops_mean).toBe(500);
  });
});
