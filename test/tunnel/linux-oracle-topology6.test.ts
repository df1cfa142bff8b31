/**
 * Oracle: a frame a *topology* encapsulates over an IPv6 underlay, against the Linux vxlan device.
 *
 * vfab runs two hypervisors with IPv6-only VTEPs (VXLAN VNI 5001) over an IPv6-only router and
 * writes a pcapng; the test takes the first encapsulated echo request hv1.underlay sent from that
 * capture. A network namespace then gets a Linux vxlan device configured as OVS configures its
 * tunnel port (`ip link add vx6 type vxlan id 5001 local <hv1's underlay> remote <hv2's> dstport
 * 4789 ttl 64`; over IPv6 the kernel computes the UDP checksum, as OVS does, and the flow label is
 * 0 unless `flowlabel` is set), on a veth whose MACs are the capture's outer MACs, and the very
 * same inner frame is written to the vxlan device through a packet socket. The kernel's outer
 * headers must equal vfab's field by field, except the documented ones:
 * - the UDP source port: the kernel hashes the skb (`udp_flow_src_port`), vfab its own seeded hash
 *   of the inner flow; both are in the same range (docs/overlay.md);
 * - the UDP checksum, which covers the source port: each must verify, and vfab's must equal the
 *   kernel's once the kernel's source port is put in vfab's frame and the checksum recomputed. The
 *   kernel leaves it to the veth's checksum offload (CHECKSUM_PARTIAL, the pseudo-header sum in the
 *   field); the test completes it as the NIC would before comparing.
 * Needs root and `ip` (CI runs as root); skipped with the reason printed otherwise outside CI.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTopology } from '../../src/index.js';
import { finish, sumBytes } from '../../src/wire/checksum.js';
import { describeWithTools, inCI } from '../helpers/tools.js';
import { tunnelPair } from './helpers.js';

const NS = 'vfab-topo-v6';
const sh = (cmd: string): string => execFileSync('sh', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** The packets of pcapng interface `name`, in file order (SHB/IDB/EPB walk, little-endian files). */
function pcapngPackets(file: Uint8Array, name: string): Uint8Array[] {
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const names: string[] = [];
  const out: Uint8Array[] = [];
  for (let at = 0; at + 12 <= file.length; ) {
    const type = v.getUint32(at, true);
    const len = v.getUint32(at + 4, true);
    if (len < 12) throw new Error(`pcapng block of length ${len} at byte ${at}`);
    if (type === 0x0a0d0d0a) names.length = 0; // a new section renumbers interfaces
    if (type === 1) {
      let ifName = '';
      for (let o = at + 16; o + 4 <= at + len - 4; ) {
        const code = v.getUint16(o, true);
        const olen = v.getUint16(o + 2, true);
        if (code === 0) break;
        if (code === 2) ifName = Buffer.from(file.subarray(o + 4, o + 4 + olen)).toString('utf8');
        o += 4 + ((olen + 3) & ~3);
      }
      names.push(ifName);
    }
    if (type === 6 && names[v.getUint32(at + 8, true)] === name) out.push(file.slice(at + 28, at + 28 + v.getUint32(at + 20, true)));
    at += len;
  }
  return out;
}

const SEND = `
import socket, sys
inner = bytes.fromhex(sys.argv[1])
rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
rx.bind(('vfab-t6u1', 0))
rx.settimeout(2)
tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
tx.bind(('vx6', 0))
tx.send(inner)
while True:
    f = rx.recv(65535)
    if f[12:14] == b'\\x86\\xdd' and f[20] == 17 and f[56:58] == (4789).to_bytes(2, 'big'):
        print(f.hex())
        break
`;

