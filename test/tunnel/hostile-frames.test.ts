/**
 * Hostile tunnel frames at a host's underlay endpoint (issue 14 bad input): truncated VXLAN and
 * Geneve headers, lengths that disagree, bad Geneve option lengths, critical options, random
 * bytes anywhere after the Ethernet header. Whatever arrives, nothing throws, and the counters say
 * what happened: every frame is either decapsulated to exactly one tunnel port or dropped with a
 * reason on the underlay port. And a tunnel whose remote_ip cannot be reached: warned about at
 * validate, and each lost frame counted once at run time.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Simulation } from '../../src/sim/simulation.js';
import { Port, type Frame } from '../../src/port/port.js';
import { TunnelPort, UnderlayEndpoint } from '../../src/tunnel/index.js';
import { TlvTable } from '../../src/vswitch/tun-metadata.js';
import { buildIcmpEcho } from '../../src/wire/build.js';
import { encapVxlan } from '../../src/wire/vxlan.js';
import { encapGeneve, type GeneveOption } from '../../src/wire/geneve.js';
import { finish, sumBytes } from '../../src/wire/checksum.js';
import { loadTopologyText, runTopology } from '../../src/index.js';
import { overlayWarnings } from '../../src/topology/tunnels.js';
import { vxlanPair } from './helpers.js';

const LOCAL = 0xc633640c;
const REMOTE = 0xc000020b;
const MAC = 0x020000000001;

function endpoint(): { ep: UnderlayEndpoint; delivered: Frame[]; tunnels: TunnelPort[] } {
  const sim = new Simulation(1);
  const ep = new UnderlayEndpoint({ host: 'hv2', sim, mac: MAC, ipv4: LOCAL, prefixLength: 24, mtu: 1500 });
  const delivered: Frame[] = [];
  const side = (n: string): Port => new Port(`hv2.br0.${n}`, (f) => delivered.push(f));
  const tlv = TlvTable.fromText('{class=0xffff,type=0x80,len=4}->tun_metadata0,{class=0x0102,type=0x01,len=8}->tun_metadata1', 't');
  const tunnels = [
    new TunnelPort({ port: side('vx0'), underlay: ep, remoteIp: REMOTE, vni: 5001, dstPort: 4789, csum: false, hashSeed: 1 }),
    new TunnelPort({ port: side('vxf'), underlay: ep, remoteIp: 'flow', vni: 'flow', dstPort: 4789, csum: false, hashSeed: 1 }),
    new TunnelPort({ port: side('gn0'), underlay: ep, type: 'geneve', remoteIp: REMOTE, vni: 'flow', dstPort: 6081, csum: false, hashSeed: 1, tlv }),
  ];
  return { ep, delivered, tunnels };
}

const inner = buildIcmpEcho({ srcMac: 0x020000000011, dstMac: 0x020000000022, srcIp: 0x0a000001, dstIp: 0x0a000002, type: 'request', id: 1, seq: 1, payloadLen: 16 });
const outer = { srcMac: 0x020000000099, dstMac: MAC, srcIp: REMOTE, dstIp: LOCAL, srcPort: 50000, dstPort: 4789, tos: 0, ttl: 64, ident: 1, dontFrag: true, csum: false };
const vxlan = (vni = 5001): Uint8Array => encapVxlan(outer, vni, inner);
const geneve = (opts: GeneveOption[] = []): Uint8Array => encapGeneve({ ...outer, dstPort: 6081 }, 77, inner, opts);

/** Sends `f` and returns what the counters say happened: the tunnel that took it or the drop reason. */
function outcome(f: Uint8Array): string {
  const { ep, delivered, tunnels } = endpoint();
  ep.port.receive(f, { hops: 0 });
  const drops = Object.entries(ep.port.counters.drops).filter(([, n]) => n > 0);
  const dec = tunnels.map((t) => t.counters.decapsulated);
  const total = drops.reduce((s, [, n]) => s + n, 0) + dec.reduce((s, n) => s + n, 0);
  // ARP frames are the neighbour code's business (answered or learned), not a tunnel's
  if (f.length >= 14 && f[12] === 0x08 && f[13] === 0x06) return 'arp';
  expect(total).toBe(1);
  expect(delivered.length).toBe(dec.reduce((s, n) => s + n, 0));
  const i = dec.findIndex((n) => n > 0);
  return i >= 0 ? ['vx0', 'vxf', 'gn0'][i]! : drops[0]![0];
}

/** `f` with the IPv4 total length and header checksum made consistent again after an edit. */
function fixIp(f: Uint8Array, total = f.length - 14): Uint8Array {
  f[16] = total >>> 8;
  f[17] = total & 0xff;
  f[24] = f[25] = 0;
  const c = finish(sumBytes(f, 14, 14 + (f[14]! & 0x0f) * 4 > f.length ? 34 : 14 + (f[14]! & 0x0f) * 4));
  f[24] = c >>> 8;
  f[25] = c & 0xff;
  return f;
}

