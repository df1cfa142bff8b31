/**
 * The same topology and seed give the same trace bytes as before the frame-path optimisations of
 * issue 19 (pooled buffers, lazy checksums, typed-array statistics). The digests below were
 * recorded from the tree before those changes (commit 81abefd), with every port captured into
 * one pcapng (the summary half was re-recorded as a projection when the report keys landed; the
 * pcap half is unchanged since 81abefd); any change to a byte of any frame, timestamp or counter block changes them.
 *
 * To re-record after a deliberate change of output: `VFAB_RECORD_DIGESTS=1 npx vitest run
 * test/e2e/pcap-digests.test.ts` prints the new table (and say in the commit why bytes changed).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { vfabTopology, type World } from '../../src/bench/ns3-world.js';
import type { ByteSink } from '../../src/pcap/sink.js';
import { runTopology } from '../../src/index.js';

const EXAMPLES = ['quickstart', 'two-hosts', 'live-migration', 'live-migration-no-announce', 'live-migration-sriov', 'sriov', 'qos-burst', 'qos-noisy-neighbor'];
/**
 * Added with the pooled-frame / lazy-checksum / event-queue work (branch frame-path): overlays
 * (VXLAN, an MTU mismatch's ICMP errors), VLAN trunks and pings across a leaf-spine, group
 * buckets, conntrack, and TCP (incast through fq_codel, PMTU discovery, a migration under
 * load). Their digests were recorded by running this file's `digest` on main's tree (949479b)
 * before any change of the frame path. overlay-mtu-mismatch was re-recorded when the example gained
 * its datapath_type system bridge and TCP bulk flows (recorded on that branch's tree, before the
 * speed merges, and equal on main after them).
 */
