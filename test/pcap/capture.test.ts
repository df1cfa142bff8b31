import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { capturePorts, enablePcap } from '../../src/pcap/capture.js';
import { closeAllFileSinks, FileSink } from '../../src/pcap/file-sink.adapter.js';
import { PcapWriter } from '../../src/pcap/pcap.js';
import { PcapngWriter } from '../../src/pcap/pcapng.js';
import { MemorySink } from '../../src/pcap/sink.js';
import { connect, Port } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/index.js';
import { buildArpReply, buildArpRequest } from '../../src/wire/build.js';
import { requireTool } from '../helpers/tools.js';
import { readPcap, readPcapng } from './read-pcapng.js';

const REQ = buildArpRequest({ srcMac: 0x020000000001, srcIp: 0x0a000001, dstIp: 0x0a000002 });
const REP = buildArpReply({ srcMac: 0x020000000002, srcIp: 0x0a000002, dstMac: 0x020000000001, dstIp: 0x0a000001 });

/** Two ports back to back; b answers every frame with REP after 5 µs. */
function pair(sim: Simulation): { a: Port; b: Port } {
  const a = new Port('vm1.eth0', () => undefined);
  const b: Port = new Port('hv1.br0.vm1', () => {
    sim.schedule(5000, () => b.send(REP, { hops: 0 }));
  });
  connect(a, b);
  return { a, b };
}

describe('port capture', () => {
  it('records one IDB per port in the given order and both directions with sim timestamps', () => {
    const sim = new Simulation(1);
    const { a, b } = pair(sim);
    const sink = new MemorySink();
    const w = new PcapngWriter(sink);
    const cap = capturePorts([b, a], sim, w, { snaplen: 128 });
    sim.schedule(1000, () => a.send(REQ, { hops: 0 }));
    sim.run();
    w.close();
    const f = readPcapng(sink.bytes());
    expect(f.interfaces.map((i) => [new TextDecoder().decode(i.options.get(2)![0]), i.snaplen])).toEqual([
      ['hv1.br0.vm1', 128],
      ['vm1.eth0', 128],
    ]);
    expect(cap.interfaceIds.get(b)).toBe(0);
    // a tx (out) at 1000, b rx (in) at 1000, b tx at 6000, a rx at 6000.
    expect(f.packets.map((p) => [p.ifId, Number(p.timeNs), p.flags])).toEqual([
      [1, 1000, 2],
      [0, 1000, 1],
      [0, 6000, 2],
      [1, 6000, 1],
    ]);
  });

  it('stops recording after stop()', () => {
    const sim = new Simulation(1);
    const { a, b } = pair(sim);
    const sink = new MemorySink();
    const w = new PcapngWriter(sink);
    const cap = capturePorts([a, b], sim, w);
    a.send(REQ, { hops: 0 });
    cap.stop();
    sim.run();
    w.close();
    expect(readPcapng(sink.bytes()).packets).toHaveLength(2);
  });

  it('writes a classic pcap of one port, filtered by direction', () => {
    for (const [mode, expected] of [['both', 2], ['rx', 1], ['tx', 1]] as const) {
      const sim = new Simulation(1);
      const { a } = pair(sim);
      const sink = new MemorySink();
      const w = new PcapWriter(sink);
      enablePcap(a, sim, w, { mode });
      sim.schedule(2_000_000_001, () => a.send(REQ, { hops: 0 }));
      sim.run();
      w.close();
      const recs = readPcap(sink.bytes()).records;
      expect(recs).toHaveLength(expected);
      if (mode === 'rx') expect([recs[0]!.sec, recs[0]!.nsec, recs[0]!.data[6]]).toEqual([2, 5001, 0x02]);
      if (mode === 'tx') expect([recs[0]!.sec, recs[0]!.nsec, recs[0]!.data[0]]).toEqual([2, 1, 0xff]);
    }
  });
});

describe('file sinks', () => {
  it('create the parent directory and close idempotently, leaving a complete file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfab-sink-'));
    const path = join(dir, 'a', 'b', 'x.pcapng');
    const sink = new FileSink(path);
    const w = new PcapngWriter(sink);
    w.writePacket(w.addInterface({ name: 'p' }), 5, REQ);
    w.close();
    w.close();
    sink.close();
    const f = readPcapng(new Uint8Array(readFileSync(path)));
    expect(f.packets).toHaveLength(1);
    expect(sink.bytesWritten).toBe(readFileSync(path).length);
  });

  it('closeAllFileSinks flushes writers that were never closed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfab-sink-'));
    const w = new PcapWriter(new FileSink(join(dir, 'p.pcap')));
    w.writePacket(1, REQ);
    expect(readFileSync(join(dir, 'p.pcap')).length).toBe(0);
    closeAllFileSinks();
    expect(readPcap(new Uint8Array(readFileSync(join(dir, 'p.pcap')))).records).toHaveLength(1);
  });

  it('leave valid files when the process is interrupted with SIGINT, exiting 130', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfab-int-'));
    const r = spawnSync('node_modules/.bin/vite-node', ['test/pcap/fixtures-interrupt.ts', '--', dir], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout).toContain('ready');
    expect(r.status).toBe(130);
    const ng = join(dir, 'sub', 'run.pcapng');
    const pc = join(dir, 'vm1.eth0.pcap');
    expect(readPcapng(new Uint8Array(readFileSync(ng))).packets).toHaveLength(5);
    expect(readPcap(new Uint8Array(readFileSync(pc))).records).toHaveLength(5);
    if (requireTool('tshark', 'tshark reads the interrupted traces')) {
      expect(existsSync(ng)).toBe(true);
      execFileSync('bash', ['test/oracles/pcap-check.sh', ng, pc], { stdio: 'ignore' });
    }
  });
});
