/**
 * Port VLAN modes for NORMAL switching, as Open vSwitch implements them
 * (`vswitchd/vswitch.xml` Port `vlan_mode`; `ofproto/ofproto-dpif.c` `bundle_set`;
 * `ofproto/ofproto-dpif-xlate.c` `input_vid_is_valid`, `input_vid_to_vlan`,
 * `xbundle_includes_vlan`, `output_vlan_to_vid`). Only NORMAL looks at these; `output`, `FLOOD`
 * and `ALL` send raw copies.
 */

export type VlanMode = 'access' | 'trunk' | 'native-tagged' | 'native-untagged';

export interface PortVlanConfig {
  mode: VlanMode;
  /** The port's own VLAN: the access/native VLAN, -1 for trunk ports (`xbundle->vlan`). */
  vlan: number;
  /** Trunked VLANs; null = all (an empty `trunks` column). Not used for access ports. */
  trunks: Set<number> | null;
}

export function makeVlanConfig(mode: VlanMode | undefined, tag: number | undefined, trunks: readonly number[] | undefined): PortVlanConfig {
  const m: VlanMode = mode ?? (tag !== undefined ? 'access' : 'trunk');
  const t = trunks && trunks.length > 0 ? new Set(trunks) : null;
  // bundle_set: vlan = trunk ? -1 : tag (0 when unset).
  const vlan = m === 'trunk' ? -1 : (tag ?? 0);
  return { mode: m, vlan, trunks: m === 'access' ? null : t };
}

/** `xbundle_trunks_vlan`, with `bundle_set`'s native-mode adjustment (native VLAN in, VLAN 0 out). */
export function trunksVlan(c: PortVlanConfig, vlan: number): boolean {
  switch (c.mode) {
    case 'access':
      return false;
    case 'trunk':
      return c.trunks === null || c.trunks.has(vlan);
    default:
      if (c.vlan !== 0) return vlan !== 0 && (c.trunks === null || c.trunks.has(vlan) || vlan === c.vlan);
      return c.trunks === null || c.trunks.has(vlan);
  }
}

export function includesVlan(c: PortVlanConfig, vlan: number): boolean {
  return vlan === c.vlan || trunksVlan(c, vlan);
}

/** Whether a frame with VID `vid` (0 = untagged or priority-tagged) may enter. */
export function inputVidIsValid(c: PortVlanConfig, vid: number): boolean {
  switch (c.mode) {
    case 'access':
      return vid === 0;
    case 'native-tagged':
    case 'native-untagged':
      if (vid === 0) return true;
      return trunksVlan(c, vid);
    case 'trunk':
      return trunksVlan(c, vid);
  }
}

export function inputVidToVlan(c: PortVlanConfig, vid: number): number {
  switch (c.mode) {
    case 'access':
      return c.vlan;
    case 'trunk':
      return vid;
    default:
      return vid !== 0 ? vid : c.vlan;
  }
}

/** VID the frame carries out of the port (0 = untagged). */
export function outputVlanToVid(c: PortVlanConfig, vlan: number): number {
  switch (c.mode) {
    case 'access':
      return 0;
    case 'trunk':
    case 'native-tagged':
      return vlan;
    case 'native-untagged':
      return vlan === c.vlan ? 0 : vlan;
  }
}
