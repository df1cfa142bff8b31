/**
 * ECN across tunnel ports, both underlay families: the outer IPv4 TOS / IPv6 traffic class inherits
 * the inner ECN bits (OVS ofproto/tunnel.c tnl_port_send, Linux INET_ECN_encapsulate: CE → ECT(0),
 * DSCP 0, flow label 0), and decapsulation applies OVS's tnl_process_ecn (outer CE marks an
 * ECN-capable inner packet CE and drops a Not-ECT one). "Not tunneling to our own address"
 * (ofproto-dpif-xlate.c compose_output_action__) for both families. The kernel's side of the same
 * rules is checked in linux-oracle.test.ts / linux-oracle-v6.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Fabric } from '../../src/fabric/fabric.js';
import { loadTopologyText, runTopology } from '../../src/index.js';
import { decapEcn, innerEcn } from '../../src/tunnel/tunnel-port.js';
import { buildUdp } from '../../src/wire/build.js';
import { ipv4HeaderSumOk } from '../../src/wire/checksum.js';
import { tunnelPair, type UnderlayFamily } from './helpers.js';

type Ports = Record<string, { drops: Record<string, number> }>;

const V6_1 = '2001:db8:1::11';
const V6_2 = '2001:db8:2::11';

function flows(fam: UnderlayFamily, ecn: number): { flows1: string; flows2: string } {
  const v6 = fam !== 'ipv4';
  const to2 = v6 ? `set_field:${V6_2}->tun_ipv6_dst` : 'set_field:198.51.100.12->tun_dst';
  const to1 = v6 ? `set_field:${V6_1}->tun_ipv6_dst` : 'set_field:192.0.2.11->tun_dst';
  return {
    flows1: [`priority=20,ip,in_port=vm1-eth0,actions=mod_nw_ecn:${ecn},${to2},set_tunnel:5001,output:tun0`, `priority=10,in_port=vm1-eth0,actions=${to2},set_tunnel:5001,output:tun0`, 'priority=10,in_port=tun0,actions=output:vm1-eth0'].join('\n'),
    flows2: [`priority=10,in_port=vm2-eth0,actions=${to1},set_tunnel:5001,output:tun0`, 'priority=10,in_port=tun0,actions=output:vm2-eth0'].join('\n'),
  };
}

function topo(fam: UnderlayFamily, f: { flows1: string; flows2: string }): string {
  const port = '{ type: vxlan, remote_ip: flow, key: flow }';
  return tunnelPair({ port1: port, port2: port, ...f, underlay: fam, vmMtu: 1400, seed: 3, extra: '  - { at: 0s, ping: { from: vm1, to: vm2, count: 3, interval: 10ms } }' });
}

/** hv1's encapsulated IP frames: [outer ECN/DSCP byte, IPv6 flow label or -1, inner ECN]. */
function outerTos(text: string): { tos: number; label: number; inner: number }[] {
  const fabric = new Fabric(loadTopologyText(text, 'f.yaml'));
  const out: { tos: number; label: number; inner: number }[] = [];
  fabric.ctx.ports.get('hv1.underlay')!.onFrame((_p, dir, f) => {
    if (dir !== 'tx') return;
    if (f[12] === 0x86 && f[13] === 0xdd && f[20] === 17 && f.length > 70 + 15) {
      out.push({ tos: ((f[14]! & 0x0f) << 4) | (f[15]! >> 4), label: ((f[15]! & 0x0f) << 16) | (f[16]! << 8) | f[17]!, inner: f[70 + 12] === 0x08 && f[70 + 13] === 0 ? f[70 + 15]! & 3 : -1 });
    }
    if (f[12] === 0x08 && f[13] === 0x00 && f[23] === 17 && f.length > 50 + 15) out.push({ tos: f[15]!, label: -1, inner: f[50 + 12] === 0x08 && f[50 + 13] === 0 ? f[50 + 15]! & 3 : -1 });
  });
  fabric.run({ untilNs: 100_000_000 });
  fabric.close();
  return out.filter((x) => x.inner >= 0);
}

