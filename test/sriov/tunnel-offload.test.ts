/**
 * Tunnel encapsulation offload to a switchdev eswitch (issue 14 deliverable 6,
 * src/fabric/tc-offload.ts): a VF representor's flow that ends in a tunnel output is offloaded
 * and shown as a TC-flower `tunnel_key set` rule; the rule's tunnel key equals the outer headers
 * the tunnel port puts on the wire; what mlx5 refuses is refused with the reason.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadTopologyText } from '../../src/index.js';
import { Fabric } from '../../src/fabric/fabric.js';
import { tcOffloads } from '../../src/fabric/tc-offload.js';
import type { Frame } from '../../src/port/port.js';
import { formatIpv4 } from '../../src/wire/ip.js';

const BASE = readFileSync('topologies/overlay-offload.yaml', 'utf8');

function build(text: string): { fabric: Fabric; sent: Frame[] } {
  const fabric = new Fabric(loadTopologyText(text, 'o.yaml'));
  const sent: Frame[] = [];
  fabric.ctx.ports.get('hv1.underlay')!.onFrame((_p, dir, f) => {
    if (dir === 'tx' && f[12] === 0x08 && f[23] === 17) sent.push(f.slice());
  });
  fabric.run({ untilNs: 200_000_000 });
  return { fabric, sent };
}

function offloads(text: string) {
  const { fabric } = build(text);
  const r = tcOffloads(fabric.model, fabric.ctx.bridges.get('hv1.br0')!);
  fabric.close();
  return r;
}

describe('tunnel encapsulation offload (switchdev)', () => {
  it('offloads the representor flow that ends in vx0, and its tunnel_key equals the outer headers on the wire', () => {
    const { fabric, sent } = build(BASE);
    const r = tcOffloads(fabric.model, fabric.ctx.bridges.get('hv1.br0')!);
    fabric.close();
    expect(r.map((x) => x.offloaded)).toEqual([true, false, false]);
    expect(r[1]!.reasons).toEqual([]); // NORMAL: no tunnel output, not a candidate
    const tc = r[0]!.tc!;
    expect(tc).toMatch(/^filter protocol ip pref 20 flower chain 0 handle 0x1\n {2}dst_mac 02:00:00:00:00:02\n {2}eth_type ipv4\n {2}in_hw in_hw_count 1\n\taction order 1: tunnel_key {2}set\n/);
    expect(tc).toContain('action order 2: mirred (Egress Redirect to device vxlan_sys_4789) stolen');
    const key = (k: string): string => new RegExp(`\\t${k} (\\S+)`).exec(tc)![1]!;
    // the same wire result: the ICMP echoes vm1 sent left hv1.underlay with these outer headers
    const echo = sent.find((f) => f.length > 50 + 34 && f[50 + 23] === 1)!;
    expect(echo).toBeDefined();
    const u32 = (o: number): number => ((echo[o]! << 24) | (echo[o + 1]! << 16) | (echo[o + 2]! << 8) | echo[o + 3]!) >>> 0;
    expect(formatIpv4(u32(26))).toBe(key('src_ip'));
    expect(formatIpv4(u32(30))).toBe(key('dst_ip'));
    expect(String((echo[46]! << 16) | (echo[47]! << 8) | echo[48]!)).toBe(key('key_id'));
    expect(String((echo[36]! << 8) | echo[37]!)).toBe(key('dst_port'));
    expect(String(echo[22])).toBe(/\tttl (\d+) pipe/.exec(tc)![1]);
    expect(tc).toContain('\tnocsum\n');
    expect((echo[40]! << 8) | echo[41]!).toBe(0); // no UDP checksum, as nocsum says
  });

  it('refuses what the eswitch cannot do, with the driver rule', () => {
    // VXLAN on a UDP port the NIC has not registered (mlx5 registers 4789 only at probe).
    const port = offloads(BASE.replace('key: 5001 } }\n        flows', 'key: 5001, dst_port: 4790 } }\n        flows'));
    expect(port[0]!.offloaded).toBe(false);
    expect(port[0]!.reasons.join()).toMatch(/VXLAN UDP port 4790 is not registered.*tc_tun_vxlan\.c/);
    // A flow from a port that is not a VF representor.
    const notRep = offloads(BASE.replace('priority=10,in_port=vx0,actions=output:pf0vf0', 'priority=10,in_port=vx0,actions=output:pf0vf0\n          priority=5,in_port=LOCAL,actions=output:vx0'));
    expect(notRep[3]!.offloaded).toBe(false);
    expect(notRep[3]!.reasons.join()).toMatch(/not a VF representor/);
    // An action outside the TC-flower subset (controller) on the way to the tunnel.
    const ctl = offloads(BASE.replace('dl_dst=02:00:00:00:00:02,actions=output:vx0', 'dl_dst=02:00:00:00:00:02,actions=controller,output:vx0'));
    expect(ctl[0]!.offloaded).toBe(false);
    expect(ctl[0]!.reasons.join()).toMatch(/controller/);
    // remote_ip=flow with no tun_dst in the flow: nothing to encode.
    const flow = offloads(BASE.replace('remote_ip: 198.51.100.12, key: 5001 } }\n        flows', 'remote_ip: flow, key: 5001 } }\n        flows'));
    expect(flow[0]!.reasons.join()).toMatch(/sets no tun_dst/);
    // With set_field:…->tun_dst it is offloaded with that destination.
    const flowSet = offloads(BASE.replace('remote_ip: 198.51.100.12, key: 5001 } }\n        flows', 'remote_ip: flow, key: 5001 } }\n        flows').replace('actions=output:vx0', 'actions=set_field:198.51.100.12->tun_dst,output:vx0'));
    expect(flowSet[0]!.offloaded).toBe(true);
    expect(flowSet[0]!.tc).toContain('\tdst_ip 198.51.100.12\n');
  });

  it('Geneve with one tun_metadata option shows geneve_opts; two options are refused', () => {
    const map = '        tlv_map: "{class=0xffff,type=0x80,len=4}->tun_metadata0,{class=0x0102,type=0x01,len=8}->tun_metadata1"\n';
    const gen = BASE.replace(/vx0: \{ type: vxlan, remote_ip: 198\.51\.100\.12, key: 5001 \}/, 'vx0: { type: geneve, remote_ip: 198.51.100.12, key: 5001 }')
      .replace(/vx0: \{ type: vxlan, remote_ip: 192\.0\.2\.11, key: 5001 \}/, 'vx0: { type: geneve, remote_ip: 192.0.2.11, key: 5001 }')
      .replace('      br0:\n        ports: { vx0: { type: geneve, remote_ip: 198', `      br0:\n${map}        ports: { vx0: { type: geneve, remote_ip: 198`);
    const one = offloads(gen.replace('actions=output:vx0', 'actions=set_field:0x1234->tun_metadata0,output:vx0'));
    expect(one[0]!.offloaded).toBe(true);
    expect(one[0]!.tc).toContain('\tdst_port 6081\n\tgeneve_opts ffff:80:00001234\n');
    expect(one[0]!.tc).toContain('genev_sys_6081');
    const two = offloads(gen.replace('actions=output:vx0', 'actions=set_field:0x1234->tun_metadata0,set_field:0x5->tun_metadata1,output:vx0'));
    expect(two[0]!.offloaded).toBe(false);
    expect(two[0]!.reasons.join()).toMatch(/2 Geneve options/);
  });

  describe('over an IPv6 underlay', () => {
    // the same topology with IPv6-only VTEPs and a dual-stack router
    const V6 = BASE.replace('underlay: { ipv4: 192.0.2.11/24, gateway: 192.0.2.1 }', 'underlay: { ipv6: "2001:db8:1::11/64", gateway6: "2001:db8:1::1" }')
      .replace('underlay: { ipv4: 198.51.100.12/24, gateway: 198.51.100.1 }', 'underlay: { ipv6: "2001:db8:2::12/64", gateway6: "2001:db8:2::1" }')
      .replace('remote_ip: 198.51.100.12,', 'remote_ip: "2001:db8:2::12",')
      .replace('remote_ip: 192.0.2.11,', 'remote_ip: "2001:db8:1::11",')
      .replace('a: { ipv4: 192.0.2.1/24 }', 'a: { ipv6: "2001:db8:1::1/64" }')
      .replace('b: { ipv4: 198.51.100.1/24 }', 'b: { ipv6: "2001:db8:2::1/64" }')
      .replace(/mtu: 1450/g, 'mtu: 1430');

    function build6(text: string): { r: ReturnType<typeof tcOffloads>; sent: Frame[] } {
      const fabric = new Fabric(loadTopologyText(text, 'o.yaml'));
      const sent: Frame[] = [];
      fabric.ctx.ports.get('hv1.underlay')!.onFrame((_p, dir, f) => {
        if (dir === 'tx' && f[12] === 0x86 && f[13] === 0xdd && f[20] === 17) sent.push(f.slice());
      });
      fabric.run({ untilNs: 200_000_000 });
      const r = tcOffloads(fabric.model, fabric.ctx.bridges.get('hv1.br0')!);
      fabric.close();
      return { r, sent };
    }

    it('offloads with IPv6 tunnel_key addresses equal to the outer IPv6 header on the wire, csum on', () => {
      const { r, sent } = build6(V6);
      expect(r[0]!.offloaded).toBe(true);
      const tc = r[0]!.tc!;
      expect(tc).toContain('\tsrc_ip 2001:db8:1::11\n\tdst_ip 2001:db8:2::12\n\tkey_id 5001\n\tdst_port 4789\n\tcsum\n\tttl 64 pipe\n');
      const echo = sent.find((f) => f.length > 70 + 34 && f[70 + 23] === 1)!;
      expect(echo).toBeDefined();
      const a6 = (o: number): string => Buffer.from(echo.subarray(o, o + 16)).toString('hex');
      expect(a6(22)).toBe('20010db8000100000000000000000011');
      expect(a6(38)).toBe('20010db8000200000000000000000012');
      expect(echo[21]).toBe(64); // hop limit = the rule's ttl
      expect(((echo[15]! & 0x0f) << 16) | (echo[16]! << 8) | echo[17]!).toBe(0); // flow label 0, as mlx5's ip6_flow_hdr(…, 0)
      expect((echo[60]! << 8) | echo[61]!).not.toBe(0); // the UDP checksum is computed, as csum says
    });

    it('remote_ip=flow takes tun_ipv6_dst; without a destination, or from a foreign local_ip, it is refused', () => {
      const flow = V6.replace('remote_ip: "2001:db8:2::12", key: 5001 } }\n        flows', 'remote_ip: flow, key: 5001 } }\n        flows');
      const set = build6(flow.replace('actions=output:vx0', 'actions=set_field:2001:db8:2::12->tun_ipv6_dst,output:vx0')).r;
      expect(set[0]!.offloaded).toBe(true);
      expect(set[0]!.tc).toContain('\tsrc_ip 2001:db8:1::11\n\tdst_ip 2001:db8:2::12\n');
      const none = build6(flow).r;
      expect(none[0]!.offloaded).toBe(false);
      expect(none[0]!.reasons.join()).toMatch(/sets no tun_dst/);
      const foreign = build6(V6.replace('remote_ip: "2001:db8:2::12", key: 5001 } }\n        flows', 'remote_ip: "2001:db8:2::12", local_ip: "2001:db8:1::99", key: 5001 } }\n        flows')).r;
      expect(foreign[0]!.offloaded).toBe(false);
      expect(foreign[0]!.reasons.join()).toMatch(/local_ip 2001:db8:1::99 is not the underlay's address: no route from it \(mlx5 en\/tc_tun\.c/);
    });
  });
});
