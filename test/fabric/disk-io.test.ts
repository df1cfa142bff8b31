/**
 * Disk I/O inside a run (issue 13 item 3): fio jobs, throttles and storage devices of a topology
 * run on the fabric's simulation and give the numbers `vfab qos` gives for the same model.
 * Expected values are never written here: each case runs the equivalent QoS file through
 * `runQos` and compares.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { runTopology, storageVerdicts } from '../../src/fabric/index.js';
import { evaluateNetExpectations, loadNetExpectations } from '../../src/fabric/expect.js';
import { validateModel } from '../../src/fabric/validate.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { loadQosText, runQos } from '../../src/qos/index.js';
import { UserError, UserErrors } from '../../src/errors.js';

const DEVICE = `parallelism: 8, service: { lognormal: { p50: 150us, p99: 1ms } }, bandwidth: 1GiB/s`;
const JOB = `rw: randrw, rwmixread: 70, bs: 4k, iodepth: 4, runtime: 3s, time_based: 1`;

/** The same storage as a topology (with network traffic alongside) and as a QoS file. */
function pair(policy: string, at = '0s'): { topo: string; qos: string } {
  const topo = `
name: t
seed: 7
duration: 8s
hosts:
  hv1:
    bridges: { br0: {} }
    backends:
      ssd: { ${DEVICE} }
vms:
  vm1:
    host: hv1
    interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24 } }
    disks:
      vda: { memory: 1GiB, backend: ssd, throttle: ${policy} }
  vm2:
    host: hv1
    interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.2/24 } }
scenario:
  - at: 0s
    ping: { from: vm1, to: vm2, count: 20, interval: 100ms }
  - at: ${at}
    fio: { name: job1, disk: vm1.vda, ${JOB} }
`;
  const qos = `
seed: 7
backends:
  hv1.ssd: { ${DEVICE} }
disks:
  vm1.vda: { size: 1GiB, backend: hv1.ssd, policy: ${policy} }
jobs:
  job1: { disk: vm1.vda, ${JOB}, startdelay: ${at} }
`;
  return { topo, qos };
}

const POLICIES: Record<string, string> = {
  qemu: '{ iops-total: 500, iops-total-max: 1000, iops-total-max-length: 1 }',
  libvirt: '{ kind: libvirt, total_iops_sec: 400, read_bytes_sec: 1MiB }',
  firecracker: '{ kind: firecracker, ops: { size: 100, refill_time: 200 } }',
  'io.max': '{ kind: io.max, riops: 300, wiops: 100 }',
  mclock: '{ kind: mclock, limit: 600, weight: 1 }',
};

describe('fio inside a fabric run', () => {
  for (const [kind, policy] of Object.entries(POLICIES)) {
    it(`gives the fio results of the equivalent QoS file (${kind} throttle)`, () => {
      const { topo, qos } = pair(policy);
      const run = runTopology({ text: topo, file: 'topo.yaml' });
      const storage = run.summary['storage'] as { fio: { jobs: unknown[] } };
      const ref = runQos(loadQosText(qos, 'q.qos.yaml').model).result;
      expect(ref.fio.jobs[0]!.read.total_ios).toBeGreaterThan(100);
      expect(storage.fio.jobs).toEqual(ref.fio.jobs);
      // the network ran in the same simulation
      expect(run.summary.apps[0]!['received']).toBe(20);
    });
  }

  it('starts the job at its step time (a startdelay in QoS terms)', () => {
    const { topo, qos } = pair(POLICIES['qemu']!, '2s');
    const text = `${topo}expect: ["vm1.vda: iops == 0 over [0s, 2s]", "vm1.vda: iops >= 100 over [2s, 3s]"]\n`;
    const model = loadTopologyText(text, 'topo.yaml');
    const exps = loadNetExpectations(model);
    const r = runTopology(model);
    const storage = r.summary['storage'] as { fio: { jobs: unknown[] } };
    expect(storage.fio.jobs).toEqual(runQos(loadQosText(qos, 'q.qos.yaml').model).result.fio.jobs);
    // no I/O before the step's time, I/O right after it
    expect(evaluateNetExpectations(exps, r.summary, r.fabric.scenarioApps, storageVerdicts(r.fabric.ctx)).map((v) => v.pass)).toEqual([true, true]);
  });

  it('is deterministic: same seed, same JSON bytes; another seed, other service times', () => {
    const { topo } = pair(POLICIES['qemu']!);
    const a = JSON.stringify(runTopology({ text: topo, file: 'topo.yaml' }).summary);
    const b = JSON.stringify(runTopology({ text: topo, file: 'topo.yaml' }).summary);
    expect(a).toBe(b);
    const c = runTopology({ text: topo, file: 'topo.yaml' }, { seed: 8 }).summary['storage'];
    expect(JSON.stringify(c)).not.toBe(JSON.stringify((JSON.parse(a) as { storage: unknown }).storage));
  });

  it('adds no storage block and changes nothing without fio steps', () => {
    const { topo } = pair(POLICIES['qemu']!);
    const plain = topo.replace(/ {2}- at: 0s\n {4}fio:.*\n/, '');
    expect(plain).not.toContain('fio:');
    const s = runTopology({ text: plain, file: 'topo.yaml' }).summary;
    expect(s['storage']).toBeUndefined();
    expect(s.apps[0]!['received']).toBe(20);
  });
});

/** file:line:col of the first occurrence of `needle` in `text` (1-based). */
function where(text: string, needle: string, file = 'topo.yaml'): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.includes(needle));
  return `${file}:${i + 1}:${lines[i]!.indexOf(needle) + 1}`;
}

function errorsOf(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof UserErrors) return e.errors.map((x) => x.render());
    if (e instanceof UserError) return [e.render()];
    throw e;
  }
  return [];
}

