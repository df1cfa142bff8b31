import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import {
  FEATURE_BITS, featureBits, missingDependencies, negotiateFeatures, parseFeatureNames, type FeatureName,
} from '../../src/vnic/features.js';
import { defaultVnic } from '../../src/vnic/testing.js';

function userError(fn: () => unknown): UserError {
  try {
    fn();
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
  throw new Error('expected a UserError');
}

/** Each rule of virtio 1.2 §5.1.3.1 (reference.md §1): feature → one alternative it needs. */
const RULES: Array<[FeatureName, FeatureName]> = [
  ['ctrl_rx', 'ctrl_vq'],
  ['ctrl_vlan', 'ctrl_vq'],
  ['guest_announce', 'ctrl_vq'],
  ['mq', 'ctrl_vq'],
  ['ctrl_mac_addr', 'ctrl_vq'],
  ['rss', 'ctrl_vq'],
  ['notf_coal', 'ctrl_vq'],
  ['vq_notf_coal', 'ctrl_vq'],
  ['guest_tso4', 'guest_csum'],
  ['guest_tso6', 'guest_csum'],
  ['guest_ufo', 'guest_csum'],
  ['guest_uso4', 'guest_csum'],
  ['guest_uso6', 'guest_csum'],
  ['host_tso4', 'csum'],
  ['host_tso6', 'csum'],
  ['host_ufo', 'csum'],
  ['host_uso', 'csum'],
  ['ctrl_rx_extra', 'ctrl_rx'],
];

describe('virtio-net feature negotiation', () => {
  it('uses the spec bit numbers for the features that matter', () => {
    expect(FEATURE_BITS.csum).toBe(0);
    expect(FEATURE_BITS.mac).toBe(5);
    expect(FEATURE_BITS.status).toBe(16);
    expect(FEATURE_BITS.ctrl_vq).toBe(17);
    expect(FEATURE_BITS.guest_announce).toBe(21);
    expect(FEATURE_BITS.mq).toBe(22);
    expect(FEATURE_BITS.rss).toBe(60);
    expect(FEATURE_BITS.standby).toBe(62);
    expect(featureBits(['ctrl_vq', 'guest_announce'])).toBe((1n << 17n) | (1n << 21n));
  });

  for (const [feature, needs] of RULES) {
    it(`rejects a device offering ${feature} without ${needs}`, () => {
      // Offer exactly the feature plus everything it needs except `needs`.
      const minimal = closure(feature).filter((f) => f !== needs);
      const e = userError(() => negotiateFeatures(minimal, minimal, 'vm1.eth0.features'));
      expect(e.code).toBe('VNIC_FEATURE_DEPENDENCY');
      expect(e.message).toContain(`'${feature}'`);
      expect(e.message).toContain(needs);
    });

    it(`rejects a driver acknowledging ${feature} without ${needs}`, () => {
      const offered = closure(feature);
      const driver = offered.filter((f) => f !== needs);
      const e = userError(() => negotiateFeatures(offered, driver, 'vm1.eth0.features'));
      expect(e.code).toBe('VNIC_FEATURE_DEPENDENCY');
      expect(e.message).toContain(`'${feature}'`);
      expect(e.hint).toContain('virtnet_validate_features');
    });
  }

  it('accepts ECN offloads only with a TSO feature in the same direction', () => {
    expect(missingDependencies('guest_ecn', new Set(['guest_csum']))).toEqual(['guest_tso4|guest_tso6']);
    expect(missingDependencies('guest_ecn', new Set(['guest_csum', 'guest_tso6']))).toEqual([]);
    expect(missingDependencies('host_ecn', new Set(['csum', 'host_tso4']))).toEqual([]);
    expect(missingDependencies('rsc_ext', new Set(['csum']))).toEqual(['host_tso4|host_tso6']);
    expect(missingDependencies('rss_context', new Set(['ctrl_vq']))).toEqual(['rss']);
  });

  it('negotiates the intersection the driver acknowledges', () => {
    const n = negotiateFeatures(['mac', 'status', 'ctrl_vq', 'guest_announce'], ['mac', 'status'], 'x');
    expect(n.negotiated).toEqual(['mac', 'status']);
    expect(n.offered).toEqual(['mac', 'status', 'ctrl_vq', 'guest_announce']);
  });

  it('rejects a driver acknowledging a feature the device did not offer', () => {
    const e = userError(() => negotiateFeatures(['mac'], ['mac', 'status'], 'vm1.eth0.features'));
    expect(e.code).toBe('VNIC_FEATURE_NOT_OFFERED');
    expect(e.message).toContain("'status'");
  });

  it('names an unknown feature and suggests the nearest one', () => {
    const e = userError(() => parseFeatureNames(['ctrl_vqq'], 'vm1.eth0.features'));
    expect(e.code).toBe('VNIC_UNKNOWN_FEATURE');
    expect(e.hint).toContain("'ctrl_vq'");
    expect(parseFeatureNames(['VIRTIO_NET_F_MQ', 'Ctrl_VQ'], 'x')).toEqual(['ctrl_vq', 'mq']);
  });

  it('fails the NIC construction with the feature named, like a failed Linux probe', () => {
    const e = userError(() => defaultVnic({ features: ['mac', 'status', 'guest_announce'] }));
    expect(e.code).toBe('VNIC_FEATURE_DEPENDENCY');
    expect(e.render()).toContain("vm1.eth0.features: virtio-net feature 'guest_announce' requires 'ctrl_vq'");
  });

  it('offers a QEMU-like default set, with mq only for several queue pairs', () => {
    const one = defaultVnic();
    expect(one.offered).toContain('ctrl_vq');
    expect(one.offered).toContain('guest_announce');
    expect(one.offered).toContain('status');
    expect(one.offered).not.toContain('mq');
    expect(defaultVnic({ queuePairs: 4 }).offered).toContain('mq');
  });
});

/** `f` plus the first alternative of each requirement, transitively. */
function closure(f: FeatureName): FeatureName[] {
  const out = new Set<FeatureName>([f]);
  let changed = true;
  while (changed) {
    changed = false;
    for (const g of [...out]) {
      for (const miss of missingDependencies(g, out)) {
        out.add(miss.split('|')[0] as FeatureName);
        changed = true;
      }
    }
  }
  return [...out];
}