describe('outer ECN on encapsulation', () => {
  for (const fam of ['ipv4', 'ipv6'] as const) {
    it(`${fam} underlay: the outer header carries the inner ECN, CE sent as ECT(0), DSCP and flow label 0`, () => {
      for (const [ecn, outer] of [
        [0, 0],
        [1, 1],
        [2, 2],
        [3, 2],
      ] as const) {
        const s = outerTos(topo(fam, flows(fam, ecn)));
        expect(s.length).toBeGreaterThanOrEqual(3);
        for (const x of s) expect(x).toEqual({ tos: outer, label: fam === 'ipv6' ? 0 : -1, inner: ecn });
        // the receiver passes ECN-marked packets on (outer CE never arrives: CE goes out as ECT(0))
        const { summary } = runTopology({ text: topo(fam, flows(fam, ecn)) }, { untilNs: 1e9 });
        expect(summary.apps[0]).toMatchObject({ sent: 3, received: 3 });
      }
    });
  }
});

/**
 * Every tunnel frame hv2's underlay receives is also received a second time with the outer ECN set
 * to CE (IPv4 header checksum updated; the IPv6 UDP checksum does not cover the traffic class). What
 * the tunnel port hands the bridge: inner ECN of each frame; and the underlay's drops.
 */
function receiveWithOuterCe(text: string): { inner: number[]; drops: Record<string, number> } {
  const fabric = new Fabric(loadTopologyText(text, 'f.yaml'));
  const marked = new WeakSet<Uint8Array>();
  const inner: number[] = [];
  const u = fabric.ctx.ports.get('hv2.underlay')!;
  u.onFrame((_p, dir, f) => {
    if (dir !== 'rx' || marked.has(f)) return;
    const v6 = f[12] === 0x86 && f[13] === 0xdd && f[20] === 17;
    const v4 = f[12] === 0x08 && f[13] === 0x00 && f[23] === 17;
    if (!v6 && !v4) return;
    const g = f.slice();
    if (v6) g[15] = g[15]! | 0x30;
    else {
      g[15] = g[15]! | 3;
      g[24] = 0;
      g[25] = 0;
      let s = 0;
      for (let i = 14; i < 34; i += 2) s += (g[i]! << 8) | g[i + 1]!;
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      g[24] = (~s >>> 8) & 0xff;
      g[25] = ~s & 0xff;
    }
    marked.add(g);
    u.receive(g, { hops: 0 });
  });
  fabric.ctx.ports.get('hv2.br0.tun0')!.onFrame((_p, dir, f) => {
    if (dir === 'rx' && f[12] === 0x08 && f[13] === 0) inner.push(f[15]! & 3);
  });
  fabric.run({ untilNs: 100_000_000 });
  const drops = { ...u.counters.drops };
  fabric.close();
  return { inner, drops };
}