describe('located storage errors (exit 2)', () => {
  it('an fio action naming an unknown disk', () => {
    const { topo } = pair(POLICIES['qemu']!);
    const bad = topo.replace('disk: vm1.vda,', 'disk: vm1.vdb,');
    const errs = errorsOf(() => runTopology({ text: bad, file: 'topo.yaml' }));
    expect(errs).toHaveLength(1);
    expect(errs[0]).toContain(`${where(bad, 'vm1.vdb')}: no disk "vm1.vdb"; did you mean "vm1.vda"?`);
    // vfab validate reports the same, at the same place
    expect(validateModel(loadTopologyText(bad, 'topo.yaml')).map((e) => e.render())).toEqual(errs);
  });

  it('a bad throttle key, and a backend the host lacks', () => {
    const { topo } = pair(POLICIES['qemu']!);
    const bad = topo.replace('iops-total: 500', 'iops-totl: 500').replace('backend: ssd', 'backend: nvme');
    const errs = errorsOf(() => runTopology({ text: bad, file: 'topo.yaml' }));
    expect(errs.join('\n')).toContain(`${where(bad, 'iops-totl')}: unknown throttle limit "iops-totl"; did you mean "iops-total"?`);
    expect(errs.join('\n')).toContain(`${where(bad, 'nvme')}: host hv1 has no storage device "nvme"`);
    for (const e of errs) expect(e).not.toMatch(/\n\s+at /);
  });

  it('bad fio options with the QoS files\' messages (an unknown rw, a block beyond the disk)', () => {
    const { topo } = pair(POLICIES['qemu']!);
    const bad = topo.replace('bs: 4k,', 'bs: 4k, offset: 2GiB,');
    const errs = errorsOf(() => runTopology({ text: bad, file: 'topo.yaml' }));
    expect(errs.join('\n')).toContain('offset 2147483648 is not inside disk "vm1.vda"');
    const unknownKey = topo.replace('bs: 4k,', 'blocksiz: 4k,');
    expect(errorsOf(() => loadTopologyText(unknownKey, 'topo.yaml')).join('\n')).toContain(where(unknownKey, 'blocksiz'));
  });
});

describe('expect: mixing storage and network metrics', () => {
  const { topo } = pair(POLICIES['qemu']!);
  const run = (lines: string[]) => {
    const text = `${topo}expect:\n${lines.map((l) => `  - "${l}"`).join('\n')}\n`;
    const model = loadTopologyText(text, 'topo.yaml');
    const exps = loadNetExpectations(model);
    const r = runTopology(model);
    return { text, verdicts: evaluateNetExpectations(exps, r.summary, r.fabric.scenarioApps, storageVerdicts(r.fabric.ctx)) };
  };

  it('evaluates both kinds in order, with the QoS evaluator\'s measurements', () => {
    const q = loadQosText(`${pair(POLICIES['qemu']!).qos}expect: ["vm1.vda: read_iops >= 1 over [2s, 3s]", "vm1.vda: p99 <= 1s"]\n`, 'q.qos.yaml');
    const ref = runQos(q.model, { expectations: q.expectations.map((e) => e.exp) }).result.expectations!;
    const { verdicts } = run(['ping1: loss == 0', 'vm1.vda read_iops >= 1 over [2s, 3s]', 'vm1.vda: p99 <= 1s']);
    expect(verdicts.map((v) => v.pass)).toEqual([true, true, true]);
    expect(verdicts[1]!.measured).toBe(ref[0]!.measured);
    expect(verdicts[2]!.measured).toBe(ref[1]!.measured);
  });

  it('fails a storage expectation the run does not meet (the limit holds)', () => {
    const { verdicts } = run(['vm1.vda: iops >= 600 over [2s, 3s]', 'burst: vm1.vda iops >= 900 for >= 5s']);
    expect(verdicts.map((v) => v.pass)).toEqual([false, false]);
  });

  it('locates a storage expectation naming an unknown disk or metric', () => {
    const text = `${topo}expect:\n  - "vm1.vda: iopz >= 1"\n  - "burst: vm9.vda iops >= 1 for >= 1s"\n`;
    const errs = errorsOf(() => loadNetExpectations(loadTopologyText(text, 'topo.yaml')));
    expect(errs).toHaveLength(2);
    expect(errs[0]).toContain(`topo.yaml:${text.split('\n').findIndex((l) => l.includes('iopz')) + 1}:`);
    expect(errs[1]).toContain('no disk or group "vm9.vda"');
  });
});

describe('expect: in a topology without disks', () => {
  it('reads every line as a network expectation (a bare metric is the network error it was)', () => {
    const text = `hosts: { hv1: { bridges: { br0: {} } } }
vms: { vm1: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24 } } } }
expect: ["p99 <= 5ms"]
`;
    const errs = errorsOf(() => loadNetExpectations(loadTopologyText(text, 'topo.yaml')));
    expect(errs).toHaveLength(1);
    expect(errs[0]).toContain('expected an app name and a colon');
  });
});

describe('topologies/disks-in-run.yaml', () => {
  it('passes its expectations (vfab test)', () => {
    const model = loadTopologyText(readFileSync('topologies/disks-in-run.yaml', 'utf8'), 'topologies/disks-in-run.yaml');
    const exps = loadNetExpectations(model);
    const r = runTopology(model);
    const v = evaluateNetExpectations(exps, r.summary, r.fabric.scenarioApps, storageVerdicts(r.fabric.ctx));
    expect(v.filter((x) => !x.pass)).toEqual([]);
    expect(exps.filter((e) => e.storage).length).toBeGreaterThan(0);
    expect(exps.filter((e) => !e.storage).length).toBeGreaterThan(0);
  });
});
