/**
 * VF configuration as `ip link set PF vf N …` sets it (iproute2 `man/man8/ip-link.8.in`, kernel
 * `rtnetlink.c` `do_setvfinfo` → the driver's `ndo_set_vf_*`).
 *
 * `applyKnobs` is pure: it merges a knob set into the current config and lists every problem, so
 * the topology validator can point at each bad field and the device can refuse a runtime change
 * the way the driver would. Grammar rules carried over from ip-link: `qos` and `proto` are
 * arguments of `vlan` (`vlan VID [qos N] [proto P]`), so they must come with a `vlan` in the same
 * knob set, and a `vlan` without them resets qos to 0 and proto to 802.1Q (the netlink message
 * always carries all three).
 */
import { isMulticastMac, parseMac, formatMac, isValidMac } from '../wire/mac.js';
import type { KnobProblem } from './errors.js';
import type { NicCaps } from './models.js';

export type VfLinkState = 'auto' | 'enable' | 'disable';
export type VlanProto = '802.1Q' | '802.1ad';
export type EswitchMode = 'legacy' | 'switchdev';

/** The administrative state of one VF (what `ip link show PF` prints on the `vf N` line). */
export interface VfConfig {
  /** Administratively set MAC (48-bit integer); 0 = not set (the VF driver picks one). */
  mac: number;
  /** Port VLAN (VST): 0 = none, the guest may tag itself (VGT). */
  vlan: number;
  /** PCP inserted with the port VLAN. */
  qos: number;
  proto: VlanProto;
  spoofchk: boolean;
  trust: boolean;
  state: VfLinkState;
  /** Mbit/s, 0 = no limit. */
  max_tx_rate: number;
  /** Mbit/s, 0 = no guarantee. */
  min_tx_rate: number;
}

/** ip-link defaults for a fresh VF: spoof checking on, trust off, link-state auto. */
export function defaultVfConfig(): VfConfig {
  return { mac: 0, vlan: 0, qos: 0, proto: '802.1Q', spoofchk: true, trust: false, state: 'auto', max_tx_rate: 0, min_tx_rate: 0 };
}

/** A partial change, named as ip-link and the topology name the knobs. MACs as text or integer. */
export interface VfKnobs {
  mac?: string | number;
  vlan?: number;
  qos?: number;
  /** A VlanProto; any string is accepted here and checked (ip-link's error) when applied. */
  proto?: string;
  spoofchk?: boolean;
  trust?: boolean;
  /** A VfLinkState; any string is accepted here and checked when applied. */
  state?: string;
  max_tx_rate?: number;
  min_tx_rate?: number;
}

export interface ApplyContext {
  caps: NicCaps;
  model: string;
  mode: EswitchMode;
}

function isUint(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0;
}

/**
 * Merges `knobs` into `current`; returns the new config and the problems (empty = accepted).
 * Never throws; never mutates `current`.
 */
