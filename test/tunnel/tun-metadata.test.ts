/**
 * tun_metadata0…63 through a bridge's TLV map (ovs-fields(7) "tun_metadata", OVS
 * lib/tun-metadata.c): the map's rules, flows that match, set, load and move the fields, Geneve
 * options on encap and decap, and the `ofproto/trace` text against Open vSwitch 3.1.
 *
 * test/fixtures/tun-metadata/ holds what a live OVS 3.1.0 answered (ovs-trace.sh with
 * bridge.spec, flows.txt, packets.txt: trace.log and expected.txt); the live suite re-runs the
 * oracle when OVS is installed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { loadTopologyText, runTopology } from '../../src/index.js';
import { Fabric } from '../../src/fabric/fabric.js';
import { Simulation } from '../../src/sim/simulation.js';
import { Port, type Frame, type FrameMeta } from '../../src/port/port.js';
import { TunnelPort, UnderlayEndpoint } from '../../src/tunnel/index.js';
import { buildIcmpEcho } from '../../src/wire/build.js';
import { encapGeneve, parseGeneve, type GeneveOption } from '../../src/wire/geneve.js';
import { BridgeTracer } from '../../src/vswitch/trace.js';
import { Bridge } from '../../src/vswitch/bridge.js';
import { KEY_WORDS } from '../../src/vswitch/fields.js';
import { TlvTable, parseTlvMap } from '../../src/vswitch/tun-metadata.js';
import { describeLiveOvsTrace } from '../helpers/ovs-live-trace.js';

/** What the CLI prints for an error thrown by `f` (`file:line:col: message`). */
function rendered(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof UserError ? e.render() : String(e);
  }
  return 'no error';
}

const MAP = '{class=0xffff,type=0x80,len=4}->tun_metadata0,{class=0x0102,type=0x01,len=8}->tun_metadata1';
const FIX = join(import.meta.dirname, '../fixtures/tun-metadata');

describe('TLV map', () => {
  it('parses add-tlv-map text and refuses what OVS refuses (NXTTMFC_*)', () => {
    expect(parseTlvMap(MAP, 'x')).toEqual([
      { cls: 0xffff, type: 0x80, len: 4, index: 0 },
      { cls: 0x102, type: 1, len: 8, index: 1 },
    ]);
    const t = new TlvTable(parseTlvMap(MAP, 'x'));
    expect(t.allocated).toBe(12); // dump-tlv-map: "allocated option space=12"
    const bad = (s: string): string => {
      try {
        TlvTable.fromText(s, 'tlv_map');
      } catch (e) {
        return rendered(() => {
          throw e;
        });
      }
      return 'accepted';
    };
    expect(bad('{class=1,type=1,len=6}->tun_metadata0')).toMatch(/NXTTMFC_BAD_OPT_LEN/);
    expect(bad('{class=1,type=1,len=128}->tun_metadata0')).toMatch(/NXTTMFC_BAD_OPT_LEN/);
    expect(bad('{class=1,type=1,len=4}->tun_metadata64')).toMatch(/NXTTMFC_BAD_FIELD_IDX/);
    expect(bad('{class=1,type=1,len=4}->tun_metadata0,{class=1,type=2,len=4}->tun_metadata0')).toMatch(/NXTTMFC_ALREADY_MAPPED/);
    expect(bad('{class=1,type=1,len=4}->tun_metadata0,{class=1,type=1,len=4}->tun_metadata1')).toMatch(/NXTTMFC_DUP_ENTRY/);
    expect(bad('{class=1,type=1,len=124}->tun_metadata0')).toMatch(/NXTTMFC_TABLE_FULL/);
    expect(bad('{class=1,type=1}->tun_metadata0')).toMatch(/expected/);
    expect(bad('garbage')).toMatch(/expected/);
  });

  it('options -> words -> options is the identity for mapped options (property)', () => {
    const t = new TlvTable([
      { cls: 0x0102, type: 0x80, len: 4, index: 3 },
      { cls: 0xffff, type: 0x01, len: 12, index: 40 },
      { cls: 0x0001, type: 0x02, len: 8, index: 0 },
    ]);
    const data = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.boolean(), data(4), data(12), data(8), (a, b, c, d3, d40, d0) => {
        const opts: GeneveOption[] = [];
        if (b) opts.push({ cls: 0xffff, type: 0x01, data: d40 });
        if (a) opts.push({ cls: 0x0102, type: 0x80, data: d3 });
        if (c) opts.push({ cls: 0x0001, type: 0x02, data: d0 });
        const w = new Int32Array(KEY_WORDS);
        expect(t.fromOptions(opts, w)).toBeNull();
        const back = t.toOptions(w) ?? [];
        // tun_metadata_to_geneve__: field index order (0, 3, 40), whatever order they came in.
        const want = [...(c ? [{ cls: 1, type: 2, data: d0 }] : []), ...(a ? [{ cls: 0x102, type: 0x80, data: d3 }] : []), ...(b ? [{ cls: 0xffff, type: 1, data: d40 }] : [])];
        expect(back.map((o) => ({ cls: o.cls, type: o.type, data: [...o.data] }))).toEqual(want.map((o) => ({ ...o, data: [...o.data] })));
      }),
    );
  });
});

