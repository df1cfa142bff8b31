/**
 * The guest's receive checks compare the destination MAC as two integers and test for a
 * broadcast destination as `dst === address | ~mask`. They must decide exactly as the formulas
 * they replaced (the reference below): a frame for another unicast MAC is `not-for-us`; an IPv4
 * packet neither for an interface address nor a broadcast is `not-for-us`; TCP to a broadcast
 * address (limited, or the subnet's directed broadcast, which for a /32 is the address itself)
 * is `tcp-broadcast`; the rest reaches TCP. Any prefix length, address, and a MAC that changes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GuestStack } from '../../src/guest/stack.js';
import type { GuestNic } from '../../src/port/nic.js';
import { Port, type Frame } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/simulation.js';
import { buildTcp } from '../../src/wire/build.js';
import { formatIpv4, ipv4InSubnet, ipv4Mask } from '../../src/wire/ip.js';

class FakeNic implements GuestNic {
  readonly path = 'vm1.eth0';
  readonly mtu = 1500;
  readonly port = new Port('vm1.eth0', () => {});
  readonly linkUp = true;
  rx: ((f: Frame) => void) | null = null;
  constructor(public mac: number) {}
  transmit(): boolean {
    return true;
  }
  setReceiver(rx: (f: Frame) => void): void {
    this.rx = rx;
  }
  onAnnounceRequest(): void {}
}

function referenceOutcome(f: Frame, mac: number, ip: number, prefix: number): string {
  const dstMac = f[0]! * 2 ** 40 + f[1]! * 2 ** 32 + (((f[2]! << 24) | (f[3]! << 16) | (f[4]! << 8) | f[5]!) >>> 0);
  if ((f[0]! & 1) === 0 && dstMac !== mac) return 'not-for-us';
  const dst = ((f[30]! << 24) | (f[31]! << 16) | (f[32]! << 8) | f[33]!) >>> 0;
  const mine = dst === ip;
  const bcast = dst === 0xffffffff || (((dst | ipv4Mask(prefix)) >>> 0) === 0xffffffff && ipv4InSubnet(dst, ip, prefix));
  if (!mine && !bcast) return 'not-for-us';
  if (bcast) return 'tcp-broadcast';
  return 'tcp';
}

const u32 = fc.integer({ min: 1, max: 0xfffffffe });
const mac48 = fc.integer({ min: 0, max: 2 ** 48 - 1 }).map((m) => m - (Math.floor(m / 2 ** 40) & 1) * 2 ** 40);

describe('guest receive checks', () => {
  it('sort frames as the float-MAC and mask reference does, for any prefix, address and MAC', () => {
    fc.assert(
      fc.property(
        u32,
        fc.integer({ min: 0, max: 32 }),
        fc.array(
          fc.record({
            mac: mac48,
            macKind: fc.constantFrom('own', 'flip', 'bcast', 'other'),
            flipByte: fc.integer({ min: 0, max: 5 }),
            other: mac48,
            ipKind: fc.constantFrom('own', 'directed', 'limited', 'other', 'near'),
            other4: u32,
            near: fc.integer({ min: 0, max: 31 }),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        (ip, prefix, frames) => {
          const sim = new Simulation(1);
          const nic = new FakeNic(frames[0]!.mac);
          const stack = new GuestStack({ name: 'vm1', sim });
          stack.addInterface(nic, { ipv4: `${formatIpv4(ip)}/${prefix}` });
          const counts: Record<string, number> = {};
          let tcp = 0;
          for (const fr of frames) {
            nic.mac = fr.mac; // a MAC changed by CTRL_MAC_ADDR_SET between frames
            let dstMac = fr.macKind === 'own' ? fr.mac : fr.macKind === 'bcast' ? 0xffffffffffff : fr.other;
            if (fr.macKind === 'flip') {
              const shift = 2 ** (8 * (5 - fr.flipByte));
              const byte = Math.floor(fr.mac / shift) & 0xff;
              dstMac = fr.mac + ((byte ^ 0x20) - byte) * shift;
            }
            const directed = (ip | ~ipv4Mask(prefix)) >>> 0;
            const dstIp = fr.ipKind === 'own' ? ip : fr.ipKind === 'directed' ? directed : fr.ipKind === 'limited' ? 0xffffffff : fr.ipKind === 'near' ? (directed ^ (1 << fr.near)) >>> 0 : fr.other4;
            const f = buildTcp({ srcMac: 0x020000000099, dstMac, srcIp: 0x01020304, dstIp, srcPort: 1234, dstPort: 80 });
            const want = referenceOutcome(f, fr.mac, ip, prefix);
            if (want === 'tcp') tcp++;
            else counts[want] = (counts[want] ?? 0) + 1;
            nic.rx!(f);
            // (Other drops, such as no-route for the RST a SYN to a closed port gets, are not sorting.)
            const d = stack.counters.drops;
            expect({ 'not-for-us': d['not-for-us'] ?? 0, 'tcp-broadcast': d['tcp-broadcast'] ?? 0 }).toEqual({ 'not-for-us': counts['not-for-us'] ?? 0, 'tcp-broadcast': counts['tcp-broadcast'] ?? 0 });
            expect(stack.tcp.counters.segs_in).toBe(tcp);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