export function applyKnobs(current: VfConfig, knobs: VfKnobs, ctx: ApplyContext): { config: VfConfig; problems: KnobProblem[] } {
  const next: VfConfig = { ...current };
  const problems: KnobProblem[] = [];
  const bad = (p: KnobProblem): void => {
    problems.push(p);
  };

  if (knobs.mac !== undefined) {
    let mac: number | null = null;
    if (typeof knobs.mac === 'number') mac = isUint(knobs.mac) && knobs.mac <= 0xffff_ffff_ffff ? knobs.mac : null;
    else if (isValidMac(knobs.mac)) mac = parseMac(knobs.mac);
    if (mac === null) {
      bad({ code: 'SRIOV_BAD_MAC', errno: 'EINVAL', field: 'mac', message: `invalid VF MAC address "${String(knobs.mac)}"` });
    } else if (isMulticastMac(mac)) {
      // ixgbe_ndo_set_vf_mac: only is_valid_ether_addr() (unicast, non-zero) or all-zero (clear).
      bad({
        code: 'SRIOV_BAD_MAC',
        errno: 'EINVAL',
        field: 'mac',
        message: `VF MAC ${formatMac(mac)} is a multicast address; a VF needs a unicast MAC (00:00:00:00:00:00 clears it)`,
      });
    } else next.mac = mac;
  }

  const hasVlan = knobs.vlan !== undefined;
  if (hasVlan) {
    if (!isUint(knobs.vlan) || knobs.vlan > 4095) {
      bad({ code: 'SRIOV_BAD_VLAN', errno: 'EINVAL', field: 'vlan', message: `VF vlan ${String(knobs.vlan)} is out of range 0..4095 (0 disables the port VLAN)` });
    } else next.vlan = knobs.vlan;
    next.qos = 0;
    next.proto = '802.1Q';
  }
  if (knobs.qos !== undefined) {
    if (!hasVlan) {
      bad({
        code: 'SRIOV_QOS_NEEDS_VLAN',
        errno: 'EINVAL',
        field: 'qos',
        message: 'qos needs vlan: it is the priority of the port VLAN tag (ip link set PF vf N vlan VID qos PCP)',
      });
    } else if (!isUint(knobs.qos) || knobs.qos > 7) {
      bad({ code: 'SRIOV_BAD_QOS', errno: 'EINVAL', field: 'qos', message: `VF qos ${String(knobs.qos)} is out of range 0..7 (an 802.1p priority)` });
    } else if (knobs.qos !== 0 && knobs.vlan === 0) {
      bad({ code: 'SRIOV_QOS_NEEDS_VLAN', errno: 'EINVAL', field: 'qos', message: 'qos needs a non-zero vlan: vlan 0 means "no port VLAN", so there is no tag to carry the priority' });
    } else next.qos = knobs.qos;
  }
  if (knobs.proto !== undefined) {
    if (!hasVlan) {
      bad({
        code: 'SRIOV_PROTO_NEEDS_VLAN',
        errno: 'EINVAL',
        field: 'proto',
        message: 'proto needs vlan: it is the TPID of the port VLAN tag (ip link set PF vf N vlan VID proto 802.1ad)',
      });
    } else if (knobs.proto !== '802.1Q' && knobs.proto !== '802.1ad') {
      bad({ code: 'SRIOV_PROTO_UNSUPPORTED', errno: 'EPROTONOSUPPORT', field: 'proto', message: `VF vlan proto "${knobs.proto}" is neither 802.1Q nor 802.1ad` });
    } else if (knobs.proto === '802.1ad' && !ctx.caps.qinq) {
      bad({
        code: 'SRIOV_PROTO_UNSUPPORTED',
        errno: 'EPROTONOSUPPORT',
        field: 'proto',
        message: `${ctx.model} does not support 802.1ad port VLANs (its ndo_set_vf_vlan accepts only 802.1Q)`,
      });
    } else next.proto = knobs.proto;
  }
  if (ctx.mode === 'switchdev' && (hasVlan || knobs.qos !== undefined || knobs.proto !== undefined)) {
    bad({
      code: 'SRIOV_LEGACY_ONLY',
      errno: 'EOPNOTSUPP',
      field: hasVlan ? 'vlan' : knobs.qos !== undefined ? 'qos' : 'proto',
      message: 'VF port VLANs are a legacy-eswitch setting; in switchdev mode tag on the representor (bridge port tag or flow actions)',
    });
  }

  if (knobs.spoofchk !== undefined) next.spoofchk = knobs.spoofchk;
  if (knobs.trust !== undefined) next.trust = knobs.trust;
  if (knobs.state !== undefined) {
    if (knobs.state === 'auto' || knobs.state === 'enable' || knobs.state === 'disable') next.state = knobs.state;
    else bad({ code: 'SRIOV_BAD_STATE', errno: 'EINVAL', field: 'state', message: `VF state "${knobs.state}" is not auto, enable or disable` });
  }

  for (const field of ['max_tx_rate', 'min_tx_rate'] as const) {
    const v = knobs[field];
    if (v === undefined) continue;
    if (!isUint(v)) bad({ code: 'SRIOV_BAD_RATE', errno: 'EINVAL', field, message: `VF ${field} ${String(v)} must be a whole number of Mbit/s (0 = none)` });
    else next[field] = v;
  }
  if (knobs.max_tx_rate !== undefined && next.max_tx_rate > ctx.caps.linkSpeedMbps) {
    bad({
      code: 'SRIOV_RATE_ABOVE_LINK',
      errno: 'EINVAL',
      field: 'max_tx_rate',
      message: `VF max_tx_rate ${next.max_tx_rate} Mbit/s is above the ${ctx.model} link speed of ${ctx.caps.linkSpeedMbps} Mbit/s`,
    });
  }
  if (knobs.min_tx_rate !== undefined && next.min_tx_rate !== 0 && !ctx.caps.minRate) {
    bad({
      code: 'SRIOV_MIN_RATE_UNSUPPORTED',
      errno: 'EINVAL',
      field: 'min_tx_rate',
      message: `${ctx.model} does not support min_tx_rate (its ndo_set_vf_rate refuses a non-zero minimum)`,
    });
  }
  if ((knobs.min_tx_rate !== undefined || knobs.max_tx_rate !== undefined) && next.max_tx_rate !== 0 && next.min_tx_rate > next.max_tx_rate) {
    bad({
      code: 'SRIOV_MIN_ABOVE_MAX',
      errno: 'EINVAL',
      field: knobs.min_tx_rate !== undefined ? 'min_tx_rate' : 'max_tx_rate',
      message: `VF min_tx_rate ${next.min_tx_rate} Mbit/s is above max_tx_rate ${next.max_tx_rate} Mbit/s`,
    });
  }
  return { config: problems.length === 0 ? next : current, problems };
}