describe('flows naming tun_metadata', () => {
  it('refuse an unmapped field in a match, a set_field, a load and a move (NXFMFC_INVALID_TLV_FIELD), with its place', () => {
    const tlv = TlvTable.fromText('{class=0xffff,type=0x80,len=4}->tun_metadata0', 't');
    const mk = (flows: string) => () => new Bridge({ path: 'br0', sim: new Simulation(1), flows, tlv });
    expect(mk('tun_metadata0=1,actions=drop')).not.toThrow();
    expect(rendered(mk('tun_metadata5=1,actions=drop'))).toMatch(/^br0 flows:1:1: tun_metadata5 is not mapped.*NXFMFC_INVALID_TLV_FIELD/);
    expect(mk('actions=set_field:1->tun_metadata2')).toThrow(/tun_metadata2 is not mapped/);
    expect(mk('actions=load:1->tun_metadata2[0..3]')).toThrow(/tun_metadata2 is not mapped/);
    expect(mk('actions=move:NXM_NX_REG0[0..7]->NXM_NX_TUN_METADATA7[0..7]')).toThrow(/NXM_NX_TUN_METADATA7 is not mapped/);
    // Without any map, every tun_metadata field is unmapped.
    expect(() => new Bridge({ path: 'br0', sim: new Simulation(1), flows: 'tun_metadata0=1,actions=drop' })).toThrow(/not mapped/);
    // A value wider than the mapped length is refused.
    expect(mk('tun_metadata0=0x123456789,actions=drop')).toThrow(/too large for 4-byte field/);
  });
});

/** The sections of one `ofproto/trace` block that vfab models for tun_metadata. */
function tunMdView(block: string): Record<string, string> {
  const all = block.split('\n');
  // OVS's native tunnel output re-enters br0 as the encapsulated packet (a second bridge("br0")
  // section): vfab's bare tracer stops at the tunnel port, so only the first section is compared.
  const second = all.findIndex((x, i) => i > 3 && x.startsWith('bridge("'));
  const l = second < 0 ? all : [...all.slice(0, second), ...all.filter((x) => /^(Final flow|Megaflow): /.test(x))];
  const tokens = (prefix: string): string => {
    const line = l.find((x) => x.startsWith(prefix)) ?? '';
    return line.slice(prefix.length).split(',').filter((t) => t.startsWith('tun_metadata') || t === 'unchanged').join(',');
  };
  return {
    flow: tokens('Flow: '),
    final: tokens('Final flow: '),
    megaflow: tokens('Megaflow: '),
    // The rule lines (` 0. tun_metadata1=0x5/0xff,in_port=2, priority 15`) and set_field actions.
    rules: l.filter((x) => /^\s+\d+\. /.test(x) || /set_field:.*tun_metadata/.test(x)).map((x) => x.trim()).join('\n'),
  };
}

function ovsBlocks(log: string): string[] {
  return log
    .split(/^=+\n/m)
    .map((b) => b.replace(/^\[\d+\][^\n]*\n/, ''))
    .filter((b) => b.startsWith('Flow:'));
}

