/**
 * The OpenFlow 1.1+ action set (OpenFlow 1.3 §5.10): what `write_actions(...)` accumulates and
 * `clear_actions` empties during a pipeline, executed once when the pipeline ends, in the
 * specification's order rather than the order written.
 *
 * Follows Open vSwitch 3.1:
 * - lib/ofp-actions.c `ofpacts_execute_action_set`: of the "slot" actions (strip_vlan/pop_vlan,
 *   push_vlan, dec_ttl; MPLS and encap slots vfab does not model) only the last written counts,
 *   in that order; then every set/move action (set_field, load, move, mod_*, set_queue) in the
 *   order written; then one "final" action, the last of the highest class among ct < ct_clear <
 *   resubmit < output < group (so a group wins over an output). Without a final action nothing
 *   runs: modifying a packet that goes nowhere is pointless.
 * - `action_set_classify`: anything else (controller, note, learn, clone, exit …) is not allowed
 *   in an action set; the switch refuses such a flow (OFPBAC_BAD_TYPE, "disallowed action in
 *   action set"), so the parser refuses it too (`actionSetDisallowed`).
 * - ofproto/ofproto-dpif-xlate.c `xlate_write_actions__`: `actset_output` follows the set: the
 *   port of the last output written, until a group is written (then unset for good, until
 *   `clear_actions`).
 *
 * Costs: the action set is only built for flows that use it; executing it is one pass over the
 * set. Pipelines without `write_actions` pay one array-length check at the end.
 */
import type { Action } from './actions.js';

/** `actset_output` when the set has no output (OVS OFPP_UNSET): vfab keeps the word at 0. */
export const ACTSET_OUTPUT_UNSET = 0;

/** Slot order of the actions of which only the last instance counts. */
const SLOTS = ['strip_vlan', 'push_vlan', 'dec_ttl'] as const;

/** ACTION_SET_FINAL_PRIORITY: higher wins; the later one wins within a class. */
function finalClass(a: Action): number {
  switch (a.type) {
    case 'ct':
      return 1;
    case 'ct_clear':
      return 2;
    case 'resubmit':
      return 3;
    case 'output':
      return 4;
    case 'group':
      return 5;
    default:
      return 0;
  }
}

function isSetOrMove(a: Action): boolean {
  switch (a.type) {
    case 'set':
    case 'set_vlan_vid':
    case 'set_vlan_pcp':
    case 'move':
      return true;
    case 'noop':
      return a.text.startsWith('set_queue:');
    default:
      return false;
  }
}

/** The first action of `actions` an action set may not hold (action_set_classify: ACTION_SLOT_INVALID), if any. */
export function actionSetDisallowed(actions: readonly Action[]): Action | undefined {
  return actions.find((a) => finalClass(a) === 0 && !isSetOrMove(a) && !(SLOTS as readonly string[]).includes(a.type));
}

/** `ofpacts_execute_action_set`: the action list an action set runs as. */
export function actionSetExecutionOrder(set: readonly Action[]): Action[] {
  const slots: (Action | undefined)[] = [undefined, undefined, undefined];
  const sets: Action[] = [];
  let final: Action | undefined;
  let finalCls = 0;
  for (const a of set) {
    const slot = (SLOTS as readonly string[]).indexOf(a.type);
    if (slot >= 0) slots[slot] = a;
    else if (isSetOrMove(a)) sets.push(a);
    else {
      const c = finalClass(a);
      if (c > 0 && c >= finalCls) {
        final = a;
        finalCls = c;
      }
    }
  }
  if (final === undefined) return [];
  const out: Action[] = [];
  for (const s of slots) if (s !== undefined) out.push(s);
  out.push(...sets, final);
  return out;
}

/**
 * `xlate_write_actions__`: the `actset_output` after writing `written` into a set that had
 * `hasGroup`: returns the new value (or null: unchanged) and whether the set now has a group.
 */
export function actsetOutputAfterWrite(written: readonly Action[], hasGroup: boolean): { output: number | null; hasGroup: boolean } {
  let output: number | null = null;
  if (hasGroup) return { output, hasGroup };
  for (const a of written) {
    if (a.type === 'output') output = a.port;
    else if (a.type === 'group') return { output: ACTSET_OUTPUT_UNSET, hasGroup: true };
  }
  return { output, hasGroup: false };
}
