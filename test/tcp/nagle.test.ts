/**
 * Nagle's algorithm (RFC 9293 §3.7.4, Minshall's variant as Linux tcp_nagle_check): ten 100-byte
 * writes in a row leave as one small segment and then one coalesced segment once it is
 * acknowledged; with TCP_NODELAY each write is its own segment.
 */
import { describe, expect, it } from 'vitest';
import { IP_B, pair } from './helpers.js';

function smallWrites(nagle: boolean): { dataSegs: number[]; received: number } {
  const p = pair({ delayNs: 1_000_000, tcp: { nagle } });
  let received = 0;
  const sizes: number[] = [];
  p.b.tcp.listen(9000, (c) => {
    c.onData = (d) => {
      received += d.length;
      sizes.push(d.length);
    };
  });
  const c = p.a.tcp.connect(IP_B, 9000);
  c.onConnect = () => {
    for (let i = 0; i < 10; i++) c.write(new Uint8Array(100).fill(i));
  };
  p.sim.run({ untilNs: 100_000_000 });
  return { dataSegs: sizes, received };
}

describe('Nagle', () => {
  it('coalesces small writes while a small segment is unacknowledged; TCP_NODELAY sends each', () => {
    const on = smallWrites(true);
    const off = smallWrites(false);
    expect(on.received).toBe(1000);
    expect(off.received).toBe(1000);
    expect(on.dataSegs).toEqual([100, 900]);
    expect(off.dataSegs).toEqual(Array(10).fill(100));
  });
});