/** RFC 2460 §8.1 UDP checksum over IPv6 of the frame's outer datagram (Ethernet + IPv6 at 14). */
function udp6Checksum(f: Uint8Array): number {
  const len = (f[58]! << 8) | f[59]!;
  const z = f.slice();
  z[60] = 0;
  z[61] = 0;
  const c = finish(sumBytes(z, 54, 54 + len, sumBytes(z, 22, 54) + 17 + len));
  return c === 0 ? 0xffff : c;
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('the topology-produced IPv6 VXLAN frame against Linux', () => {
  if (!isRoot && !inCI) {
    it.skip('needs root for a network namespace', () => {});
    process.stdout.write('skipping "the topology-produced IPv6 VXLAN frame against Linux": not root (CI runs as root)\n');
    return;
  }
  describeWithTools(['ip', 'python3'], 'netns vxlan6', () => {
    // the namespace goes with the test (spawnSync: no throw when it is already gone)
    afterAll(() => void spawnSync('ip', ['netns', 'del', NS]));

    it('outer Ethernet/IPv6/UDP/VXLAN equal the kernel device field by field, except the documented source port (and the checksum that covers it)', () => {
      const text = tunnelPair({
        port1: '{ type: vxlan, remote_ip: "2001:db8:2::11", key: 5001 }',
        port2: '{ type: vxlan, remote_ip: "2001:db8:1::11", key: 5001 }',
        underlay: 'ipv6-only-router',
        vmMtu: 1430,
        seed: 7,
        extra: '  - { at: 0s, ping: { from: vm1, to: vm2, count: 1, size: 200 } }',
      });
      const file = join(mkdtempSync(join(tmpdir(), 'vfab-topo-v6-')), 't.pcapng');
      runTopology({ text }, { pcapng: file, untilNs: 100_000_000 });
      const ours = pcapngPackets(new Uint8Array(readFileSync(file)), 'hv1.underlay').find((f) => f.length > 70 + 34 && f[12] === 0x86 && f[13] === 0xdd && f[20] === 17 && f[70 + 12] === 0x08 && f[70 + 23] === 1 && f[70 + 34] === 8);
      expect(ours, 'an encapsulated echo request on hv1.underlay').toBeDefined();
      const f = ours!;
      const inner = f.subarray(70);
      const mac = (o: number): string => [...f.subarray(o, o + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
      sh(`ip netns del ${NS} 2>/dev/null || true`);
      const ns = `ip -n ${NS}`;
      sh(
        [
          `ip netns add ${NS}`,
          `${ns} link add vfab-t6u0 type veth peer name vfab-t6u1`,
          `${ns} link set vfab-t6u0 address ${mac(6)} up`,
          `${ns} link set vfab-t6u1 address ${mac(0)} up`,
          `${ns} addr add 2001:db8:1::11/64 dev vfab-t6u0 nodad`,
          `${ns} route add 2001:db8:2::/64 via 2001:db8:1::1 dev vfab-t6u0`,
          `${ns} neigh add 2001:db8:1::1 lladdr ${mac(0)} dev vfab-t6u0 nud permanent`,
          `${ns} link add vx6 type vxlan id 5001 local 2001:db8:1::11 remote 2001:db8:2::11 dstport 4789 ttl 64`,
          `${ns} link set vx6 up`,
        ].join(' && '),
      );
      const kernel = Uint8Array.from(Buffer.from(execFileSync('ip', ['netns', 'exec', NS, 'python3', '-c', SEND, hexOf(inner)], { encoding: 'utf8' }).trim(), 'hex'));
      // The veth offers checksum offload, so udp6_set_csum leaves the outer checksum
      // CHECKSUM_PARTIAL: the field holds the pseudo-header sum. Complete it as the NIC would
      // (one's complement sum of the UDP segment from that seed); it must then verify.
      const seed = (kernel[60]! << 8) | kernel[61]!;
      const ulen = (kernel[58]! << 8) | kernel[59]!;
      const done = finish(sumBytes(kernel, 54, 54 + ulen));
      kernel[60] = done >>> 8;
      kernel[61] = done & 0xff;
      expect(seed).not.toBe(done);
      const field = (b: Uint8Array, a: number, z: number): string => hexOf(b.subarray(a, z));
      const fields: Array<[string, number, number]> = [
        ['eth.dst', 0, 6],
        ['eth.src', 6, 12],
        ['eth.type', 12, 14],
        ['ipv6.version+tclass+flow', 14, 18],
        ['ipv6.plen', 18, 20],
        ['ipv6.nxt', 20, 21],
        ['ipv6.hlim', 21, 22],
        ['ipv6.src', 22, 38],
        ['ipv6.dst', 38, 54],
        ['udp.dstport', 56, 58],
        ['udp.length', 58, 60],
        ['vxlan.flags+reserved', 62, 66],
        ['vxlan.vni+reserved', 66, 70],
        ['inner frame', 70, Math.max(f.length, kernel.length)],
      ];
      for (const [name, a, z] of fields) expect(`${name} ${field(f, a, z)}`).toBe(`${name} ${field(kernel, a, z)}`);
      // documented: the source port (both in udp_flow_src_port's range), and the checksum over it
      const sport = (b: Uint8Array): number => (b[54]! << 8) | b[55]!;
      for (const b of [f, kernel]) {
        expect(sport(b)).toBeGreaterThanOrEqual(32768);
        expect(sport(b)).toBeLessThanOrEqual(60999);
        expect((b[60]! << 8) | b[61]!).toBe(udp6Checksum(b));
        expect((b[60]! << 8) | b[61]!).not.toBe(0);
      }
      const patched = f.slice();
      patched[54] = kernel[54]!;
      patched[55] = kernel[55]!;
      const c = udp6Checksum(patched);
      expect(c).toBe((kernel[60] << 8) | kernel[61]);
      expect(f.length).toBe(kernel.length);
    });
  });
});