function vfabBlocks(): string[] {
  const flows = readFileSync(join(FIX, 'flows.txt'), 'utf8').replace(/in_port=LOCAL/g, 'in_port=LOCAL');
  const tracer = new BridgeTracer({ flows, ports: [{ name: 'p1', ofport: 1 }, { name: 'p2', ofport: 2 }], tlvMap: MAP });
  return readFileSync(join(FIX, 'packets.txt'), 'utf8')
    .split('\n')
    .filter((x) => x.startsWith('trace '))
    .map((x) => tracer.trace(x.slice(6), { mayLearn: false, ovs: true }).ovs!.text);
}

/** `{class=0xffff,type=0x80,len=4,0x1234}` as OVS's odp-util format_geneve_opts prints an option. */
function odpOption(o: GeneveOption): string {
  let hex = '';
  for (const b of o.data) hex += b.toString(16).padStart(2, '0');
  hex = hex.replace(/^0+/, '');
  return `{class=0x${o.cls.toString(16)},type=0x${o.type.toString(16)},len=${o.data.length},0x${hex === '' ? '0' : hex}}`;
}

function compareWithOvs(log: string, expected: string): void {
  const ovs = ovsBlocks(log).map(tunMdView);
  const got = vfabBlocks().map(tunMdView);
  expect(got).toHaveLength(ovs.length);
  for (let i = 0; i < ovs.length; i++) expect({ packet: i + 1, ...got[i] }).toEqual({ packet: i + 1, ...ovs[i] });
  // The encapsulation OVS composes for packet 1 (its tnl_push geneve(...) options) equals what a
  // vfab Geneve port puts on the wire for the same flows.
  const m = /geneve\((crit,)?vni=(0x[0-9a-f]+),options\(((?:\{[^}]*\})*)\)\)/.exec(expected);
  expect(m).not.toBeNull();
  const outer = captureEncap();
  expect(outer.critical).toBe(m![1] === 'crit,');
  expect(`0x${outer.vni.toString(16)}`).toBe(m![2]);
  expect(outer.options.map(odpOption).join('')).toBe(m![3]);
}

const TOPO = (flows1: string, flows2: string): string => `
name: geneve-tun-metadata
hosts:
  hv1:
    underlay: { ipv4: 192.0.2.11/24, gateway: 192.0.2.1 }
    bridges:
      br0:
        tlv_map: "${MAP}"
        ports: { tun0: { type: geneve, remote_ip: 198.51.100.12, key: 5001 } }
        flows: |
          ${flows1}
  hv2:
    underlay: { ipv4: 198.51.100.12/24, gateway: 198.51.100.1 }
    bridges:
      br0:
        tlv_map: "${MAP}"
        ports: { tun0: { type: geneve, remote_ip: 192.0.2.11, key: 5001 } }
        flows: |
${flows2.split('\n').map((x) => `          ${x}`).join('\n')}
routers:
  r1: { interfaces: { a: { ipv4: 192.0.2.1/24 }, b: { ipv4: 198.51.100.1/24 } } }
vms:
  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24, mtu: 1400 } } }
  vm2: { host: hv2, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.2/24, mtu: 1400 } } }
links:
  - { a: hv1.underlay, b: r1.a, delay: 5us }
  - { a: r1.b, b: hv2.underlay, delay: 5us }
scenario:
  - { at: 0s, ping: { from: vm1, to: vm2, count: 3, interval: 10ms } }
`;

const SET = 'priority=10,actions=set_field:0x1234->tun_metadata0,load:0xabcdef->tun_metadata1[0..31],NORMAL';
const CHECK = (v: string): string => `priority=20,in_port=tun0,tun_metadata0=${v},tun_metadata1=0xabcdef,actions=NORMAL\npriority=15,in_port=tun0,actions=drop\npriority=0,actions=NORMAL`;

/** The first Geneve packet hv1 sends with the fixture's flows. */
function captureEncap(): ReturnType<typeof parseGeneve> & object {
  const fabric = new Fabric(loadTopologyText(TOPO(SET, CHECK('0x1234')), 'g.yaml'));
  const sent: Frame[] = [];
  fabric.ctx.ports.get('hv1.underlay')!.onFrame((_p, dir, f) => {
    if (dir === 'tx' && f[12] === 0x08 && f[23] === 17) sent.push(f.slice());
  });
  fabric.run({ untilNs: 50_000_000 });
  fabric.close();
  const g = parseGeneve(sent[0]!.subarray(14));
  if (typeof g === 'string') throw new Error(g);
  return g;
}

