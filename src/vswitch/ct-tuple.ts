/**
 * Rules for the conntrack original-direction tuple (`ct_nw_src`, `ct_nw_dst`, `ct_ipv6_src`,
 * `ct_ipv6_dst`, `ct_nw_proto`, `ct_tp_src`, `ct_tp_dst`) in matches and for
 * `resubmit(port,table,ct)`, as OVS 3.1 applies them (lib/flow.h `is_ct_valid`, the
 * MFP_CT_VALID prerequisite in lib/meta-flow.c, `check_RESUBMIT` in lib/ofp-actions.c):
 * - the tuple exists only on a packet with a valid connection: the match must require one of
 *   `+new +est +rel +rpl +snat +dnat`, or `+trk` together with `-inv`;
 * - `ct_nw_*` addresses need an `ip` match and `ct_ipv6_*` an `ipv6` match (OVS answers
 *   OFPBAC_MATCH_INCONSISTENT, observed with ovs-ofctl 3.1);
 * - `ct_tp_src`/`ct_tp_dst` have no prerequisite of their own, but OVS prints them only next to
 *   `ct_nw_proto` (lib/match.c `match_format`).
 */
import { CS_DST_NAT, CS_ESTABLISHED, CS_INVALID, CS_NEW, CS_RELATED, CS_REPLY_DIR, CS_SRC_NAT, CS_TRACKED } from './ct-action.js';
import { ETH_TYPE_IP, ETH_TYPE_IPV6, W_CT_NW_DST, W_CT_NW_PROTO, W_CT_NW_SRC, W_CT_STATE, W_DL_TYPE } from './fields.js';
import { W_CT_IPV6_DST, W_CT_IPV6_SRC } from './fields.js';

/** `is_ct_valid` on a match (value already masked). */
export function ctValidMatch(value: Int32Array, mask: Int32Array): boolean {
  const v = value[W_CT_STATE]!;
  if (v & (CS_NEW | CS_ESTABLISHED | CS_RELATED | CS_REPLY_DIR | CS_SRC_NAT | CS_DST_NAT)) return true;
  return (v & CS_TRACKED) !== 0 && (mask[W_CT_STATE]! & CS_INVALID) !== 0 && (v & CS_INVALID) === 0;
}

const any = (mask: Int32Array, at: number, n: number): boolean => {
  for (let i = 0; i < n; i++) if (mask[at + i] !== 0) return true;
  return false;
};

/** The switch's answer to a match with original-tuple fields, or null when it accepts it. */
export function ctTupleMatchError(value: Int32Array, mask: Int32Array): string | null {
  const v4 = mask[W_CT_NW_SRC] !== 0 || mask[W_CT_NW_DST] !== 0;
  const v6 = any(mask, W_CT_IPV6_SRC, 4) || any(mask, W_CT_IPV6_DST, 4);
  if (!v4 && !v6 && mask[W_CT_NW_PROTO] === 0) return null;
  if (!ctValidMatch(value, mask)) return 'OFPBMC_BAD_PREREQ';
  const dlType = mask[W_DL_TYPE] === 0xffff ? value[W_DL_TYPE]! : -1;
  if ((v4 && dlType !== ETH_TYPE_IP) || (v6 && dlType !== ETH_TYPE_IPV6)) return 'OFPBAC_MATCH_INCONSISTENT';
  return null;
}
