import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Fabric, loadTopologyText, MemorySink, runTopology, UserError, type AppSummary } from '../../src/index.js';

const twoVms = (extra = '') => `
name: t
hosts:
  hv1:
    bridges:
      br0: {}
vms:
  vm1:
    host: hv1
    interfaces:
      eth0: { bridge: br0, ipv4: 10.0.0.1/24 }
  vm2:
    host: hv1
    interfaces:
      eth0: { bridge: br0, ipv4: 10.0.0.2/24 }
scenario:
  - { at: 10ms, ping: { from: vm1, to: vm2, count: 3, interval: 10ms } }
${extra}`;

const ping = (apps: AppSummary[], i = 0) => apps[i] as AppSummary & { sent: number; received: number; loss_pct: number; rtt_min_ns: number };

describe('fabric', () => {
  it('pings between two VMs on one bridge, with the default 10us guest receive latency each way', () => {
    const { summary } = runTopology({ text: twoVms(), file: 't.yaml' }, { untilNs: 1e9 });
    const p = ping(summary.apps);
    expect(p).toMatchObject({ app: 'ping', from: 'vm1', to: '10.0.0.2', start_ns: 10_000_000, sent: 3, received: 3, loss_pct: 0 });
    expect(p.rtt_min_ns).toBe(20_000);
    expect(Object.keys(summary.ports)).toEqual(['hv1.br0.LOCAL', 'hv1.br0.vm1-eth0', 'hv1.br0.vm2-eth0', 'vm1.eth0', 'vm2.eth0']);
    expect(summary.simulated_ns).toBe(1e9);
    expect(summary.topology).toBe('t');
  });

  it('assigns QEMU-style 52:54:00 MACs in file order when none is given', () => {
    const m = loadTopologyText(twoVms(), 't.yaml');
    expect(m.vms.map((v) => v.interfaces[0]!.macText)).toEqual(['52:54:00:00:00:01', '52:54:00:00:00:02']);
  });

  it('captures only the selected ports, globs included', () => {
    const sink = new MemorySink();
    const f = new Fabric(loadTopologyText(twoVms('capture: { ports: ["vm*.eth0"] }'), 't.yaml'));
    const w = f.capturePcapng(sink);
    f.run({ untilNs: 1e8 });
    f.close();
    expect(w.interfaceName(0)).toBe('vm1.eth0');
    expect(w.interfaceName(1)).toBe('vm2.eth0');
    expect(w.interfaceName(2)).toBeUndefined();
  });

  it('applies link_down on a VM interface: pings during the outage are lost', () => {
    const extra = `  - { at: 15ms, link_down: vm2.eth0 }\n  - { at: 100ms, link_up: vm2.eth0 }\n  - { at: 200ms, ping: { from: vm1, to: vm2, count: 2, interval: 10ms } }`;
    const { summary } = runTopology({ text: twoVms(extra) }, { untilNs: 1e9 });
    expect(ping(summary.apps, 0)).toMatchObject({ sent: 3, received: 1 });
    expect(ping(summary.apps, 1)).toMatchObject({ sent: 2, received: 2 });
    expect(summary.events.filter((e) => e.type.startsWith('link-')).map((e) => [e.type, e.time_ns])).toEqual([
      ['link-down', 15_000_000],
      ['link-up', 100_000_000],
    ]);
  });

  it('reports apps that never started when the run ends before their time', () => {
    const { summary } = runTopology({ text: twoVms() }, { untilNs: 5e6 });
    expect(summary.apps[0]).toMatchObject({ app: 'ping', started: false });
  });

  it('runs a fabric once', () => {
    const f = new Fabric(loadTopologyText(twoVms()));
    f.run({ untilNs: 1e6 });
    expect(() => f.run()).toThrow(/runs once/);
  });

  it('lets an extension move a VM NIC between bridges (the migration path) and traffic follows', () => {
    const text = `
hosts:
  hv1: { bridges: { br0: { ports: { up: {} } } } }
  hv2: { bridges: { br0: { ports: { up: {} } } } }
links:
  - { a: hv1.br0.up, b: hv2.br0.up, delay: 50us }
vms:
  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24 } } }
  vm2: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.2/24 } } }
scenario:
  - { at: 1ms, ping: { from: vm1, to: vm2, count: 1 } }
  - { at: 2s, ping: { from: vm1, to: vm2, count: 1 } }
`;
    const f = new Fabric(loadTopologyText(text));
    f.sim.scheduleAt(1e9, () => {
      f.ctx.unplugNic('vm2', 'eth0');
      f.ctx.plugNic('vm2', 'eth0', 'hv2.br0');
      f.ctx.vms.get('vm2')!.host = 'hv2';
      f.ctx.vms.get('vm2')!.stack.announce();
    });
    const s = f.run({ untilNs: 3e9 });
    expect(ping(s.apps, 0)).toMatchObject({ received: 1, rtt_min_ns: 40_000 }); // ARP round trip first, then the echo
    // after the move the reply crosses the link twice (2 × 50us + serialization) on top of the guest latency
    const after = ping(s.apps, 1);
    expect(after.received).toBe(1);
    expect(after.rtt_min_ns).toBeGreaterThan(120_000);
    expect(Object.keys(s.ports)).toContain('hv2.br0.vm2-eth0');
  });

  it('publishes extension summary sections', () => {
    const f = new Fabric(loadTopologyText(twoVms()));
    f.ctx.addSummarySection('widgets', { json: () => [{ n: 1 }], text: () => ['one widget'] });
    const s = f.run({ untilNs: 1e6 });
    expect(s['widgets']).toEqual([{ n: 1 }]);
    expect(f.renderSummary(s)).toContain('one widget');
  });

  it('runs the extension validators (SR-IOV, migration, disks) before building, with positions', () => {
    const text = twoVms('  - { at: 1s, migrate: { vm: vm1, to: hv9 } }');
    let err: unknown;
    try {
      new Fabric(loadTopologyText(text, 't.yaml'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).render()).toMatch(/^t\.yaml:18:\d+: unknown host "hv9"/);
  });
});

describe('determinism', () => {
  const lossy = `
hosts:
  hv1: { bridges: { br0: { ports: { up: { trunks: [10] } } } } }
  hv2: { bridges: { br0: { ports: { up: { trunks: [10] } } } } }
links:
  - { a: hv1.br0.up, b: hv2.br0.up, bandwidth: 100Mbit, delay: 100us, loss: 0.2 }
vms:
  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, tag: 10, ipv4: 10.0.0.1/24 } } }
  vm2: { host: hv2, interfaces: { eth0: { bridge: br0, tag: 10, ipv4: 10.0.0.2/24 } } }
scenario:
  - { at: 1ms, ping: { from: vm1, to: vm2, count: 20, interval: 5ms } }
  - { at: 1ms, udp: { from: vm2, to: vm1, rate: 20Mbit, size: 800, duration: 100ms } }
`;
  const run = (seed: number) => {
    const sink = new MemorySink();
    const { summary } = runTopology({ text: lossy, file: 'lossy.yaml' }, { seed, untilNs: 500e6, pcapngSink: sink });
    return { json: JSON.stringify(summary), pcap: sink.bytes() };
  };

  it('gives byte-identical pcapng and JSON for the same topology and seed', () => {
    const a = run(42);
    const b = run(42);
    expect(b.json).toBe(a.json);
    expect(Buffer.compare(Buffer.from(a.pcap), Buffer.from(b.pcap))).toBe(0);
    expect(a.pcap.length).toBeGreaterThan(10_000);
  });

  it('gives the same summary and trace when run in slices (runAsync, as the CLI does)', async () => {
    const a = run(42);
    const sink = new MemorySink();
    const f = new Fabric(loadTopologyText(lossy, 'lossy.yaml'), { seed: 42 });
    f.capturePcapng(sink);
    const s = await f.runAsync({ untilNs: 500e6, sliceEvents: 97 });
    f.close();
    expect(JSON.stringify(s)).toBe(a.json);
    expect(Buffer.compare(Buffer.from(sink.bytes()), Buffer.from(a.pcap))).toBe(0);
  });

  it('loses different frames with a different seed', () => {
    const a = run(42);
    const b = run(43);
    expect(b.json).not.toBe(a.json);
    expect(Buffer.compare(Buffer.from(a.pcap), Buffer.from(b.pcap))).not.toBe(0);
    const lost = (j: string) => (JSON.parse(j) as { ports: Record<string, { drops: Record<string, number> }> }).ports['hv2.br0.up']!.drops['loss'];
    expect(lost(a.json)).toBeGreaterThan(0);
  });
});

describe('traces when a run fails', () => {
  it('closes the pcapng with whole blocks when the run throws midway', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfab-fail-'));
    const file = join(dir, 'fail.pcapng');
    const text = twoVms('  - { at: 25ms, link_down: vm2.eth0 }');
    expect(() =>
      runTopology({ text }, {
        pcapng: file,
        untilNs: 1e9,
        events: (e) => {
          if (e.type === 'link-down') throw new Error('boom');
        },
      }),
    ).toThrow('boom');
    const buf = readFileSync(file);
    // walk the blocks: each block's length is repeated at its end and the file ends on a block boundary
    let off = 0;
    let epbs = 0;
    while (off < buf.length) {
      const type = buf.readUInt32LE(off);
      const len = buf.readUInt32LE(off + 4);
      expect(buf.readUInt32LE(off + len - 4)).toBe(len);
      if (type === 6) epbs++;
      off += len;
    }
    expect(off).toBe(buf.length);
    expect(epbs).toBeGreaterThan(8); // ARP + the first pings were written before the failure
  });
});
