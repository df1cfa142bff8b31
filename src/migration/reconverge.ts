/**
 * MAC re-convergence after a migration: when did every MAC table in the fabric stop pointing at
 * the VM's old location?
 *
 * Definition used for `reconverged_ns` (docs/migration.md):
 * - While the VM is paused, just before the switchover, take a snapshot of every table (bridge or
 *   physical switch) that holds an entry for one of the VM's (MAC, VLAN) pairs. Tables without an
 *   entry do not matter: they flood, and the flood reaches the new location. Entries the
 *   switchover itself removes (the source bridge forgets the MACs of the tap that went away) count
 *   as converged at resume ("flushed").
 * - After resume, a table is converged for a MAC at the first instant it **receives a frame sourced
 *   from that MAC** (the VM's RARP/GARP/NA or any frame it sends: NORMAL learning moves or refreshes
 *   the entry on the ingress port, `lib/mac-learning.c` `mac_learning_insert`/`update`), or when a
 *   `mac_move` event reports it, whichever comes first. If the ingress port equals the old entry's
 *   port the entry was already right (e.g. a third host that reaches both hypervisors through the
 *   same uplink) and it counts as converged at resume.
 * - A table that never hears from the MAC stays stale until its entry ages out or is evicted; such
 *   tables are re-checked at the entry's expiry time (`expiresAt`), on every
 *   `mac_age`/`mac_expire`/`mac_flush`/`mac_evict` event, and at the end of the run (`finish()`);
 *   an entry found gone counts as converged at that moment ("aged"). When the table cannot say
 *   when its entry expires and it is found gone only at the end, its time is unknown and
 *   `reconverged_ns` stays null.
 * - `reconverged_ns` = the latest per-(table, MAC) convergence time, or null while any remains
 *   stale (the summary then says "not reconverged by the end of the run").
 */
import type { EventId, Simulation } from '../sim/index.js';
import type { Port } from '../port/port.js';
import type { FabricEvent } from '../port/nic.js';
import { formatMac, isValidMac, parseMac } from '../wire/mac.js';

/** A MAC-learning table as the tracker sees it (an OVS bridge or a physical switch). */
export interface MacTableView {
  readonly name: string;
  /** The table's ports (their rx hooks tell where frames from the VM arrive). */
  readonly ports: readonly Port[];
  /** Port path the table would forward `mac` to in `vlan`, or null if it has no (live) entry. */
  lookup(mac: number, vlan: number): string | null;
  /**
   * When the entry for (mac, vlan) expires if nothing refreshes it (OVS `mac_entry.expires`), or
   * null without one. Lets the tracker time silent aging exactly; without it aging is only noticed
   * at the end of the run (and reported without a time).
   */
  expiresAt?(mac: number, vlan: number): number | null;
}

export interface TrackedMac {
  mac: number;
  /** The VLAN the fabric learns this MAC in (access tag, or 0 untagged). */
  vlan: number;
}

export interface TableConvergence {
  table: string;
  /** `02:00:00:00:00:02`. */
  mac: string;
  vlan: number;
  old_port: string;
  new_port: string | null;
  /** When the table pointed at the new location (null = still stale). */
  at_ns: number | null;
  /**
   * moved: learned the new location; unchanged: the old entry was already right; aged: forgotten
   * (expiry, eviction); flushed: forgotten at switchover (the source tap went away); stale: still
   * pointing at the old location.
   */
  how: 'moved' | 'unchanged' | 'aged' | 'flushed' | 'stale';
}

interface Entry extends Omit<TableConvergence, 'mac'> {
  mac: number;
  tableView: MacTableView;
}

export class ReconvergenceTracker {
  private entries: Entry[] = [];
  private unhooks: Array<() => void> = [];
  private timers: EventId[] = [];
  private resumeNs = 0;
  private armed = false;

  constructor(
    private readonly sim: Simulation,
    private readonly macs: readonly TrackedMac[],
    private readonly tables: () => readonly MacTableView[],
  ) {}

  private snapped = false;

  /**
   * Records which tables know the VM's MACs and where. Call while the VM is paused, before the
   * switchover (unplugging the source tap may flush its entries, as OVS does for a deleted port).
   */
  snapshot(): void {
    if (this.snapped) return;
    this.snapped = true;
    for (const t of this.tables()) {
      for (const m of this.macs) {
        const old = t.lookup(m.mac, m.vlan);
        if (old === null) continue;
        this.entries.push({ table: t.name, mac: m.mac, vlan: m.vlan, old_port: old, new_port: null, at_ns: null, how: 'stale', tableView: t });
      }
    }
  }

