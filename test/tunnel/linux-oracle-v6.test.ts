/**
 * Oracle: the Linux VXLAN device over an IPv6 underlay (`ip link add vx6 type vxlan id 5001 local
 * 2001:db8::1 remote 2001:db8::2 dstport 4789 ttl 64`, the kernel's defaults otherwise: udpcsum,
 * noudp6zerocsumtx, flowlabel 0) in a network namespace. We capture what the kernel puts on the
 * underlay for one inner UDP frame and rebuild it with vfab's `encapVxlan6` from the same inner
 * frame: equal byte for byte once the UDP source port (the kernel's skb hash) is taken from the
 * kernel's frame and the inner UDP checksum, offloaded by the sending socket, is completed as the
 * NIC would complete it; the outer UDP checksum (computed, never zero over IPv6) must match. tshark decodes VXLAN over IPv6
 * on its default port down to the inner UDP, checksums good. Also: the outer traffic class and flow
 * label for every inner ECN codepoint, and what the device delivers for every outer × inner ECN pair
 * (against vfab's decapEcn). Needs root (CI runs as root).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { MemorySink, PcapWriter } from '../../src/pcap/index.js';
import { buildUdp } from '../../src/wire/build.js';
import { finish, sumBytes } from '../../src/wire/checksum.js';
import { parseIpv6 } from '../../src/wire/ip.js';
import { VXLAN6_OVERHEAD, encapVxlan6 } from '../../src/wire/vxlan6.js';
import { decapEcn, innerEcn } from '../../src/tunnel/tunnel-port.js';
import { describeWithTools } from '../helpers/tools.js';
import { injectScript, innerEcnFrame } from './linux-inject.js';

const NS = 'overlay-mtu-v6';
const sh = (cmd: string): string => execFileSync('sh', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const SRC = parseIpv6('2001:db8::1');
const DST = parseIpv6('2001:db8::2');

const CAPTURE = `
import socket, sys
rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
rx.bind(('overlay-mtu1', 0))
rx.settimeout(2)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, int(sys.argv[1]) if len(sys.argv) > 1 else 0)
tx.sendto(bytes(range(32)), ('10.0.0.2', 9999))
while True:
    f = rx.recv(65535)
    if f[12:14] == b'\\x86\\xdd' and f[20] == 17 and f[56:58] == (4789).to_bytes(2, 'big'):
        print(f.hex())
        break
`;

const INJECT = injectScript('overlay-mtu1', 'vx6', 70);

describeWithTools(['ip', 'python3'], 'VXLAN over IPv6 against the Linux vxlan device', () => {
  afterAll(() => {
    try {
      sh(`ip netns del ${NS}`);
    } catch {
      // already gone
    }
  });

  it('matches the kernel outer Ethernet/IPv6/UDP/VXLAN headers byte for byte except the source port', () => {
    sh(`ip netns del ${NS} 2>/dev/null || true`);
    const ns = `ip -n ${NS}`;
    sh(
      [
        `ip netns add ${NS}`,
        `${ns} link add overlay-mtu0 type veth peer name overlay-mtu1`,
        `${ns} link set overlay-mtu0 address 02:00:00:00:00:01 up`,
        `${ns} link set overlay-mtu1 address 02:00:00:00:00:02 up`,
        // nodad: the address is usable at once (no 1 s of duplicate address detection)
        `${ns} addr add 2001:db8::1/64 dev overlay-mtu0 nodad`,
        `${ns} neigh add 2001:db8::2 lladdr 02:00:00:00:00:02 dev overlay-mtu0 nud permanent`,
        `${ns} link add vx6 type vxlan id 5001 remote 2001:db8::2 local 2001:db8::1 dstport 4789 ttl 64 dev overlay-mtu0`,
        `${ns} link set vx6 address 02:00:00:00:01:01 up`,
        `${ns} addr add 10.0.0.1/24 dev vx6`,
        `${ns} neigh add 10.0.0.2 lladdr 02:00:00:00:01:02 dev vx6 nud permanent`,
      ].join(' && '),
    );
    const show = sh(`${ns} -d link show vx6`);
    // the device MTU is the underlay's minus 70 (VXLAN6_HEADROOM); a zero UDP checksum is off by default
    expect(show).toContain(`mtu ${1500 - VXLAN6_OVERHEAD} `);
    expect(show).toContain('noudp6zerocsumtx');
    const hex = execFileSync('ip', ['netns', 'exec', NS, 'python3', '-c', CAPTURE], { encoding: 'utf8' }).trim();
    const kernel = Uint8Array.from(Buffer.from(hex, 'hex'));
    // The socket's UDP checksum is offloaded (CHECKSUM_PARTIAL on vx6): the inner checksum field
    // holds only the pseudo-header seed, and the kernel computed the outer checksum for the inner
    // datagram as the NIC will complete it (udp6_set_csum with lco_csum, local checksum offload).
    // Complete the inner checksum as the NIC would, then the frames must be equal.
    const wire = kernel.slice();
    const iu = VXLAN6_OVERHEAD + 14 + 20;
    const ulen = (wire[iu + 4]! << 8) | wire[iu + 5]!;
    wire[iu + 6] = 0;
    wire[iu + 7] = 0;
    const ic = finish(sumBytes(wire, iu, iu + ulen, sumBytes(wire, VXLAN6_OVERHEAD + 14 + 12, VXLAN6_OVERHEAD + 14 + 20) + 17 + ulen));
    wire[iu + 6] = ic >>> 8;
    wire[iu + 7] = ic & 0xff;
    const inner = wire.subarray(VXLAN6_OVERHEAD);
    const sport = (kernel[54]! << 8) | kernel[55]!;
    const ours = encapVxlan6({ srcMac: 0x020000000001, dstMac: 0x020000000002, srcIp: SRC, dstIp: DST, srcPort: sport, dstPort: 4789, tos: 0, ttl: 64, flowLabel: 0 }, 5001, inner);
    expect((kernel[60]! << 8) | kernel[61]!).not.toBe(0); // computed, never zero over IPv6
    expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(wire).toString('hex'));

    // Traffic class and flow label for every inner ECN codepoint (and a DSCP): the kernel copies the
    // inner ECN bits into the outer traffic class (ip_tunnel_ecn_encap → INET_ECN_encapsulate: CE
    // becomes ECT(0)), keeps DSCP 0 (`tos` unset) and flow label 0; vfab's IPv6 tunnel port sends
    // the same (TunnelPort6: innerEcn, as the IPv4 port).
    for (const [tos, outer] of [
      [0x00, 0x00],
      [0x01, 0x01],
      [0x02, 0x02],
      [0x03, 0x02],
      [0xb8, 0x00],
      [0xb8 | 0x03, 0x02],
      [0x20 | 0x01, 0x01],
    ] as const) {
      const k = Uint8Array.from(Buffer.from(execFileSync('ip', ['netns', 'exec', NS, 'python3', '-c', CAPTURE, String(tos)], { encoding: 'utf8' }).trim(), 'hex'));
      const tclass = ((k[14]! & 0x0f) << 4) | (k[15]! >> 4);
      const label = ((k[15]! & 0x0f) << 16) | (k[16]! << 8) | k[17]!;
      expect({ tos, inner: k[VXLAN6_OVERHEAD + 15], tclass, label }).toEqual({ tos, inner: tos, tclass: outer, label: 0 });
      const w = k.slice();
      w.set(complete(k), VXLAN6_OVERHEAD);
      const mine = encapVxlan6({ srcMac: 0x020000000001, dstMac: 0x020000000002, srcIp: SRC, dstIp: DST, srcPort: (k[54]! << 8) | k[55]!, dstPort: 4789, tos: innerEcn(w.subarray(VXLAN6_OVERHEAD)), ttl: 64, flowLabel: 0 }, 5001, w.subarray(VXLAN6_OVERHEAD));
      expect(Buffer.from(mine).toString('hex')).toBe(Buffer.from(w).toString('hex'));
    }

    // Decapsulation: every outer × inner ECN codepoint sent to the device (outer from 2001:db8::2,
    // as vfab's encapVxlan6 builds it). The kernel's vxlan receive (vxlan_ecn_decapsulate →
    // INET_ECN_decapsulate, RFC 6040) agrees with vfab's decapEcn (OVS tnl_process_ecn) on outer CE
    // (inner ECT → CE, Not-ECT dropped) and outer Not-ECT/ECT(0) (inner unchanged); the one
    // documented difference: under an outer ECT(1) the kernel turns an inner ECT(0) into ECT(1)
    // (INET_ECN_set_ect1), OVS and vfab leave it ECT(0).
    const cases: [number, number][] = [];
    const frames: string[] = [];
    for (let outer = 0; outer < 4; outer++) {
      for (let inner = 0; inner < 4; inner++) {
        const f = innerEcnFrame(outer, inner);
        cases.push([outer, inner]);
        frames.push(Buffer.from(encapVxlan6({ srcMac: 0x020000000002, dstMac: 0x020000000001, srcIp: DST, dstIp: SRC, srcPort: 50000, dstPort: 4789, tos: outer, ttl: 64, flowLabel: 0 }, 5001, f)).toString('hex'));
      }
    }
    const got = execFileSync('ip', ['netns', 'exec', NS, 'python3', '-c', INJECT, ...frames], { encoding: 'utf8' }).trim().split('\n');
    const kernelSays = got.map((h) => (h === 'drop' ? 'drop' : Buffer.from(h, 'hex')[15]! & 3));
    const vfabSays = frames.map((h) => {
      const d = decapEcn(Buffer.from(h, 'hex').subarray(VXLAN6_OVERHEAD), Buffer.from(h, 'hex')[15]! >> 4, true);
      return d === undefined ? 'drop' : d[15]! & 3;
    });
    const linuxOnly = cases.map(([o, i]) => (o === 1 && i === 2 ? 1 : undefined));
    expect(cases.map((c, j) => ({ c, k: kernelSays[j] }))).toEqual(cases.map((c, j) => ({ c, k: linuxOnly[j] ?? vfabSays[j] })));
    // the delivered frames are otherwise vfab's: inner IPv4 header checksum updated as the kernel does
    for (const [j, h] of got.entries()) {
      if (h === 'drop' || linuxOnly[j] !== undefined) continue;
      const d = decapEcn(Buffer.from(frames[j]!, 'hex').subarray(VXLAN6_OVERHEAD), Buffer.from(frames[j]!, 'hex')[15]! >> 4, true)!;
      expect(Buffer.from(h, 'hex').subarray(0, d.length).toString('hex')).toBe(Buffer.from(d).toString('hex'));
    }
  });
});

/** The inner frame of kernel capture `k` with its offloaded inner UDP checksum completed. */
function complete(k: Uint8Array): Uint8Array {
  const wire = k.slice(VXLAN6_OVERHEAD);
  const iu = 14 + 20;
  const ulen = (wire[iu + 4]! << 8) | wire[iu + 5]!;
  wire[iu + 6] = 0;
  wire[iu + 7] = 0;
  const ic = finish(sumBytes(wire, iu, iu + ulen, sumBytes(wire, 14 + 12, 14 + 20) + 17 + ulen));
  wire[iu + 6] = ic >>> 8;
  wire[iu + 7] = ic & 0xff;
  return wire;
}