const MORE_EXAMPLES = ['overlay-vxlan', 'overlay-mtu-mismatch', 'leaf-spine', 'ovs-groups', 'ovs-conntrack-firewall', 'tcp-incast', 'tcp-pmtu', 'tcp-migration', 'migration-busy-uplink'];

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
    '1cb2d5fb86f45d1a527c726b2895f1cb51561a2fe669162753bb8a45ef441787 e629caa88b5fcd375b48e8e51a5098286ac01306f1d3b700ffef6362f0b5eacc',
  'two-hosts':
    'cda3984535f105bef2e3009000915838d03bf1c279bf8e4a5c0ba3638993ac44 fb26e9f2ad4b15f0f433b5fd75998eb08f7abb4005cdc8670af3e28c765e4bc2',
  'live-migration':
    'a20d28d890084246f31053aa5a9215f392b31d5dc2e435639783548a590d0896 b3909f7989575992b3f4064f22aee97b3c0a5ac6eee4f3441c8689bb569a9d96',
  'live-migration-no-announce':
    '5fa6bb9da41f488df9ff66acc88936ad3668742ab137094dad39eb64c7507335 c21007b2f324a061ad3bd98125a5e89fd8048831fd8e2d53b1c1c2c18e32292d',
  'live-migration-sriov':
    'ea40ac33b7911887525eddc34b5e2bf2fa8712f22fd51d6ec4e049899ec856b6 a18d94956725a218e48b5f01c30ecd1f4233c408319956e0036afa2e24f8c6cd',
  'sriov':
    '7788479e3a1bbdc02d3cddc66d25a512cb90980f5a628ec8c53c08d4a2cdd418 f52eb1212a24c7a7978e3fa4eb5080e314e1ab0fd55a412ba6a0ca8109b36250',
  'qos-burst':
    'e0695aaf59c06ab6dfec0d811ec3490d4b95a30729b57310e6ed3d3486185338 b93b6ac8e00da367a4e1a50fbdbd0d9ad28ee2a5075432ce120b3d1b2438692f',
  'qos-noisy-neighbor':
    'ba4d0debd0d7ce34eccb71f1d70130dc35b4d3b69e1ba8e2d1071180f758b175 05f32fce060eb0f8fb87563b3993cb3309417028493671cd5fd3a07f2446be0b',
  // Recorded from main (949479b) with the streaming hash below, before the frame-path branch.
  'overlay-vxlan':
    'e2b53f6a66274784856601e4bfa2574c8d3a5307e066473f64fe90518f64844f ea2102150a715072d14242b40568601b0a5f2b0496b433ee80d1740b7d7b71a5',
  'overlay-mtu-mismatch':
    '4a3f50b3986e774d56373b18c37c5768ebd3c140c9e172fca0f25847610801e3 1e69b983c2212ade1adb8f288fab34205c3c82f03739cc1693d511bafa886761',
  'leaf-spine':
    'e7457277cf31c873446bc82e1ba7a0ca52919550651bea5ec759320b5cd13945 16416a574ce1b0632694fe19ee714081cb3b600dd5eb2502b5d8f271bd93dae2',
  'ovs-groups':
    '698c05f0e8044284bff1c0f14fbf9d44b8277ec6eb0f1b641449ceef57108c5b d06c7462de1df3ac348e88a2e94bcc454f98a6f6cb226b218523e14e238ffb3e',
  'ovs-conntrack-firewall':
    '716a5c14e42beb813e654b89644269bf434e2eaa8543a25da9117d1c399dc99f 5df34fa7b2b8db9c7569d88b276b8c1a3a8f4559432690e78764af562efe3f61',
  'tcp-incast':
    '954e9c164f539176c28e97d92622ed3ea1567dd12e08aa45dca4d1333c419d35 05704e00445bcad9049ef39e2038f63bb51658dcb7d1d0db10a534c4e3cd1583',
  'tcp-pmtu':
    '90c27e354b87909b73beaec730419b8bd8892547f19bc57ad133126c4be3486f 7d05dc5e366335809ecc37b46ca9d1709ce4453505791a4438d1fa6698e02fba',
  'tcp-migration':
    '7961cf25ecce2a85a6ce4462db58cad9a8369982989f589d875fd9e4b36313f9 9d18f733a3c5b666811aa27dd8fe35de2074f7bc8cf30867db19de0a6ff997d0',
  'migration-busy-uplink':
    'fdc8228cf5ba6349f63f3f08b964dd68783df67d41941e568754b26b748625a6 474d47211696b8a5156ed16ca2830cf430c8c9b0d39f19a9b85e93f607f3a1eb',
  'ns3-one_bridge':
    '92f41de06120224c548016e81645de824534af83ac4a2799fd46696c34453b5e 22533280259e5d088752a8958feb6fab4739671043473a57e4cd1ca1c1f7bb11',
  'ns3-tor_64vms':
    '01f4a4a89659bd66274998a50d5a0fa68cda2c00c55794d4fc0d572411b8074a 886accf2d0f514f33d6e45c0490c7603449e4fd0c9c785969724497b74b1d83a',
};

/**
 * SHA-256 of the pcapng of every port, and of the parts of the JSON summary the frame path
 * produces (port counters, app results, migrations). Keys that later features add beside them
 * (report metadata such as `vfab_version`, `bridges`, an app's `rx_series`) are left out, so a
 * new summary field does not mask or fake a change of what the frames did.
 */
function digest(input: Parameters<typeof runTopology>[0]): string {
  // Hashed as it streams (a TCP example's capture of every port is larger than one Buffer may be);
  // the digest equals that of the concatenated bytes.
  const pcap = createHash('sha256');
  const sink: ByteSink = { write: (chunk) => void pcap.update(chunk), close: () => undefined };
  const { summary } = runTopology(input, { pcapngSink: sink, capturePorts: 'all' });
  const sha = (b: string): string => createHash('sha256').update(b).digest('hex');
  const s = summary as unknown as { ports?: unknown; apps?: Array<Record<string, unknown>>; migrations?: unknown };
  const apps = s.apps?.map((a) => Object.fromEntries(Object.entries(a).filter(([k]) => k !== 'rx_series')));
  return `${pcap.digest('hex')} ${sha(JSON.stringify({ ports: s.ports, apps, migrations: s.migrations }))}`;
}

const cases: Array<[string, () => string]> = [
  ...[...EXAMPLES, ...MORE_EXAMPLES].map((n): [string, () => string] => [n, () => digest(`topologies/${n}.yaml`)]),
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
    it(`${name}: the pcapng of every port and the JSON summary have the recorded SHA-256`, { timeout: 240_000 }, () => {
      expect(f()).toBe(DIGESTS[name]);
    });
  }
});
