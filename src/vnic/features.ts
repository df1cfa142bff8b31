/**
 * virtio-net feature bits, their names, and the spec's dependency rules.
 *
 * Names are the spec's `VIRTIO_NET_F_*` suffixes in lower case (`ctrl_vq`, `guest_announce`), the
 * form topology files use. Bit numbers follow the virtio 1.2 spec (`device-types/net/description.tex`)
 * plus the post-1.2 draft bits vfab knows about.
 *
 * Negotiation happens in two steps, each checked like the real parties do:
 * 1. the device's offer must be self-consistent ("The device MUST NOT offer a feature which requires
 *    another feature which was not offered", spec 5.1.3.1);
 * 2. the driver acknowledges a subset of the offer; the negotiated set must satisfy the same rules.
 *    Linux checks this in `virtnet_validate_features()` (drivers/net/virtio_net.c), which fails the
 *    probe with "Device bug: <feature> requires <dependency>"; vfab raises a `UserError` naming the
 *    feature instead of letting a half-configured NIC run (QEMU issue #151 shows what goes wrong).
 */
import { UserError } from '../errors.js';
import { nearest } from '../util/nearest.js';

// The bit table lives in wire/ (it is the virtio ABI, and the topology schema lists the names
// without depending on the device model); re-exported so vnic/ callers are unchanged.
import { FEATURE_BITS, FEATURE_NAMES, type FeatureName } from '../wire/virtio-net-features.js';
export { FEATURE_BITS, FEATURE_NAMES, type FeatureName };

/**
 * Dependency rules: each feature lists alternatives (any one of `anyOf` must be present) for every
 * requirement. Source: spec 5.1.3.1 "Feature bit requirements" and reference.md §1.
 */
const REQUIRES: Partial<Record<FeatureName, FeatureName[][]>> = {
  guest_tso4: [['guest_csum']],
  guest_tso6: [['guest_csum']],
  guest_ecn: [['guest_tso4', 'guest_tso6']],
  guest_ufo: [['guest_csum']],
  guest_uso4: [['guest_csum']],
  guest_uso6: [['guest_csum']],
  host_tso4: [['csum']],
  host_tso6: [['csum']],
  host_ecn: [['host_tso4', 'host_tso6']],
  host_ufo: [['csum']],
  host_uso: [['csum']],
  ctrl_rx: [['ctrl_vq']],
  ctrl_vlan: [['ctrl_vq']],
  ctrl_rx_extra: [['ctrl_rx']],
  guest_announce: [['ctrl_vq']],
  mq: [['ctrl_vq']],
  ctrl_mac_addr: [['ctrl_vq']],
  rss: [['ctrl_vq']],
  notf_coal: [['ctrl_vq']],
  vq_notf_coal: [['ctrl_vq']],
  rsc_ext: [['host_tso4', 'host_tso6']],
  rss_context: [['ctrl_vq'], ['rss']],
};

/** The requirements of `name` that `set` does not meet, as `a|b` strings (empty = satisfied). */
export function missingDependencies(name: FeatureName, set: ReadonlySet<FeatureName>): string[] {
  const reqs = REQUIRES[name] ?? [];
  const missing: string[] = [];
  for (const anyOf of reqs) {
    if (!anyOf.some((f) => set.has(f))) missing.push(anyOf.join('|'));
  }
  return missing;
}

/**
 * What QEMU's virtio-net-pci offers by default (`hw/net/virtio-net.c` `virtio_net_properties`,
 * host features on), plus `mq` when more than one queue pair is configured and `mtu` when a
 * host MTU is set.
 */
export function defaultOfferedFeatures(opts: { queuePairs: number; mtuSet: boolean }): FeatureName[] {
  const base: FeatureName[] = [
    'csum', 'guest_csum', 'ctrl_guest_offloads', 'mac', 'guest_tso4', 'guest_tso6', 'guest_ecn',
    'guest_ufo', 'host_tso4', 'host_tso6', 'host_ecn', 'host_ufo', 'mrg_rxbuf', 'status', 'ctrl_vq',
    'ctrl_rx', 'ctrl_vlan', 'ctrl_rx_extra', 'guest_announce', 'ctrl_mac_addr', 'version_1',
  ];
  if (opts.mtuSet) base.push('mtu');
  if (opts.queuePairs > 1) base.push('mq');
  return sortFeatures(base);
}

export function sortFeatures(names: Iterable<FeatureName>): FeatureName[] {
  return [...new Set(names)].sort((a, b) => FEATURE_BITS[a] - FEATURE_BITS[b]);
}

export function isFeatureName(s: string): s is FeatureName {
  return Object.prototype.hasOwnProperty.call(FEATURE_BITS, s);
}

/** Parses user-written feature names (case-insensitive, `VIRTIO_NET_F_` prefix allowed). */
export function parseFeatureNames(names: readonly string[], where: string): FeatureName[] {
  const out: FeatureName[] = [];
  for (const raw of names) {
    const n = raw.toLowerCase().replace(/^virtio_net_f_/, '');
    if (!isFeatureName(n)) {
      const guess = nearestFeature(n);
      throw new UserError('VNIC_UNKNOWN_FEATURE', `unknown virtio-net feature '${raw}'`, {
        where,
        ...(guess ? { hint: `did you mean '${guess}'?` } : {}),
      });
    }
    out.push(n);
  }
  return sortFeatures(out);
}

/** The 64+-bit feature word as a bigint (bit n set for each feature). */
export function featureBits(names: Iterable<FeatureName>): bigint {
  let v = 0n;
  for (const n of names) v |= 1n << BigInt(FEATURE_BITS[n]);
  return v;
}

export interface Negotiation {
  offered: FeatureName[];
  negotiated: FeatureName[];
}

/**
 * Checks the device's offer, then the driver's acknowledgement, and returns the negotiated set.
 * Throws a `UserError` naming the first feature that breaks a rule.
 */
export function negotiateFeatures(offered: readonly FeatureName[], driver: readonly FeatureName[], where: string): Negotiation {
  const offer = new Set(offered);
  for (const f of sortFeatures(offer)) {
    const miss = missingDependencies(f, offer);
    if (miss.length > 0) {
      throw new UserError(
        'VNIC_FEATURE_DEPENDENCY',
        `virtio-net feature '${f}' requires '${miss.join("', '")}', which the device does not offer`,
        { where, hint: `add '${miss[0]!.split('|')[0]}' to the features or remove '${f}' (spec 5.1.3.1; Linux virtnet_validate_features fails the probe)` },
      );
    }
  }
  for (const f of driver) {
    if (!offer.has(f)) {
      throw new UserError('VNIC_FEATURE_NOT_OFFERED', `the driver acknowledges virtio-net feature '${f}', which the device does not offer`, {
        where,
        hint: 'a driver MUST NOT accept a feature the device did not offer (virtio spec 2.2)',
      });
    }
  }
  const neg = new Set(driver);
  for (const f of sortFeatures(neg)) {
    const miss = missingDependencies(f, neg);
    if (miss.length > 0) {
      throw new UserError(
        'VNIC_FEATURE_DEPENDENCY',
        `the driver acknowledges virtio-net feature '${f}' without '${miss.join("', '")}'`,
        { where, hint: `Linux virtnet_validate_features() fails the probe: '${f}' requires '${miss.join("', '")}'` },
      );
    }
  }
  return { offered: sortFeatures(offer), negotiated: sortFeatures(neg) };
}

function nearestFeature(s: string): string | undefined {
  return nearest(s, FEATURE_NAMES);
}
