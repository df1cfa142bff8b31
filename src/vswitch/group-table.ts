/**
 * A bridge's group and meter tables: group_mod / meter_mod semantics (ofproto/ofproto.c
 * `add_group_start`, `modify_group_start`, `delete_groups_start`, `handle_meter_mod`), statistics
 * and the `dump-groups` / `dump-group-stats` / `dump-meters` texts.
 *
 * Invariants: both tables are bounded (MAX_GROUPS, MAX_METERS); `generation` changes whenever a
 * group changes, so the bridge's exact-match cache (which holds translations that ran buckets)
 * is invalidated. Meters need no generation: they run after translation, per packet.
 */
import { UserError } from '../errors.js';
import { setSelectionMethod, type Group } from './group.js';
import { MAX_GROUPS, OFPG_ALL, formatGroup, groupDumpHeader, type ParsedGroupMod } from './group-parser.js';
import { MAX_METERS, Meter, formatMeter, meterDumpHeader, type ParsedMeterMod } from './meter.js';

const NS_PER_S = 1_000_000_000;

function duration(nowNs: number, sinceNs: number): string {
  return `${((nowNs - sinceNs) / NS_PER_S).toFixed(3)}s`;
}

export class GroupTable {
  readonly groups = new Map<number, Group>();
  generation = 0;

  get(id: number): Group | undefined {
    return this.groups.get(id);
  }

  /**
   * Applies a group_mod. Returns the ids of groups deleted (the bridge deletes the flows that
   * output to them, as OVS does). Errors use OVS's OFPGMFC_* names.
   */
  apply(gm: ParsedGroupMod, nowNs: number): number[] {
    const where = `${gm.location.file}:${gm.location.line}:${gm.location.col}`;
    if (gm.command === 'delete') {
      const ids = gm.id === OFPG_ALL ? [...this.groups.keys()] : this.groups.has(gm.id) ? [gm.id] : [];
      for (const id of ids) this.groups.delete(id);
      if (ids.length) this.generation++;
      return ids;
    }
    if (gm.id === OFPG_ALL) throw new UserError('GROUP_BAD_VALUE', 'group_id=all is only for deleting groups (OFPGMFC_INVALID_GROUP)', { where });
    const exists = this.groups.has(gm.id);
    if (gm.command === 'add' && exists) throw new UserError('GROUP_EXISTS', `group ${gm.id} already exists (OFPGMFC_GROUP_EXISTS)`, { where });
    if (gm.command === 'modify' && !exists) throw new UserError('GROUP_UNKNOWN', `group ${gm.id} does not exist (OFPGMFC_UNKNOWN_GROUP)`, { where });
    if (!exists && this.groups.size >= MAX_GROUPS) throw new UserError('GROUP_TOO_MANY', `more than ${MAX_GROUPS} groups (OFPGMFC_OUT_OF_GROUPS)`, { where });
    for (const b of gm.buckets) {
      if (b.watchGroup !== 0xffffffff && b.watchGroup === gm.id) throw new UserError('GROUP_LOOP', `group ${gm.id} watches itself (OFPGMFC_WATCH_UNSUPPORTED)`, { where });
    }
    const g: Group = {
      id: gm.id,
      type: gm.type,
      buckets: gm.buckets.map((b) => ({ ...b, nPackets: 0, nBytes: 0 })),
      selectionMethod: gm.selectionMethod,
      selectionParam: gm.selectionParam,
      fields: gm.fields,
      hashMap: null,
      createdNs: exists ? this.groups.get(gm.id)!.createdNs : nowNs,
      nPackets: 0,
      nBytes: 0,
    };
    setSelectionMethod(g);
    this.groups.set(g.id, g);
    this.generation++;
    return [];
  }