describe('ECN on decapsulation (tnl_process_ecn)', () => {
  for (const fam of ['ipv4', 'ipv6'] as const) {
    it(`${fam} underlay: an outer CE marks an ECT inner packet CE and drops a Not-ECT one (ecn-ce-not-ect)`, () => {
      for (const ecn of [0, 1, 2, 3]) {
        const r = receiveWithOuterCe(topo(fam, flows(fam, ecn)));
        // each IP frame arrives twice: as sent (outer ECN from the inner) and with outer CE
        if (ecn === 0) {
          expect(r.drops['ecn-ce-not-ect']).toBeGreaterThanOrEqual(3);
          expect(r.inner.length).toBeGreaterThanOrEqual(3);
          expect(r.inner.every((e) => e === 0)).toBe(true);
        } else {
          expect(r.drops['ecn-ce-not-ect'] ?? 0).toBe(0);
          expect(r.inner.filter((e) => e === 3).length).toBeGreaterThanOrEqual(ecn === 3 ? 6 : 3);
          expect(r.inner.filter((e) => e === ecn).length).toBeGreaterThanOrEqual(3);
        }
      }
    });
  }

  const v4 = (ecn: number): Uint8Array => {
    const f = buildUdp({ srcMac: 0x020000000101, dstMac: 0x020000000102, srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 40000, dstPort: 9999, payloadLen: 20 });
    f[15] = 0xb8 | ecn;
    f[24] = 0;
    f[25] = 0;
    let s = 0;
    for (let i = 14; i < 34; i += 2) s += (f[i]! << 8) | f[i + 1]!;
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    f[24] = (~s >>> 8) & 0xff;
    f[25] = ~s & 0xff;
    return f;
  };
  const v6 = (ecn: number): Uint8Array => {
    const f = new Uint8Array(14 + 40 + 8);
    f[12] = 0x86;
    f[13] = 0xdd;
    f[14] = 0x6b; // traffic class 0xb8 | ecn: DSCP 46
    f[15] = 0x80 | (ecn << 4) | 0x5;
    f[20] = 17;
    return f;
  };
  const vlan = (f: Uint8Array): Uint8Array => {
    const g = new Uint8Array(f.length + 4);
    g.set(f.subarray(0, 12));
    g[12] = 0x81;
    g[16] = f[12]!;
    g[17] = f[13]!;
    g.set(f.subarray(14), 18);
    return g;
  };
  const ecnOf = (f: Uint8Array): number => {
    const t = f[12] === 0x81 ? 16 : 12;
    return f[t] === 0x08 ? f[t + 3]! & 3 : (f[t + 3]! >> 4) & 3;
  };

  for (const [name, make] of [
    ['IPv4', v4],
    ['IPv6', v6],
    ['IPv4 in 802.1Q', (e: number) => vlan(v4(e))],
    ['IPv6 in 802.1Q', (e: number) => vlan(v6(e))],
  ] as const) {
    it(`${name}: outer CE marks ECT inner packets CE and drops Not-ECT ones; other outer codepoints leave the inner alone`, () => {
      for (let outer = 0; outer < 4; outer++) {
        for (let inner = 0; inner < 4; inner++) {
          const f = make(inner);
          const before = f.slice();
          const got = decapEcn(f, 0xb8 | outer, false);
          expect(f).toEqual(before); // never edited in place
          if (outer === 3 && inner === 0) {
            expect(got).toBeUndefined();
            continue;
          }
          expect(got).toBeDefined();
          const want = outer === 3 ? 3 : inner;
          expect({ outer, inner, ecn: ecnOf(got!) }).toEqual({ outer, inner, ecn: want });
          // only the ECN bits change (and the IPv4 header checksum with them, still valid)
          const t = f[12] === 0x81 ? 18 : 14;
          if (f[t - 2] === 0x08) expect(ipv4HeaderSumOk(got!, t, 20)).toBe(true);
          const a = Array.from(got!);
          const b = Array.from(before);
          const changed = a.map((x, i) => (x !== b[i] ? i : -1)).filter((i) => i >= 0);
          for (const i of changed) expect([t, t + 1, t + 10, t + 11]).toContain(i);
          expect(decapEcn(f, outer, true)).not.toBe(f);
        }
      }
    });
  }

  it('a non-IP inner frame (ARP) passes whatever the outer ECN', () => {
    const arp = new Uint8Array(42);
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(decapEcn(arp, 3, false)).toBe(arp);
    expect(innerEcn(arp)).toBe(0);
  });
});

describe('not tunneling to our own address (compose_output_action__)', () => {
  for (const fam of ['ipv4', 'ipv6'] as const) {
    it(`${fam}: a decapsulated packet sent back out of a remote_ip=flow port keeps tun_dst = ourselves and is dropped tunnel-to-self`, () => {
      const f = flows(fam, 0);
      // hv2 returns what it decapsulates out of the port it came in on (its tun dst is hv2 itself)
      const flows2 = f.flows2.replace('priority=10,in_port=tun0,actions=output:vm2-eth0', 'priority=10,in_port=tun0,actions=in_port');
      const { summary } = runTopology({ text: topo(fam, { flows1: f.flows1, flows2 }) }, { untilNs: 1e9 });
      expect(summary.apps[0]).toMatchObject({ received: 0 });
      expect((summary.ports as Ports)['hv2.br0.tun0']!.drops['tunnel-to-self']).toBeGreaterThan(0);
      // with the destination rewritten to the sender, the same packet goes back (the check is about the destination only)
      const back = fam === 'ipv6' ? `set_field:${V6_1}->tun_ipv6_dst` : 'set_field:192.0.2.11->tun_dst';
      const flows2b = f.flows2.replace('priority=10,in_port=tun0,actions=output:vm2-eth0', `priority=10,in_port=tun0,actions=${back},in_port`);
      const r = runTopology({ text: topo(fam, { flows1: f.flows1, flows2: flows2b }) }, { untilNs: 1e9 });
      expect((r.summary.ports as Ports)['hv2.br0.tun0']!.drops['tunnel-to-self'] ?? 0).toBe(0);
    });
  }
});
