/**
 * Oracle: the Linux VXLAN device, configured as OVS configures its tunnel ports (df set,
 * noudpcsum, ttl 64), in a network namespace. We capture what the kernel puts on the underlay for
 * one inner UDP frame and rebuild it with vfab's `encapVxlan` from the same inner frame: the bytes
 * must be equal once the two documented free fields (outer IP identification, UDP source port
 * hash) are taken from the kernel's frame: DF, TTL, TOS, the zero outer UDP checksum and, for inner
 * frames sent with every ECN codepoint and a DSCP, the outer ECN bits the kernel inherits. Then the
 * receive side: what the device delivers for every outer × inner ECN pair, against vfab's decapEcn.
 * Needs root (CI runs as root) and `ip` + python3.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { decapEcn, innerEcn } from '../../src/tunnel/tunnel-port.js';
import { VXLAN_OVERHEAD, encapVxlan, udpFlowSrcPort } from '../../src/wire/vxlan.js';
import { describeWithTools } from '../helpers/tools.js';
import { injectScript, innerEcnFrame } from './linux-inject.js';

const NS = 'overlayora';
const sh = (cmd: string): string => execFileSync('sh', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

const CAPTURE = `
import socket, sys
rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
rx.bind(('ovu1', 0))
rx.settimeout(2)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, int(sys.argv[1]) if len(sys.argv) > 1 else 0)
tx.sendto(bytes(range(32)), ('10.0.0.2', 9999))
while True:
    f = rx.recv(65535)
    if f[12:14] == b'\\x08\\x00' and f[23] == 17 and f[36:38] == (4789).to_bytes(2, 'big'):
        print(f.hex())
        break
`;

const INJECT = injectScript('ovu1', 'vx0', 50);

describeWithTools(['ip', 'python3'], 'VXLAN encapsulation against the Linux vxlan device', () => {
  afterAll(() => {
    try {
      sh(`ip netns del ${NS}`);
    } catch {
      // already gone
    }
  });

  it('matches the kernel outer Ethernet/IPv4/UDP/VXLAN headers byte for byte except IP id and source port, ECN inheritance included', () => {
    try {
      sh(`ip netns del ${NS} 2>/dev/null || true`);
    } catch {
      // nothing to clean
    }
    const ns = `ip -n ${NS}`;
    sh(
      [
        `ip netns add ${NS}`,
        `${ns} link add ovu0 type veth peer name ovu1`,
        `${ns} link set ovu0 address 02:00:00:00:00:01 up`,
        `${ns} link set ovu1 address 02:00:00:00:00:02 up`,
        `${ns} addr add 192.0.2.1/24 dev ovu0`,
        `${ns} neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev ovu0 nud permanent`,
        `${ns} link add vx0 type vxlan id 5001 remote 192.0.2.2 local 192.0.2.1 dstport 4789 df set noudpcsum ttl 64 dev ovu0`,
        `${ns} link set vx0 address 02:00:00:00:01:01 up`,
        `${ns} addr add 10.0.0.1/24 dev vx0`,
        `${ns} neigh add 10.0.0.2 lladdr 02:00:00:00:01:02 dev vx0 nud permanent`,
      ].join(' && '),
    );
    // The device's MTU is the underlay's minus the 50 bytes vfab's validate also subtracts.
    expect(sh(`${ns} link show vx0`)).toContain(`mtu ${1500 - VXLAN_OVERHEAD} `);
    const capture = (tos: number): string => execFileSync('ip', ['netns', 'exec', NS, 'python3', '-c', CAPTURE, String(tos)], { encoding: 'utf8' }).trim();
    /** vfab's encapsulation of the kernel frame's inner frame, the two free fields copied. */
    const ours = (kernel: Uint8Array): string => {
      const inner = kernel.subarray(VXLAN_OVERHEAD);
      const ident = (kernel[18]! << 8) | kernel[19]!;
      const sport = (kernel[34]! << 8) | kernel[35]!;
      // the tunnel port's outer TOS: DSCP 0 (options:tos unset), ECN from the inner header
      const o = { srcMac: 0x020000000001, dstMac: 0x020000000002, srcIp: 0xc0000201, dstIp: 0xc0000202, srcPort: sport, dstPort: 4789, tos: innerEcn(inner), ttl: 64, ident, dontFrag: true, csum: false };
      return Buffer.from(encapVxlan(o, 5001, inner)).toString('hex');
    };
    const hex = capture(0);
    const kernel = Uint8Array.from(Buffer.from(hex, 'hex'));
    expect(ours(kernel)).toBe(hex);
    // The fields OVS and Linux set by default, named (the byte comparison covers them too): DF set
    // with no fragment offset, TTL 64, TOS 0, outer UDP checksum zero over IPv4.
    expect([(kernel[20]! << 8) | kernel[21]!, kernel[22], kernel[15], (kernel[40]! << 8) | kernel[41]!]).toEqual([0x4000, 64, 0, 0]);
    // The source port is in udp_flow_src_port's range (the hash itself is Linux's skb hash).
    const sport = (kernel[34]! << 8) | kernel[35]!;
    expect(sport).toBeGreaterThanOrEqual(udpFlowSrcPort(0));
    expect(sport).toBeLessThan(60999);

    // ECN inheritance: the inner TOS is set with IP_TOS; the kernel copies the inner ECN bits into
    // the outer header (INET_ECN_encapsulate: CE becomes ECT(0)) and keeps the DSCP 0 it was
    // configured with; vfab's tunnel port does the same (innerEcn, as OVS's tnl_port_send).
    for (const [tos, outer] of [
      [0x01, 0x01],
      [0x02, 0x02],
      [0x03, 0x02],
      [0xb8, 0x00],
      [0xb8 | 0x03, 0x02],
      [0x20 | 0x01, 0x01],
    ] as const) {
      const h = capture(tos);
      const k = Uint8Array.from(Buffer.from(h, 'hex'));
      expect({ tos, inner: k[VXLAN_OVERHEAD + 15], outer: k[15] }).toEqual({ tos, inner: tos, outer });
      expect(ours(k)).toBe(h);
    }

    // Decapsulation: every outer × inner ECN codepoint sent to the device from 192.0.2.2. The
    // kernel's vxlan receive (vxlan_ecn_decapsulate → INET_ECN_decapsulate, RFC 6040) agrees with
    // vfab's decapEcn (OVS tnl_process_ecn) on outer CE (inner ECT → CE with the inner header
    // checksum updated, Not-ECT dropped) and outer Not-ECT/ECT(0) (inner unchanged); the one
    // documented difference: under an outer ECT(1) the kernel turns an inner ECT(0) into ECT(1)
    // (INET_ECN_set_ect1), OVS and vfab leave it ECT(0).
    const cases: [number, number][] = [];
    const frames: string[] = [];
    for (let outer = 0; outer < 4; outer++) {
      for (let inner = 0; inner < 4; inner++) {
        const f = innerEcnFrame(outer, inner);
        cases.push([outer, inner]);
        const o = { srcMac: 0x020000000002, dstMac: 0x020000000001, srcIp: 0xc0000202, dstIp: 0xc0000201, srcPort: 50000, dstPort: 4789, tos: outer, ttl: 64, ident: 1, dontFrag: true, csum: false };
        frames.push(Buffer.from(encapVxlan(o, 5001, f)).toString('hex'));
      }
    }
    const got = execFileSync('ip', ['netns', 'exec', NS, 'python3', '-c', INJECT, ...frames], { encoding: 'utf8' }).trim().split('\n');
    const vfab = frames.map((h) => {
      const b = Buffer.from(h, 'hex');
      return decapEcn(b.subarray(VXLAN_OVERHEAD), b[15]!, true);
    });
    const linuxOnly = cases.map(([o, i]) => (o === 1 && i === 2 ? 1 : undefined));
    const kernelSays = got.map((h) => (h === 'drop' ? 'drop' : Buffer.from(h, 'hex')[15]! & 3));
    expect(cases.map((c, j) => ({ c, k: kernelSays[j] }))).toEqual(cases.map((c, j) => ({ c, k: linuxOnly[j] ?? (vfab[j] === undefined ? 'drop' : vfab[j][15]! & 3) })));
    // the delivered frames are otherwise vfab's, inner IPv4 header checksum included
    for (const [j, h] of got.entries()) {
      if (h === 'drop' || linuxOnly[j] !== undefined) continue;
      expect(h.slice(0, vfab[j]!.length * 2)).toBe(Buffer.from(vfab[j]!).toString('hex'));
    }
  });
});
