/**
 * Receive-side checksum verification: a segment a vfab TCP did not checksum itself (hand-made
 * bytes, a copy) is verified (RFC 9293 §3.1, RFC 1071), and one with a wrong checksum is dropped and
 * counted, never answered; the same bytes with the right checksum are answered.
 */
import { describe, expect, it } from 'vitest';
import { Simulation } from '../../src/sim/simulation.js';
import { TcpStack } from '../../src/tcp/stack.js';
import type { TcpIpLayer } from '../../src/tcp/types.js';
import { finish, pseudoHeaderV4, sumBytes } from '../../src/wire/checksum.js';

const SRC = 0x0a000001;
const DST = 0x0a000002;

function stack(): { sim: Simulation; tcp: TcpStack; sent: Uint8Array[] } {
  const sim = new Simulation(3);
  const sent: Uint8Array[] = [];
  const ip: TcpIpLayer = {
    headroom: 34,
    route: () => ({ src: DST, mtu: 1500 }),
    allocate: (l4) => new Uint8Array(34 + l4),
    output: (buf, _s, _d, l4) => sent.push(buf.slice(34, 34 + l4)),
  };
  const tcp = new TcpStack({ sim, ip, name: 'vm2', prng: sim.prng.fork('tcp') });
  tcp.listen(80, () => {});
  return { sim, tcp, sent };
}

/** A bare SYN from SRC:40000 to DST:80 with a correct checksum, in a frame at offset 34. */
function syn(): Uint8Array {
  const f = new Uint8Array(34 + 20);
  const t = 34;
  f[t] = 40000 >> 8;
  f[t + 1] = 40000 & 0xff;
  f[t + 3] = 80;
  f[t + 7] = 1; // seq 1
  f[t + 12] = 5 << 4;
  f[t + 13] = 0x02;
  f[t + 14] = 0xff;
  f[t + 15] = 0xff;
  const c = finish(sumBytes(f, t, t + 20, pseudoHeaderV4(SRC, DST, 6, 20)));
  f[t + 16] = c >> 8;
  f[t + 17] = c & 0xff;
  return f;
}

describe('TCP receive checksum', () => {
  it('answers a hand-made SYN with a correct checksum', () => {
    const { tcp, sent } = stack();
    tcp.input(SRC, DST, syn(), 34, 20, 0);
    expect(tcp.counters.bad_checksum).toBe(0);
    expect(sent).toHaveLength(1);
    expect(sent[0]![13]).toBe(0x12); // SYN-ACK
  });

  it('drops and counts the same SYN with one bit flipped, sending nothing', () => {
    for (const at of [34 + 4, 34 + 16, 34 + 19]) {
      const { tcp, sent } = stack();
      const f = syn();
      f[at]! ^= 0x10;
      tcp.input(SRC, DST, f, 34, 20, 0);
      expect(tcp.counters.bad_checksum).toBe(1);
      expect(sent).toHaveLength(0);
      expect(tcp.connections).toBe(0);
    }
  });
});
