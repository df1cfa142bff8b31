/**
 * A directed broadcast is the all-ones host address of the *ingress interface's* subnet: a unicast
 * destination whose low bits happen to be all ones in the ingress prefix length (10.0.2.11 arriving
 * on a /30) is forwarded, not dropped (it was, before the subnet check: overlay-vxlan.yaml's
 * 192.168.2.11 VTEP was unreachable over the /30 spine links).
 */
import { expect, it } from 'vitest';
import { runTopology } from '../../src/index.js';
import { routedLine } from './helpers.js';

type Ports = Record<string, { drops: Record<string, number> }>;

it('forwards 10.0.2.11 arriving on a /30 (low two bits set) and drops nothing as broadcast', () => {
  const text = routedLine('  - { at: 0s, ping: { from: a, to: 10.0.2.11, count: 3, interval: 10ms } }').replace('10.0.2.10/24', '10.0.2.11/24');
  const { summary } = runTopology({ text }, { untilNs: 1e9 });
  expect(summary.apps[0]).toMatchObject({ sent: 3, received: 3 });
  for (const p of Object.values(summary.ports as Ports)) expect(p.drops['broadcast'] ?? 0).toBe(0);
});