describeWithTools(['tshark'], 'VXLAN over IPv6 seen by tshark', () => {
  it('decodes on UDP 4789 with no Decode As, down to the inner UDP, with a good outer checksum', () => {
    const sink = new MemorySink();
    const w = new PcapWriter(sink);
    for (const [i, len] of [1, 100, 1000, 1401].entries()) {
      const inner = buildUdp({ srcMac: 0x020000000101, dstMac: 0x020000000102, srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 40000 + i, dstPort: 9999, payloadLen: len });
      w.writePacket(i * 1000, encapVxlan6({ srcMac: 1, dstMac: 2, srcIp: SRC, dstIp: DST, srcPort: 50000 + i, dstPort: 4789, tos: 0, ttl: 64, flowLabel: 0 }, 5001 + i, inner));
    }
    w.close();
    const file = join(mkdtempSync(join(tmpdir(), 'overlay-mtu-vx6-')), 'v6.pcap');
    writeFileSync(file, sink.bytes());
    const t = (...a: string[]): string => execFileSync('tshark', ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-r', file, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(t('-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
    const rows = t('-Y', 'ipv6 && vxlan', '-T', 'fields', '-E', 'separator=|', '-e', 'vxlan.vni', '-e', 'udp.checksum.status', '-e', 'ip.dst', '-e', 'udp.dstport').trim().split('\n');
    expect(rows).toEqual(['5001|1,1|10.0.0.2|4789,9999', '5002|1,1|10.0.0.2|4789,9999', '5003|1,1|10.0.0.2|4789,9999', '5004|1,1|10.0.0.2|4789,9999']);
  });
});
