/**
 * The same topology and seed give the same trace bytes as before the frame-path optimisations of
 * issue 19 (pooled buffers, lazy checksums, typed-array statistics). The digests below were
 * recorded from the tree before those changes (commit 81abefd), with every port captured into
 * one pcapng; any change to a byte of any frame, timestamp or counter block changes them.
 *
 * To re-record after a deliberate change of output: `VFAB_RECORD_DIGESTS=1 npx vitest run
 * test/e2e/pcap-digests.test.ts` prints the new table (and say in the commit why bytes changed).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { vfabTopology, type World } from '../../src/bench/ns3-world.js';
import { MemorySink } from '../../src/pcap/sink.js';
import { runTopology } from '../../src/index.js';

const EXAMPLES = ['quickstart', 'two-hosts', 'live-migration', 'live-migration-no-announce', 'live-migration-sriov', 'sriov', 'qos-burst', 'qos-noisy-neighbor'];

/** Small versions of the ns-3 race worlds: many UDP flows through bridges, links and a ToR. */
/** (Written out, not taken from WORLDS, so retuning the race does not move these digests.) */
const WORLD_CASES: Record<string, World> = {
  'ns3-one_bridge': {
    name: 'one_bridge', hosts: 1, vmsPerHost: 2, flows: 1, rateBps: 100e6, size: 1000,
    durationNs: 20e6, startNs: 1e6, staggerNs: 0, linkBps: 10e9, linkDelayNs: 5000,
  },
  'ns3-tor_64vms': {
    name: 'tor_64vms', hosts: 8, vmsPerHost: 8, flows: 32, rateBps: 100e6, size: 1000,
    durationNs: 5e6, startNs: 1e6, staggerNs: 2000, linkBps: 10e9, linkDelayNs: 5000,
  },
};

const DIGESTS: Record<string, string> = {
  'quickstart':
    '1cb2d5fb86f45d1a527c726b2895f1cb51561a2fe669162753bb8a45ef441787 394579d4162e1d65f3a5a0e6b46a39575b9f6b74747d89521720a90731c2f295',
  'two-hosts':
    'cda3984535f105bef2e3009000915838d03bf1c279bf8e4a5c0ba3638993ac44 46477b8aebbc7302a03e5bcb40cc26828e69eb4545bd4943b061ee47560a1234',
  'live-migration':
    'a20d28d890084246f31053aa5a9215f392b31d5dc2e435639783548a590d0896 1fc9ea702f359e0105a574c42d8bec5a918a826baf2fb42ba7f8f391b0de46d3',
  'live-migration-no-announce':
    '5fa6bb9da41f488df9ff66acc88936ad3668742ab137094dad39eb64c7507335 b250bd9babff4dca154e6aa8c8da2c890f575277ad4fa2b70bee4a24158e7097',
  'live-migration-sriov':
    'ea40ac33b7911887525eddc34b5e2bf2fa8712f22fd51d6ec4e049899ec856b6 527c5773323cd717befe8df659fd463f9660fac5fd8b1fb3b8cdd88f55f8ddea',
  'sriov':
    '7788479e3a1bbdc02d3cddc66d25a512cb90980f5a628ec8c53c08d4a2cdd418 1eb5b2cd3e2ccba7a79bc49736b3252f0b3dcc2ed5d141315187f167e70ef6f0',
  'qos-burst':
    'e0695aaf59c06ab6dfec0d811ec3490d4b95a30729b57310e6ed3d3486185338 88cc50c00ab7d020aa7477c3301c9264063ac0beb0de2a9bb5b3f363b00c5329',
  'qos-noisy-neighbor':
    'ba4d0debd0d7ce34eccb71f1d70130dc35b4d3b69e1ba8e2d1071180f758b175 8a1c100ef8080dc390bd391f0072dc01c36315e4d526d00e4c8e886e5d4c0d8d',
  'ns3-one_bridge':
    '92f41de06120224c548016e81645de824534af83ac4a2799fd46696c34453b5e 0e50cd2b76e31fbc21e4f699cc08e832487aa1391b44a35534685ee195a3f2d0',
  'ns3-tor_64vms':
    '01f4a4a89659bd66274998a50d5a0fa68cda2c00c55794d4fc0d572411b8074a 263512d71fe7eedddde0cb5f4b3dbb8e302da556d6e4f9f59650b2111b2d0143',
};

/** SHA-256 of the pcapng of every port, and of the JSON summary (`vfab run --json`). */
function digest(input: Parameters<typeof runTopology>[0]): string {
  const sink = new MemorySink();
  const { summary } = runTopology(input, { pcapngSink: sink, capturePorts: 'all' });
  const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
  return `${sha(sink.bytes())} ${sha(JSON.stringify(summary))}`;
}

const cases: Array<[string, () => string]> = [
  ...EXAMPLES.map((n): [string, () => string] => [n, () => digest(`topologies/${n}.yaml`)]),
  ...Object.entries(WORLD_CASES).map(([n, w]): [string, () => string] => [n, () => digest({ text: vfabTopology(w), file: `${n}.yaml` })]),
];

describe('trace bytes are unchanged by the frame-path optimisations', () => {
  if (process.env.VFAB_RECORD_DIGESTS) {
    it('records', () => {
      const out: Record<string, string> = {};
      for (const [n, f] of cases) out[n] = f();
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });
    return;
  }
  for (const [name, f] of cases) {
    it(`${name}: the pcapng of every port and the JSON summary have the recorded SHA-256`, () => {
      expect(f()).toBe(DIGESTS[name]);
    });
  }
});
