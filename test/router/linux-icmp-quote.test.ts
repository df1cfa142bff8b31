/**
 * Oracle: the ICMP errors a Linux router sends, against vfab's `buildIcmpErrorMessage`. Two network
 * namespaces (a sender and a forwarding router with a second, empty link) joined by a veth pair; the sender sends a
 * 1,000-byte UDP datagram with TTL 1 (time exceeded from the router) and one to a port nobody
 * listens on at the router (port unreachable). The ICMP message the kernel returns (header and
 * quote) must equal vfab's for the same offending datagram byte for byte: type, code, checksum and
 * a quote of as much of the datagram as fits 576 bytes of error (icmp_send: 576 - 20 - 8 = 548
 * bytes), which is more than RFC 792's header + 64 bits and what RFC 1812 §4.3.2.3 allows. Needs
 * root (CI runs as root), `ip` and python3.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { buildIcmpErrorMessage } from '../../src/wire/icmp-error.js';
import { describeWithTools } from '../helpers/tools.js';

const S = 'icmpqs';
const R = 'icmpqr';
const sh = (cmd: string): string => execFileSync('sh', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Sends one UDP datagram (TTL argv[1], destination argv[2]) and prints the offending datagram
 *  as sent and the ICMP error received, in hex. */
const PROBE = `
import socket, sys
ttl, dst = int(sys.argv[1]), sys.argv[2]
cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
cap.bind(('qs0', 0))
cap.settimeout(3)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
tx.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = IP_PMTUDISC_DONT
tx.sendto(bytes((i * 7) & 255 for i in range(1000)), (dst, 33434))
sent = None
while True:
    f = cap.recv(65535)
    if f[12:14] != b'\\x08\\x00':
        continue
    if f[23] == 17 and sent is None:
        sent = f[14:]
    elif f[23] == 1 and f[34] in (3, 11):
        ihl = (f[14] & 15) * 4
        total = (f[16] << 8) | f[17]
        print(sent.hex())
        print(f[14 + ihl:14 + total].hex())
        break
`;

describeWithTools(['ip', 'python3'], 'ICMP errors against a Linux router', () => {
  afterAll(() => {
    for (const ns of [S, R]) {
      try {
        sh(`ip netns del ${ns}`);
      } catch {
        // already gone
      }
    }
  });

  it('time exceeded and port unreachable: type, code, checksum and the 548-byte quote equal the kernel’s', () => {
    sh(`ip netns del ${S} 2>/dev/null; ip netns del ${R} 2>/dev/null; true`);
    sh(
      [
        `ip netns add ${S}`,
        `ip netns add ${R}`,
        `ip -n ${S} link add qs0 type veth peer name qr0 netns ${R}`,
        `ip -n ${S} addr add 10.71.0.2/24 dev qs0`,
        `ip -n ${S} link set qs0 up`,
        `ip -n ${S} route add default via 10.71.0.1`,
        `ip -n ${R} addr add 10.71.0.1/24 dev qr0`,
        `ip -n ${R} link set qr0 up`,
        `ip -n ${R} link add qd0 type veth peer name qd1`,
        `ip -n ${R} link set qd1 up`,
        `ip -n ${R} addr add 10.72.0.1/24 dev qd0`,
        `ip -n ${R} link set qd0 up`,
        `ip netns exec ${R} sysctl -qw net.ipv4.ip_forward=1`,
        `ip netns exec ${R} sysctl -qw net.ipv4.icmp_ratelimit=0`,
      ].join(' && '),
    );
    const probe = (ttl: number, dst: string): { sent: Uint8Array; icmp: Uint8Array } => {
      const [a, b] = execFileSync('ip', ['netns', 'exec', S, 'python3', '-c', PROBE, String(ttl), dst], { encoding: 'utf8' }).trim().split('\n');
      return { sent: Uint8Array.from(Buffer.from(a!, 'hex')), icmp: Uint8Array.from(Buffer.from(b!, 'hex')) };
    };
    // Time exceeded in transit: the router quotes the datagram as it received it (TTL 1).
    const te = probe(1, '10.72.0.9');
    expect([te.icmp[0], te.icmp[1], te.icmp.length - 8]).toEqual([11, 0, 548]);
    expect(Buffer.from(buildIcmpErrorMessage(11, 0, te.sent)).toString('hex')).toBe(Buffer.from(te.icmp).toString('hex'));
    // Port unreachable from the router itself.
    const pu = probe(64, '10.71.0.1');
    expect([pu.icmp[0], pu.icmp[1], pu.icmp.length - 8]).toEqual([3, 3, 548]);
    expect(Buffer.from(buildIcmpErrorMessage(3, 3, pu.sent)).toString('hex')).toBe(Buffer.from(pu.icmp).toString('hex'));
  });
});
