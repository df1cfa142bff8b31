/**
 * pcapng packet ids (epb_packetid, Wireshark's `frame.packet_id`): one packet keeps one id on
 * every port it crosses — the guest's NIC, the bridge, the tunnel port, the encapsulated copy on
 * the underlay, every router hop, the decapsulation on the far side — and different packets get
 * different ids. Read back with tshark, which is the consumer that matters.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadTopology, loadTopologyText, runTopology } from '../../src/index.js';
import { MemorySink, PcapngWriter } from '../../src/pcap/index.js';
import { describeWithTools } from '../helpers/tools.js';

const run = promisify(execFile);
const tshark = async (file: string, ...a: string[]): Promise<string> => (await run('tshark', ['-r', file, ...a], { maxBuffer: 64 << 20 })).stdout;

describe('packet ids in the model and the writer', () => {
  it('auto: on for a topology with tunnel ports, off otherwise; explicit values win', () => {
    expect(loadTopology('topologies/overlay-vxlan.yaml').capture.packetIds).toBe(true);
    expect(loadTopology('topologies/quickstart.yaml').capture.packetIds).toBe(false);
    const text = readFileSync('topologies/quickstart.yaml', 'utf8').replace(/^capture:[^\n]*\n(?:[ ]+[^\n]*\n)*/m, '');
    expect(loadTopologyText(`${text}\ncapture: { packet_ids: true }\n`, 'q.yaml').capture.packetIds).toBe(true);
    expect(() => loadTopologyText(`${text}\ncapture: { packet_ids: sometimes }\n`, 'q.yaml')).toThrow(/packet_ids/);
  });

  it('writes epb_packetid as a 64-bit option after the flags, and nothing when not asked', () => {
    const sink = new MemorySink();
    const w = new PcapngWriter(sink);
    const id = w.addInterface({ name: 'p' });
    w.writePacket(id, 5, new Uint8Array(60), { direction: 'in', packetId: 2 ** 40 + 7 });
    w.writePacket(id, 6, new Uint8Array(60), { direction: 'out' });
    w.flush();
    const all = sink.bytes();
    const whole = new DataView(all.buffer, all.byteOffset);
    // skip the section header and interface blocks to the first EPB
    let at = 0;
    while (whole.getUint32(at, true) !== 6) at += whole.getUint32(at + 4, true);
    const b = all.subarray(at);
    const v = new DataView(b.buffer, b.byteOffset);
    const len = v.getUint32(4, true);
    expect(len).toBe(28 + 60 + 8 + 12 + 4 + 4);
    const opt = 28 + 60 + 8; // after the data and the flags option
    expect(v.getUint16(opt, true)).toBe(5);
    expect(v.getUint16(opt + 2, true)).toBe(8);
    expect(v.getUint32(opt + 4, true) + v.getUint32(opt + 8, true) * 2 ** 32).toBe(2 ** 40 + 7);
    expect(v.getUint32(len - 4, true)).toBe(len);
    // the second packet: flags only, as before packet ids existed
    expect(v.getUint32(len + 4, true)).toBe(28 + 60 + 12 + 4);
  });
});

describeWithTools(['tshark'], 'packet ids across the overlay (tshark)', () => {
  it('one echo request keeps one id from vma1 through VXLAN and three routers to vma2; each request has its own', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'overlay3-ids-')), 'ov.pcapng');
    runTopology('topologies/overlay-vxlan.yaml', { pcapng: file, untilNs: 200_000_000 });
    const rows = (await tshark(file, '-Y', 'icmp.type == 8', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.packet_id', '-e', 'frame.interface_name', '-e', 'vxlan.vni', '-e', 'icmp.ident', '-e', 'icmp.seq', '-e', 'eth.src'))
      .split('\n')
      .filter(Boolean)
      .map((r) => r.split('|'));
    expect(rows.length).toBeGreaterThan(100);
    // every captured request carries an id
    for (const r of rows) expect(Number(r[0])).toBeGreaterThan(0);
    // group by id: each id is one request of one tenant (same ident, seq and inner source MAC)
    const byId = new Map<string, string[][]>();
    for (const r of rows) byId.set(r[0]!, [...(byId.get(r[0]!) ?? []), r]);
    for (const [, list] of byId) {
      const key = (r: string[]) => `${r[3]}/${r[4]}/${r[5]!.split(',').pop()}`;
      expect(new Set(list.map(key)).size).toBe(1);
    }
    // and each request (tenant MAC, ident, seq) has exactly one id
    const ids = new Map<string, Set<string>>();
    for (const r of rows) {
      const k = `${r[5]!.split(',').pop()}/${r[3]}/${r[4]}`;
      ids.set(k, (ids.get(k) ?? new Set()).add(r[0]!));
    }
    for (const [, s] of ids) expect(s.size).toBe(1);
    // the first request of tenant A crosses, under one id: the VM, the bridge, the tunnel port,
    // hv1's underlay, the routed leaf-spine hops, hv2's underlay, hv2's tunnel port and vma2
    const first = rows.find((r) => r[5]!.split(',').pop()!.startsWith('02:0a:') && r[4] === '1')!;
    const path = byId.get(first[0]!)!.map((r) => r[1]);
    expect(path[0]).toBe('vma1.eth0');
    expect(path).toContain('hv1.br-a.vx2');
    expect(path).toContain('hv1.underlay');
    expect(path).toContain('hv2.underlay');
    expect(path).toContain('hv2.br-a.vx1');
    expect(path[path.length - 1]).toBe('vma2.eth0');
    expect(path.filter((p) => /^(leaf|s)\d/.test(p!)).length).toBeGreaterThanOrEqual(4);
    // the encapsulated copies carry VNI 5001 under the same id
    expect(byId.get(first[0]!)!.filter((r) => r[2] === '5001').length).toBeGreaterThanOrEqual(2);
  });

  it('a topology without tunnels writes the same bytes as before packet ids (no option)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'overlay3-noids-'));
    runTopology('topologies/quickstart.yaml', { pcapng: join(dir, 'a.pcapng') });
    const out = await tshark(join(dir, 'a.pcapng'), '-T', 'fields', '-e', 'frame.packet_id');
    expect(out.trim().split('\n').every((l) => l === '')).toBe(true);
  });
});
