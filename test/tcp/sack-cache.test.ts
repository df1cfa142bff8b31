/**
 * The SACK tag cache (recovery.ts `sackCache`, Linux recv_sack_cache) only skips work: bulk
 * flows over lossy, shallow-queued links, with SACK blocks on nearly every ACK, end in exactly
 * the same state with the cache on and off (every counter of both sockets, bytes delivered).
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { sackCacheSwitch } from '../../src/tcp/recovery.js';
import { zeroPayload } from '../../src/tcp/payload.js';
import { IP_B, pair } from './helpers.js';

function bulk(seed: number, loss: number, queue: number, cc: 'cubic' | 'newreno'): unknown {
  const p = pair({ seed, rate: 1e9, delayNs: 200_000, queue, loss, tcp: { cc } });
  let server: { info(): unknown } | undefined;
  let rx = 0;
  p.b.tcp.listen(5001, (c) => {
    server = c;
    c.onData = (d) => {
      rx += d.length;
    };
  });
  const c = p.a.tcp.connect(IP_B, 5001);
  const block = zeroPayload(65536);
  const pump = (): void => {
    while (c.write(block) > 0);
  };
  c.onConnect = pump;
  c.onDrain = pump;
  p.sim.run({ untilNs: 30_000_000 });
  return { client: c.info(), server: server?.info(), rx };
}

describe('TCP SACK tag cache', () => {
  afterEach(() => {
    sackCacheSwitch.on = true;
  });

  it('changes no outcome of a lossy bulk flow (cache on == cache off)', () => {
    let recovered = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.constantFrom(0.002, 0.01, 0.03),
        fc.constantFrom(20, 60, 1000),
        fc.constantFrom('cubic' as const, 'newreno' as const),
        (seed, loss, queue, cc) => {
          sackCacheSwitch.on = true;
          const on = bulk(seed, loss, queue, cc);
          sackCacheSwitch.on = false;
          const off = bulk(seed, loss, queue, cc);
          sackCacheSwitch.on = true;
          if ((on as { client: { total_retrans: number } }).client.total_retrans > 0) recovered++;
          expect(on).toEqual(off);
        },
      ),
      { numRuns: 12 },
    );
    expect(recovered).toBeGreaterThan(6); // the runs did go through SACK recovery
  }, 120_000);
});