  /** Credits one packet of `bytes` to group hits recorded by a translation. */
  credit(hits: readonly unknown[], bytes: number): void {
    for (let i = 0; i < hits.length; i += 2) {
      const g = hits[i] as Group;
      const b = hits[i + 1] as Group['buckets'][number] | null;
      g.nPackets++;
      g.nBytes += bytes;
      if (b) {
        b.nPackets++;
        b.nBytes += bytes;
      } else {
        for (const x of g.buckets) {
          x.nPackets++;
          x.nBytes += bytes;
        }
      }
    }
  }

  /** `ovs-ofctl dump-groups` (groups in id order; OVS prints them in hash order). */
  dump(version: number): string {
    const lines = [groupDumpHeader(version)];
    for (const g of this.sorted()) lines.push(` ${formatGroup(g, version)}`);
    return `${lines.join('\n')}\n`;
  }

  /** `ovs-ofctl dump-group-stats` (virtual time durations). */
  dumpStats(version: number, nowNs: number, refCount: (id: number) => number): string {
    const lines = [`OFPST_GROUP reply (OF1.${Math.max(version, 13) - 10}) (xid=0x2):`];
    for (const g of this.sorted()) {
      let s = ` group_id=${g.id},duration=${duration(nowNs, g.createdNs)},ref_count=${refCount(g.id)},packet_count=${g.nPackets},byte_count=${g.nBytes}`;
      g.buckets.forEach((b, i) => (s += `,bucket${i}:packet_count=${b.nPackets},byte_count=${b.nBytes}`));
      lines.push(s);
    }
    return `${lines.join('\n')}\n`;
  }

  private sorted(): Group[] {
    return [...this.groups.values()].sort((a, b) => a.id - b.id);
  }
}

export class MeterTable {
  readonly meters = new Map<number, Meter>();

  get(id: number): Meter | undefined {
    return this.meters.get(id);
  }

  /** Applies a meter_mod; returns the ids deleted. A modify restarts the meter's buckets. */
  apply(mm: ParsedMeterMod, nowNs: number): number[] {
    const where = `${mm.location.file}:${mm.location.line}:${mm.location.col}`;
    const exists = this.meters.has(mm.id);
    if (mm.command === 'delete') {
      if (!exists) return [];
      this.meters.delete(mm.id);
      return [mm.id];
    }
    if (mm.command === 'add' && exists) throw new UserError('METER_EXISTS', `meter ${mm.id} already exists (OFPMMFC_METER_EXISTS)`, { where });
    if (mm.command === 'modify' && !exists) throw new UserError('METER_UNKNOWN', `meter ${mm.id} does not exist (OFPMMFC_UNKNOWN_METER)`, { where });
    if (!exists && this.meters.size >= MAX_METERS) throw new UserError('METER_TOO_MANY', `more than ${MAX_METERS} meters (OFPMMFC_OUT_OF_METERS)`, { where });
    this.meters.set(mm.id, new Meter(mm, nowNs));
    return [];
  }

  /** `ovs-ofctl -O OpenFlow13 dump-meters`. */
  dump(version: number): string {
    const parts = [meterDumpHeader(version)];
    for (const m of [...this.meters.values()].sort((a, b) => a.id - b.id)) parts.push(`${formatMeter(m.config)}\n`);
    return `${parts.join('\n')}\n`;
  }

  /** `ovs-ofctl -O OpenFlow13 meter-stats`. */
  dumpStats(version: number, nowNs: number, flowCount: (id: number) => number): string {
    const lines = [`OFPST_METER reply (OF1.${Math.max(version, 13) - 10}) (xid=0x2):`];
    for (const m of [...this.meters.values()].sort((a, b) => a.id - b.id)) {
      let s = `meter:${m.id} flow_count:${flowCount(m.id)} packet_in_count:${m.nPackets} byte_in_count:${m.nBytes} duration:${duration(nowNs, m.createdNs)} bands:`;
      m.bands.forEach((b, i) => (s += `\n${i}: packet_count:${b.nPackets} byte_count:${b.nBytes}`));
      lines.push(s);
    }
    return `${lines.join('\n')}\n`;
  }
}
