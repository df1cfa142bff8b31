/**
 * virtio-net feature bits: the spec's `VIRTIO_NET_F_*` names (lower case, as topology files write
 * them) and their bit numbers (virtio 1.2 `device-types/net/description.tex`, plus the post-1.2
 * draft bits vfab knows about). The dependency rules and negotiation live in `vnic/features.ts`;
 * this table sits here, below both vnic/ and topology/, because both need the names.
 */

/** Feature name → bit number. */
export const FEATURE_BITS = {
  csum: 0,
  guest_csum: 1,
  ctrl_guest_offloads: 2,
  mtu: 3,
  mac: 5,
  guest_tso4: 7,
  guest_tso6: 8,
  guest_ecn: 9,
  guest_ufo: 10,
  host_tso4: 11,
  host_tso6: 12,
  host_ecn: 13,
  host_ufo: 14,
  mrg_rxbuf: 15,
  status: 16,
  ctrl_vq: 17,
  ctrl_rx: 18,
  ctrl_vlan: 19,
  ctrl_rx_extra: 20,
  guest_announce: 21,
  mq: 22,
  ctrl_mac_addr: 23,
  version_1: 32,
  device_stats: 50,
  hash_tunnel: 51,
  vq_notf_coal: 52,
  notf_coal: 53,
  guest_uso4: 54,
  guest_uso6: 55,
  host_uso: 56,
  hash_report: 57,
  guest_hdrlen: 59,
  rss: 60,
  rsc_ext: 61,
  standby: 62,
  speed_duplex: 63,
  rss_context: 64,
} as const;

export type FeatureName = keyof typeof FEATURE_BITS;

export const FEATURE_NAMES = Object.keys(FEATURE_BITS) as FeatureName[];
