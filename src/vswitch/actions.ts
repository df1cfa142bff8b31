/**
 * OpenFlow actions as vfab executes them (`Documentation/ref/ovs-actions.7.rst`), and their
 * `ovs-ofctl dump-flows` spelling.
 */
import type { FieldDef } from './fields.js';
import type { Subfield } from './subfield.js';
import type { LearnAction } from './learn.js';
import { formatCt, type CtAction } from './ct-action.js';
import type { ConjunctionAction } from './conjunction.js';
import {
  OFPP_ALL,
  OFPP_CONTROLLER,
  OFPP_FLOOD,
  OFPP_IN_PORT,
  OFPP_LOCAL,
  OFPP_NORMAL,
} from './fields.js';

export type Action =
  /** Output to an OpenFlow port number, including the reserved ports (NORMAL, FLOOD, ...). */
  | { type: 'output'; port: number }
  /** `reason`/`id`: what `controller(…)` gave besides max_len (kept for dump-flows). */
  | { type: 'controller'; maxLen: number; reason?: string; id?: number }
  /** mod_vlan_vid (push = true: tags an untagged packet, PCP 0) or set_field:…->vlan_vid. */
  | { type: 'set_vlan_vid'; vid: number; push: boolean; text: string }
  | { type: 'set_vlan_pcp'; pcp: number; push: boolean; text: string }
  | { type: 'strip_vlan'; text: string }
  | { type: 'push_vlan'; tpid: number }
  /**
   * Writes masked key words. `of10` actions (mod_nw_src …) are skipped at run time when the packet
   * lacks the field's protocol, as OVS does for OpenFlow 1.0 actions; set_field is checked against
   * the match when the flow is added.
   */
  | {
      type: 'set';
      field: FieldDef;
      words: number[];
      values: number[];
      masks: number[];
      of10: boolean;
      text: string;
      /**
       * A load into a view with unstored bits (NXM_OF_IP_TOS): the subfield and value as written,
       * which OVS keeps and prints (`load:0x3->NXM_OF_IP_TOS[]`) though the low bits write nothing.
       */
      view?: { fd: FieldDef; ofs: number; nBits: number; value: bigint };
    }
  /** `ids`: the controller ids of `dec_ttl(ids)` (NXAST_DEC_TTL_CNT_IDS; no controller here). */
  | { type: 'dec_ttl'; ids?: number[] }
  /** move:SRC[..]->DST[..] (NXAST_REG_MOVE): copies bits at run time. */
  | { type: 'move'; src: Subfield; dst: Subfield; text: string }
  /** output:NXM_NX_REG0[0..15]: output to the port number held in a subfield. */
  | { type: 'output_reg'; src: Subfield; text: string }
  /** Accepted and recorded, no effect on forwarding (note, set_queue, enqueue's queue …). */
  | { type: 'noop'; text: string }
  /** Stops the whole translation (outer resubmits included), keeping what was output. */
  | { type: 'exit' }
  /** Runs `actions` on a copy of the packet; the original continues unchanged afterwards. */
  | { type: 'clone'; actions: Action[] }
  /** Clears the connection-tracking fields (ct_state, ct_zone, ct_mark, ct_label, ct_nw_* …). */
  | { type: 'ct_clear' }
  /** learn(...): adds a flow built from the packet (learn.ts). */
  | LearnAction
  /** ct(...): connection tracking (conntrack.ts), with recirculation when it has a table. */
  | CtAction
  /** `ct`: `resubmit(port,table,ct)`, looked up with the conntrack original-direction tuple. */
  | { type: 'resubmit'; port: number | null; table: number | null; ct?: boolean }
  /** group:N (groups.ts runs it). */
  | { type: 'group'; id: number }
  /** meter:N (the OpenFlow 1.3 meter instruction, first in the list): meters.ts rate-limits. */
  | { type: 'meter'; id: number }
  | { type: 'goto_table'; table: number }
  /** OpenFlow 1.1+ instructions (action-set.ts): add to / empty the action set, write metadata. */
  | { type: 'write_actions'; actions: Action[] }
  | { type: 'clear_actions' }
  /** write_metadata:VALUE[/MASK]: 64-bit metadata (W_METADATA, most significant word first). */
  | { type: 'write_metadata'; value: bigint; mask: bigint }
  /** Clause `clause` (1-based) of conjunction `id` with `nClauses` clauses (conjunction.ts). */
  | ConjunctionAction;

export function formatPort(port: number, names?: (ofport: number) => string | undefined): string {
  switch (port) {
    case OFPP_IN_PORT:
      return 'IN_PORT';
    case OFPP_NORMAL:
      return 'NORMAL';
    case OFPP_FLOOD:
      return 'FLOOD';
    case OFPP_ALL:
      return 'ALL';
    case OFPP_CONTROLLER:
      return 'CONTROLLER';
    case OFPP_LOCAL:
      return 'LOCAL';
    default:
      return names?.(port) ?? String(port);
  }
}

/** One action as `ovs-ofctl dump-flows` (OpenFlow 1.0) prints it. */
export function formatAction(a: Action): string {
  switch (a.type) {
    case 'output':
      if (a.port === OFPP_NORMAL || a.port === OFPP_FLOOD || a.port === OFPP_ALL || a.port === OFPP_LOCAL || a.port === OFPP_IN_PORT) {
        return formatPort(a.port);
      }
      return `output:${a.port}`;
    case 'controller':
      return `CONTROLLER:${a.maxLen}`;
    case 'set_vlan_vid':
    case 'set_vlan_pcp':
    case 'strip_vlan':
    case 'set':
      return a.text;
    case 'push_vlan':
      return `push_vlan:0x${a.tpid.toString(16)}`;
    case 'dec_ttl':
      return a.ids && a.ids.length > 0 ? `dec_ttl(${a.ids.join(',')})` : 'dec_ttl';
    case 'move':
    case 'output_reg':
    case 'noop':
      return a.text;
    case 'exit':
      return 'exit';
    case 'learn':
      return a.text;
    case 'ct_clear':
      return 'ct_clear';
    case 'ct':
      return formatCt(a);
    case 'clone':
      return `clone(${a.actions.map(formatAction).join(',')})`;
    case 'resubmit':
      return `resubmit(${a.port === null ? '' : formatPort(a.port)},${a.table === null ? '' : a.table}${a.ct ? ',ct' : ''})`;
    case 'group':
      return `group:${a.id}`;
    case 'meter':
      return `meter:${a.id}`;
    case 'conjunction':
      return `conjunction(${a.id},${a.clause}/${a.nClauses})`;
    case 'goto_table':
      // An OpenFlow 1.0 dump shows goto_table as resubmit (oracle README).
      return `resubmit(,${a.table})`;
    case 'write_actions':
      return `write_actions(${a.actions.map(formatAction).join(',')})`;
    case 'clear_actions':
      return 'clear_actions';
    case 'write_metadata':
      return formatWriteMetadata(a.value, a.mask);
  }
}

/** format_WRITE_METADATA (lib/ofp-actions.c): `%#"PRIx64`, so zero prints as `0`; the mask only when not all-ones. */
export function formatWriteMetadata(value: bigint, mask: bigint): string {
  const hex = (v: bigint): string => (v === 0n ? '0' : `0x${v.toString(16)}`);
  return `write_metadata:${hex(value)}${mask === 0xffff_ffff_ffff_ffffn ? '' : `/${hex(mask)}`}`;
}

export function formatActions(actions: readonly Action[]): string {
  return actions.length === 0 ? 'drop' : actions.map(formatAction).join(',');
}
