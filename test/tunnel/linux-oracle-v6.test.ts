/**
 * Oracle: the Linux VXLAN device over an IPv6 underlay (`ip link add vx6 type vxlan id 5001 local
 * 2001:db8::1 remote 2001:db8::2 dstport 4789 ttl 64`, the kernel's defaults otherwise: udpcsum,
 * noudp6zerocsumtx, flowlabel 0) in a network namespace. We capture what the kernel puts on the
 * underlay for one inner UDP frame and rebuild it with vfab's `encapVxlan6` from the same inner
 * frame: equal byte for byte once the UDP source port (the kernel's skb hash) is taken from the
 * kernel's frame and the inner UDP checksum, offloaded by the sending socket, is completed as the
 * NIC would complete it; the outer UDP checksum (computed, never zero over IPv6) must match. tshark decodes VXLAN over IPv6
 * on its default port down to the inner UDP, checksums good. Needs root (CI runs as root).
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
import { describeWithTools } from '../helpers/tools.js';

const NS = 'overlay-mtu-v6';
const sh = (cmd: string): string => execFileSync('sh', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const SRC = parseIpv6('2001:db8::1');
const DST = parseIpv6('2001:db8::2');

const CAPTURE = `
import socket
rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
rx.bind(('overlay-mtu1', 0))
rx.settimeout(2)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.sendto(bytes(range(32)), ('10.0.0.2', 9999))
while True:
    f = rx.recv(65535)
    if f[12:14] == b'\\x86\\xdd' and f[20] == 17 and f[56:58] == (4789).to_bytes(2, 'big'):
        print(f.hex())
        break
`;

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
  });
});

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