describe('tun_metadata on Geneve tunnel ports', () => {
  it('carries the fields as options: the remote bridge matches them; a wrong value is dropped', () => {
    const ok = runTopology({ text: TOPO(SET, CHECK('0x1234')) }, { untilNs: 1e9 });
    expect(ok.summary.apps[0]).toMatchObject({ sent: 3, received: 3 });
    const wrong = runTopology({ text: TOPO(SET, CHECK('0x1235')) }, { untilNs: 1e9 });
    expect(wrong.summary.apps[0]).toMatchObject({ sent: 3, received: 0 });
    const g = captureEncap();
    expect(g.options.map((o) => [o.cls, o.type, [...o.data]])).toEqual([
      [0xffff, 0x80, [0, 0, 0x12, 0x34]],
      [0x0102, 0x01, [0, 0, 0, 0, 0, 0xab, 0xcd, 0xef]],
    ]);
    expect(g.critical).toBe(true);
  });

  it('a bad tlv_map is a located topology error', () => {
    const text = TOPO(SET, CHECK('0x1234')).replace(`tlv_map: "${MAP}"`, 'tlv_map: "{class=1,type=1,len=5}->tun_metadata0"');
    expect(rendered(() => new Fabric(loadTopologyText(text, 'g.yaml')))).toMatch(/^g\.yaml:8:\d+: .*NXTTMFC_BAD_OPT_LEN/);
  });

  it('decap: a mapped critical option is accepted, an unmapped critical one or a wrong length dropped, an unmapped non-critical one ignored', () => {
    const sim = new Simulation(1);
    const ep = new UnderlayEndpoint({ host: 'hv2', sim, mac: 0x020000000001, ipv4: 0xc633640c, prefixLength: 24, mtu: 1500 });
    const got: { f: Frame; meta: FrameMeta }[] = [];
    const side = new Port('hv2.br0.tun0', (f, meta) => got.push({ f, meta }));
    const tlv = TlvTable.fromText(MAP, 't');
    const tp = new TunnelPort({ port: side, underlay: ep, type: 'geneve', remoteIp: 0xc000020b, vni: 9, dstPort: 6081, csum: false, hashSeed: 1, tlv });
    const inner = buildIcmpEcho({ srcMac: 0x020000000011, dstMac: 0x020000000022, srcIp: 0x0a000001, dstIp: 0x0a000002, type: 'request', id: 1, seq: 1, payloadLen: 8 });
    const outer = { srcMac: 0x020000000099, dstMac: 0x020000000001, srcIp: 0xc000020b, dstIp: 0xc633640c, srcPort: 50000, dstPort: 6081, tos: 0, ttl: 64, ident: 1, dontFrag: true, csum: false };
    const send = (opts: GeneveOption[]): void => ep.port.receive(encapGeneve(outer, 9, inner, opts), { hops: 0 });
    send([{ cls: 0xffff, type: 0x80, data: Uint8Array.of(0, 0, 0x12, 0x34) }]);
    send([{ cls: 0xffff, type: 0x81, data: new Uint8Array(4) }]);
    send([{ cls: 0xffff, type: 0x80, data: new Uint8Array(8) }]);
    send([{ cls: 0x0200, type: 0x01, data: new Uint8Array(4) }]);
    expect(got).toHaveLength(2);
    expect(got[0]!.meta.tunnel?.options?.map((o) => [o.cls, o.type, [...o.data]])).toEqual([[0xffff, 0x80, [0, 0, 0x12, 0x34]]]);
    expect(ep.port.counters.drops['geneve-critical-option']).toBe(1);
    expect(ep.port.counters.drops['geneve-option-length']).toBe(1);
    expect(tp.counters.decapsulated).toBe(2);
  });
});

describe('ofproto/trace with tun_metadata equals the recorded Open vSwitch 3.1.0', () => {
  it('Flow / Final flow / Megaflow tun_metadata fields, rule lines and the Geneve options of the encapsulation', () => {
    compareWithOvs(readFileSync(join(FIX, 'trace.log'), 'utf8'), readFileSync(join(FIX, 'expected.txt'), 'utf8'));
  });
});

describeLiveOvsTrace('ofproto/trace with tun_metadata equals a live Open vSwitch', FIX, (log, out) => compareWithOvs(log, out));
