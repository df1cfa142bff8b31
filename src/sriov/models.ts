/**
 * NIC model presets: how many VFs the hardware offers and which `ip link set … vf` knobs and
 * eswitch modes its Linux PF driver accepts. Numbers and refusals come from the drivers, so a
 * topology that would fail on real hardware fails here with the same errno.
 *
 * | model | total VFs | source |
 * | --- | --- | --- |
 * | ixgbe | 63 | `IXGBE_MAX_VFS_DRV_LIMIT` (64 − 1; fewer with DCB traffic classes) |
 * | i40e | 128 | `I40E_MAX_VF_COUNT` |
 * | ice | 256 | `ICE_MAX_SRIOV_VFS` |
 * | igb | 7 | 82576: 8 pools, one kept by the PF |
 * | mlx4 | 126 | ConnectX-3 (64 on old HCAs) |
 * | mlx5 | 127 | ConnectX-4+: "63/127 depending on firmware" (NVIDIA SR-IOV docs) |
 * | generic | 64 | a permissive NIC that supports every knob |
 *
 * Driver refusals modelled: `min_tx_rate` ≠ 0 is -EINVAL on ixgbe (`ixgbe_ndo_set_vf_bw`), i40e
 * (`i40e_ndo_set_vf_bw`: "Invalid min tx rate … specified for VF") and igb; `proto 802.1ad` is
 * -EPROTONOSUPPORT on ixgbe/i40e/igb (`ixgbe_ndo_set_vf_vlan`); `max_tx_rate` above the link speed
 * is -EINVAL everywhere; switchdev exists only where the driver implements devlink
 * `eswitch_mode_set` (ice, mlx5).
 */

export type NicModel = 'ixgbe' | 'i40e' | 'ice' | 'igb' | 'mlx4' | 'mlx5' | 'generic';

export interface NicCaps {
  /** TotalVFs from the SR-IOV capability as the PF driver exposes it (`sriov_totalvfs`). */
  totalVfs: number;
  /** Link speed of the PF in Mbit/s: `max_tx_rate` may not exceed it. */
  linkSpeedMbps: number;
  /** `ip link set … vf N vlan V proto 802.1ad` accepted (QinQ VST). */
  qinq: boolean;
  /** `min_tx_rate` (guaranteed rate) accepted. */
  minRate: boolean;
  /** `devlink dev eswitch set … mode switchdev` accepted. */
  switchdev: boolean;
  /** `bridge link set dev PF hwmode vepa` accepted. */
  vepa: boolean;
}

export const NIC_MODELS: Readonly<Record<NicModel, NicCaps>> = {
  ixgbe: { totalVfs: 63, linkSpeedMbps: 10_000, qinq: false, minRate: false, switchdev: false, vepa: true },
  i40e: { totalVfs: 128, linkSpeedMbps: 40_000, qinq: false, minRate: false, switchdev: false, vepa: true },
  ice: { totalVfs: 256, linkSpeedMbps: 100_000, qinq: true, minRate: true, switchdev: true, vepa: true },
  igb: { totalVfs: 7, linkSpeedMbps: 1_000, qinq: false, minRate: false, switchdev: false, vepa: false },
  mlx4: { totalVfs: 126, linkSpeedMbps: 40_000, qinq: true, minRate: false, switchdev: false, vepa: false },
  mlx5: { totalVfs: 127, linkSpeedMbps: 100_000, qinq: true, minRate: true, switchdev: true, vepa: true },
  generic: { totalVfs: 64, linkSpeedMbps: 100_000, qinq: true, minRate: true, switchdev: true, vepa: true },
};

export const NIC_MODEL_NAMES = Object.keys(NIC_MODELS) as NicModel[];

export function isNicModel(s: string): s is NicModel {
  return Object.prototype.hasOwnProperty.call(NIC_MODELS, s);
}