  /**
   * Call at resume (before the first announce leaves): entries the switchover already removed
   * count as converged now ("flushed": the table floods, which reaches the new location); the
   * rest are watched.
   */
  arm(): void {
    if (this.armed) return;
    this.snapshot();
    this.armed = true;
    this.resumeNs = this.sim.now;
    this.recheck('flushed');
    const byTable = new Map<MacTableView, Entry[]>();
    for (const e of this.entries) {
      if (e.at_ns !== null) continue;
      const list = byTable.get(e.tableView) ?? [];
      list.push(e);
      byTable.set(e.tableView, list);
    }
    for (const [t, mine] of byTable) {
      for (const e of mine) this.armExpiry(e);
      for (const p of t.ports) {
        this.unhooks.push(
          p.onFrame((port, dir, frame) => {
            if (dir !== 'rx' || frame.length < 12) return;
            const src = readMac(frame, 6);
            for (const e of mine) {
              if (e.at_ns !== null || e.mac !== src) continue;
              this.settle(e, port.path, port.path === e.old_port ? 'unchanged' : 'moved');
            }
          }),
        );
      }
    }
  }

  /** Feed fabric events (`mac_move`, `mac_age`, …). */
  onEvent(ev: FabricEvent): void {
    if (!this.armed) return;
    if (ev.type === 'mac_move') {
      // The vswitch reports MACs as text (`02:00:00:00:00:02`); accept a 48-bit number too.
      const raw = ev['mac'];
      const mac = typeof raw === 'number' ? raw : typeof raw === 'string' && isValidMac(raw) ? parseMac(raw) : null;
      for (const e of this.entries) {
        if (e.at_ns !== null || e.table !== ev['bridge'] || e.mac !== mac) continue;
        this.settle(e, String(ev['to']), 'moved');
      }
    } else if (ev.type === 'mac_age' || ev.type === 'mac_expire' || ev.type === 'mac_flush' || ev.type === 'mac_evict') {
      this.recheck();
    }
  }

  /** Entries that are gone (aged/flushed) or pointing elsewhere count as converged now. */
  recheck(gone: 'aged' | 'flushed' = 'aged', atEnd = false): void {
    for (const e of this.entries) {
      if (e.at_ns !== null) continue;
      const now = e.tableView.lookup(e.mac, e.vlan);
      if (now === e.old_port) continue;
      e.new_port = now;
      e.how = now === null ? gone : 'moved';
      // Found gone only at the end with no expiry information: when it happened is unknown.
      e.at_ns = atEnd && e.tableView.expiresAt === undefined ? null : this.sim.now;
      if (e.at_ns === null) e.how = 'aged';
    }
  }

  /** Stops watching (end of run); a last recheck catches silent aging. */
  finish(): void {
    if (this.armed) this.recheck('aged', true);
    for (const u of this.unhooks) u();
    this.unhooks = [];
    for (const t of this.timers) t.cancel();
    this.timers = [];
  }

  private armExpiry(e: Entry): void {
    const at = e.tableView.expiresAt?.(e.mac, e.vlan) ?? null;
    if (at === null || !Number.isFinite(at)) return;
    this.timers.push(
      this.sim.scheduleAt(Math.max(at, this.sim.now), () => {
        if (e.at_ns !== null) return;
        this.recheck();
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- recheck() may set e.at_ns; TS keeps the narrowing across the call
        if (e.at_ns !== null) return;
        // Refreshed meanwhile: wait for the new expiry (never re-arm for the same instant).
        const next = e.tableView.expiresAt?.(e.mac, e.vlan) ?? null;
        if (next !== null && next > this.sim.now) this.armExpiry(e);
      }),
    );
  }

  /** Latest convergence time, or null while any table still points at the old location. */
  get reconvergedNs(): number | null {
    if (!this.armed) return null;
    let last = this.resumeNs;
    for (const e of this.entries) {
      if (e.at_ns === null) return null; // still stale, or aged at an unknown time
      if (e.how !== 'unchanged' && e.at_ns > last) last = e.at_ns;
    }
    return last;
  }

  details(): TableConvergence[] {
    return this.entries.map((e) => ({
      table: e.table,
      mac: formatMac(e.mac),
      vlan: e.vlan,
      old_port: e.old_port,
      new_port: e.new_port,
      at_ns: e.at_ns,
      how: e.how,
    }));
  }

  private settle(e: Entry, port: string, how: 'moved' | 'unchanged'): void {
    e.new_port = port;
    e.how = how;
    e.at_ns = how === 'unchanged' ? this.resumeNs : this.sim.now;
  }
}

function readMac(f: Uint8Array, off: number): number {
  let n = 0;
  for (let i = 0; i < 6; i++) n = n * 256 + f[off + i]!;
  return n;
}