describe('hostile tunnel frames at the underlay endpoint', () => {
  it('well-formed frames reach the tunnel tnl_find picks', () => {
    expect(outcome(vxlan())).toBe('vx0');
    expect(outcome(vxlan(9))).toBe('vxf');
    expect(outcome(geneve())).toBe('gn0');
  });

  it('truncated at every length: never a throw, each one dropped with a reason', () => {
    for (const whole of [vxlan(), geneve([{ cls: 0xffff, type: 0x80, data: Uint8Array.of(0, 0, 0x12, 0x34) }])]) {
      const reasons = new Set<string>();
      for (let n = 0; n < whole.length; n++) {
        // the cut frame as received (IPv4 total length still the original's) and with the IPv4
        // header claiming exactly what is left (so the UDP/tunnel headers are what is short)
        const cut = whole.slice(0, n);
        const r1 = outcome(cut);
        reasons.add(r1);
        if (n >= 34) {
          const r2 = outcome(fixIp(whole.slice(0, n)));
          reasons.add(r2);
          // an inner frame shorter than an Ethernet header is never delivered
          if (n < 14 + 20 + 8 + 8 + 14) expect(['vx0', 'vxf', 'gn0']).not.toContain(r2);
        }
        expect(['vx0', 'vxf', 'gn0']).not.toContain(r1);
      }
      expect([...reasons].every((r) => /^[a-z0-9-]+$/.test(r))).toBe(true);
    }
  });

  it('a VXLAN header without the I flag, a Geneve option running past the header, a bad version, a non-Ethernet protocol: dropped and named', () => {
    const noI = vxlan();
    noI[42] = 0;
    expect(outcome(noI)).toMatch(/vxlan/);
    const g = geneve([{ cls: 0xffff, type: 0x80, data: new Uint8Array(4) }]);
    // the option's own length (5 bits, in 4-byte words) claims more than the options hold
    g[42 + 8 + 3] = 0x1f;
    expect(outcome(g)).toBe('bad-geneve');
    const v = geneve();
    v[42] = 0x40 | (v[42]! & 0x3f);
    expect(outcome(v)).toBe('geneve-version');
    const p = geneve();
    p[44] = 0x08;
    p[45] = 0x00;
    expect(outcome(p)).toBe('geneve-not-ethernet');
    // the Geneve header's option length says more than the UDP payload holds
    const o = geneve();
    o[42] = 0x3f;
    expect(outcome(o)).toBe('bad-geneve');
  });

  it('Geneve options: an unmapped critical one drops, a mapped one of the wrong length drops, an unmapped non-critical one is ignored (RFC 8926 §3.5.1, OVS tun_metadata_from_geneve__)', () => {
    expect(outcome(geneve([{ cls: 0x0200, type: 0x81, data: new Uint8Array(4) }]))).toBe('geneve-critical-option');
    expect(outcome(geneve([{ cls: 0xffff, type: 0x80, data: new Uint8Array(8) }]))).toBe('geneve-option-length');
    expect(outcome(geneve([{ cls: 0x0200, type: 0x01, data: new Uint8Array(4) }]))).toBe('gn0');
  });

  it('random bytes after the Ethernet header of a VXLAN or Geneve frame: never a throw, exactly one counted outcome (property)', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(120), fc.nat(255)), { minLength: 1, maxLength: 12 }),
        fc.option(fc.nat(140), { nil: undefined }),
        fc.boolean(),
        (gen, edits, cut, fix) => {
          let f = gen ? geneve([{ cls: 0xffff, type: 0x80, data: Uint8Array.of(1, 2, 3, 4) }]) : vxlan();
          for (const [at, b] of edits) if (14 + at < f.length) f[14 + at] = b;
          if (cut !== undefined && cut < f.length) f = f.slice(0, cut);
          if (fix && f.length >= 34) fixIp(f);
          outcome(f);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('a remote_ip nobody answers for', () => {
  type Ports = Record<string, { drops: Record<string, number> }>;
  const PING = '  - { at: 0s, ping: { from: vm1, to: vm2, count: 3, interval: 10ms } }';
  const dropped = (ports: Ports): Record<string, Record<string, number>> => Object.fromEntries(Object.entries(ports).filter(([, p]) => Object.keys(p.drops).length > 0).map(([k, p]) => [k, p.drops]));

  it('routed but absent: warned at validate; at run time each frame is dropped once (arp-failed at the last router) and answered host unreachable', () => {
    const text = vxlanPair({ vmMtu: 1450, extra: PING }).replace('remote_ip: 198.51.100.12', 'remote_ip: 198.51.100.99');
    expect(overlayWarnings(loadTopologyText(text, 't.yaml'))).toEqual([expect.stringMatching(/^t\.yaml:5:\d+: warning: hv1\.br0\.vx0: remote_ip 198\.51\.100\.99 is no host's underlay address/)]);
    const { summary } = runTopology({ text }, { untilNs: 5e9 });
    expect(summary.apps[0]).toMatchObject({ sent: 3, received: 0 });
    // the three encapsulated echo requests die at r1.b (its neighbour queue), the three ICMP 3/1
    // answers reach hv1's VTEP, which has no use for them
    expect(dropped(summary.ports as Ports)).toEqual({ 'r1.b': { 'arp-failed': 3 }, 'hv1.underlay': { 'not-udp': 3 } });
    expect((summary['routers'] as Record<string, { icmp_sent: Record<string, number> }>)['r1']!.icmp_sent).toEqual({ '3/1': 3 });
  });

  it('off-link with no gateway: warned at validate; dropped no-route at the tunnel port', () => {
    const text = vxlanPair({ vmMtu: 1450, extra: PING }).replace('remote_ip: 198.51.100.12', 'remote_ip: 203.0.113.5').replace('underlay: { ipv4: 192.0.2.11/24, gateway: 192.0.2.1,', 'underlay: { ipv4: 192.0.2.11/24,');
    expect(overlayWarnings(loadTopologyText(text, 't.yaml'))).toEqual([expect.stringMatching(/^t\.yaml:5:\d+: warning: hv1\.br0\.vx0: remote_ip 203\.0\.113\.5 is off hv1\.underlay's subnet 192\.0\.2\.11\/24 and the host has no underlay gateway; frames will be dropped \(no-route\)/)]);
    const { summary } = runTopology({ text }, { untilNs: 5e9 });
    expect(summary.apps[0]).toMatchObject({ sent: 3, received: 0 });
    expect(dropped(summary.ports as Ports)).toEqual({ 'hv1.br0.vx0': { 'no-route': 3 } });
  });
});
