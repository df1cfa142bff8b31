/**
 * `ovs-ofctl dump-flows` text (lib/ofp-flow.c `ofputil_flow_stats_format`, utilities/ovs-ofctl.c
 * `ofctl_dump_flows__`), with `--no-stats`, `--names` and `-O` as ovs-ofctl has them:
 * - with statistics and without `--names`, ovs-ofctl prints the switch's reply as it comes,
 *   under its header line (`NXST_FLOW reply (xid=0x4):` for OpenFlow 1.0,
 *   `OFPST_FLOW reply (OF1.3) (xid=0x2):` for 1.1+); with `--names` or `--no-stats` it prints
 *   the flows alone;
 * - `--no-stats` drops duration, counters and ages, and prints `cookie=`/`table=` only when
 *   non-zero;
 * - `idle_age`/`hard_age` exist only in the Nicira (OpenFlow 1.0) reply; `hard_age` only when it
 *   differs from the duration (a flow `learn` refreshed);
 * - flow flags come back only in OpenFlow 1.1+ replies; a flow added over OpenFlow 1.0 carries
 *   `reset_counts` (OpenFlow 1.0 adds always reset the counters), a learned flow does not;
 * Durations and ages are virtual time. Flows are listed by table, then priority (highest first),
 * then the order they were added; OVS lists a table in its classifier's hash order, which
 * changes from run to run (docs/flows.md).
 */
import { formatMatch } from './match-format.js';
import type { FlowRule } from './flow-table.js';
import type { OfVersion } from './flow-syntax.js';
import { formatOfpacts } from './ofpact-format.js';

export interface DumpFlowsOptions {
  nowNs: number;
  /** The version the flows were added with (the bridge's `protocols`). */
  added: OfVersion;
  /** `-O`: the dump's version (default: `added`). */
  version?: OfVersion;
  /** `--no-stats`. */
  noStats?: boolean;
  /** `--names`: port number to name (unnamed ports print as numbers). */
  names?: (ofport: number) => string | undefined;
}

const NS_PER_S = 1_000_000_000;

/**
 * `ofp_print_duration` (lib/ofp-print.c): seconds, then milliseconds (truncated; OVS keeps
 * millisecond precision) only when there are any: `2s`, `2.012s`.
 */
function duration(ns: number): string {
  const s = Math.floor(ns / NS_PER_S);
  const ms = Math.floor((ns % NS_PER_S) / 1_000_000);
  return ms === 0 ? `${s}s` : `${s}.${String(ms).padStart(3, '0')}s`;
}

/** The reply header ovs-ofctl prints before the flows (`ofp_to_string` of the stats reply). */
export function dumpFlowsHeader(version: OfVersion): string {
  return version === 10 ? 'NXST_FLOW reply (xid=0x4):' : `OFPST_FLOW reply (OF1.${version - 10}) (xid=0x2):`;
}

export function formatFlowLine(r: FlowRule, o: DumpFlowsOptions): string {
  const version = o.version ?? o.added;
  const stats = !o.noStats;
  let s = ' ';
  if (stats || r.cookie !== 0n) s += `cookie=0x${r.cookie.toString(16)}, `;
  if (stats) s += `duration=${duration(o.nowNs - r.createdNs)}, `;
  if (stats || r.table !== 0) s += `table=${r.table}, `;
  if (stats) s += `n_packets=${r.nPackets}, n_bytes=${r.nBytes}, `;
  if (r.idleTimeout) s += `idle_timeout=${r.idleTimeout}, `;
  if (r.hardTimeout) s += `hard_timeout=${r.hardTimeout}, `;
  if (version >= 11) {
    // ofputil_flow_mod_flags_format: each flag name and a space.
    if (r.sendFlowRem) s += 'send_flow_rem ';
    // A learned flow's flow_mod carries no flags but send_flow_rem (learn_execute), whatever
    // version the bridge speaks; a flow a learn replaced keeps the old flags (replace_rule_start).
    if (o.added === 10 && r.learnSig === undefined) s += 'reset_counts ';
  }
  if (stats && version === 10) {
    const durS = Math.floor((o.nowNs - r.createdNs) / NS_PER_S);
    s += `idle_age=${Math.floor((o.nowNs - r.lastUsedNs) / NS_PER_S)}, `;
    const hardAge = Math.floor((o.nowNs - r.modifiedNs) / NS_PER_S);
    if (hardAge !== durS) s += `hard_age=${hardAge}, `;
  }
  const names = o.names;
  const match = formatMatch(r.value, r.mask, names);
  const m = r.priority !== 32768 ? `priority=${r.priority}${match ? `,${match}` : ''}` : match;
  if (m) s += `${m} `;
  return `${s}actions=${formatOfpacts(r.actions, { added: o.added, version, names })}`;
}

/**
 * A flow's match and actions as dump-flows spells them (canonical field order and names, OVS's
 * number forms), without priority and statistics: what `vfab flows --json` adds beside the text
 * the flow was written with.
 */
export function canonicalFlow(r: FlowRule, o: Pick<DumpFlowsOptions, 'added' | 'version' | 'names'>): { match: string; actions: string } {
  const version = o.version ?? o.added;
  return { match: formatMatch(r.value, r.mask, o.names), actions: formatOfpacts(r.actions, { added: o.added, version, names: o.names }) };
}

/** The whole dump, newline-terminated. */
export function dumpFlows(rules: readonly FlowRule[], o: DumpFlowsOptions): string {
  const lines = rules.map((r) => formatFlowLine(r, o));
  if (!o.noStats && !o.names) lines.unshift(dumpFlowsHeader(o.version ?? o.added));
  return lines.length ? `${lines.join('\n')}\n` : '';
}
