/**
 * Oracle: the Linux VXLAN device, configured as OVS configures its tunnel ports (df set,
 * noudpcsum, ttl 64), in a network namespace. We capture what the kernel puts on the underlay for
 * one inner UDP frame and rebuild it with vfab's `encapVxlan` from the same inner frame: the bytes
 * must be equal once the two documented free fields (outer IP identification, UDP source port
 * hash) are taken from the kernel's frame. Needs root (CI runs as root) and `ip` + python3.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { VXLAN_OVERHEAD, encapVxlan, udpFlowSrcPort } from '../../src/wire/vxlan.js';
import { describeWithTools } from '../helpers/tools.js';

const NS = 'overlayora';
const sh = (cmd: string): string => execFileSync('sh', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

const CAPTURE = `
import socket, sys
rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
rx.bind(('ovu1', 0))
rx.settimeout(2)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.sendto(bytes(range(32)), ('10.0.0.2', 9999))
while True:
    f = rx.recv(65535)
    if f[12:14] == b'\\x08\\x00' and f[23] == 17 and f[36:38] == (4789).to_bytes(2, 'big'):
        print(f.hex())
        break
`;

describeWithTools(['ip', 'python3'], 'VXLAN encapsulation against the Linux vxlan device', () => {
  afterAll(() => {
    try {
      sh(`ip netns del ${NS}`);
    } catch {
      // already gone
    }
  });

  it('matches the kernel outer Ethernet/IPv4/UDP/VXLAN headers byte for byte except IP id and source port', () => {
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
    const hex = execFileSync('ip', ['netns', 'exec', NS, 'python3', '-c', CAPTURE], { encoding: 'utf8' }).trim();
    const kernel = Uint8Array.from(Buffer.from(hex, 'hex'));
    const inner = kernel.subarray(VXLAN_OVERHEAD);
    const ident = (kernel[18]! << 8) | kernel[19]!;
    const sport = (kernel[34]! << 8) | kernel[35]!;
    const ours = encapVxlan(
      { srcMac: 0x020000000001, dstMac: 0x020000000002, srcIp: 0xc0000201, dstIp: 0xc0000202, srcPort: sport, dstPort: 4789, tos: 0, ttl: 64, ident, dontFrag: true, csum: false },
      5001,
      inner,
    );
    expect(Buffer.from(ours).toString('hex')).toBe(hex);
    // The source port is in udp_flow_src_port's range (the hash itself is Linux's skb hash).
    expect(sport).toBeGreaterThanOrEqual(udpFlowSrcPort(0));
    expect(sport).toBeLessThan(60999);
  });
});
