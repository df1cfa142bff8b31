/**
 * The MAC learning table of a NORMAL bridge, after Open vSwitch `lib/mac-learning.c`.
 *
 * - Key (VLAN, MAC); value the OpenFlow port it was last seen on.
 * - Every learn pushes the entry's expiry to `agingNs` after this frame. Its place in the LRU
 *   lists moves only when it is at least a whole second old: OVS keeps MAC-table time in whole
 *   seconds and skips the update of an entry seen again on the same port within the same second
 *   (`is_mac_learning_update_needed`: `mac_entry_age() != 0`), so a burst of frames does not
 *   reorder the LRU lists (the OVS differential suite checks the eviction order this gives).
 *   Deliberate difference: OVS would also leave the expiry alone for that second, so its entries
 *   can age out up to a second earlier; vfab ages with nanosecond precision. Lookups do not
 *   refresh. Expired entries are invisible and are swept lazily.
 * - Bounded: at `maxEntries` a new entry evicts, like `evict_mac_entry_fairly()`, the least
 *   recently used entry *of the port that holds the most entries*, so one flooding port cannot
 *   push everyone else out.
 * - Each port's entries live in a Map in LRU order (delete + set = move to the back), the same
 *   idea as lru-cache, kept per port because eviction picks the port first.
 */

export interface MacEntry {
  mac: number;
  vlan: number;
  port: number;
  /** Whole second (virtual time) the entry last moved in the LRU lists, as OVS `time_now()`. */
  updatedS: number;
  expiresNs: number;
  /** Global LRU sequence (higher = more recent), for fdb/show ordering. */
  used: number;
}

export type LearnResult = 'new' | 'moved' | 'refreshed';

const NS_PER_S = 1_000_000_000;

export interface MacTableOptions {
  agingNs: number;
  maxEntries: number;
}

export class MacTable {
  private byVlan = new Map<number, Map<number, MacEntry>>();
  private byPort = new Map<number, Map<MacEntry, true>>();
  private n = 0;
  private useSeq = 0;
  /** Bumped whenever a forwarding decision may change (new, moved, expired, evicted, flushed). */
  generation = 0;
  /** Entries evicted because the table was full. */
  evictions = 0;

  constructor(readonly opts: MacTableOptions) {}

  get size(): number {
    return this.n;
  }

  private get(mac: number, vlan: number): MacEntry | undefined {
    return this.byVlan.get(vlan)?.get(mac);
  }

  /** The entry for (mac, vlan), live or not yet swept (for `refresh`). */
  peek(mac: number, vlan: number): MacEntry | undefined {
    return this.get(mac, vlan);
  }

  /**
   * The common case of `learn` without its lookups: `e` (an entry `peek` returned earlier) is
   * still in the table and live, on `port`, and already moved in the LRU lists this second, so
   * learning it again only pushes its expiry (a 'refreshed' learn). Returns false, changing
   * nothing, in every other case: the caller then calls `learn`.
   */
  refresh(e: MacEntry, port: number, nowNs: number): boolean {
    // A deleted entry has updatedS -1 (see delete), which no nowS equals.
    if (e.port !== port || nowNs >= e.expiresNs || Math.floor(nowNs / NS_PER_S) !== e.updatedS) return false;
    e.expiresNs = nowNs + this.opts.agingNs;
    return true;
  }

  /** Expiry of the entry the last successful `lookup` found (a cached decision that used it is
   *  valid only until then: entries age out silently, without bumping `generation`). */
  lastFoundExpiresNs = Infinity;

  /** Port for (mac, vlan), or -1 when unknown or aged out. */
  lookup(mac: number, vlan: number, nowNs: number): number {
    const e = this.get(mac, vlan);
    if (e === undefined) return -1;
    if (nowNs >= e.expiresNs) {
      this.delete(e);
      this.generation++;
      return -1;
    }
    this.lastFoundExpiresNs = e.expiresNs;
    return e.port;
  }

  /**
   * Learns that `mac` in `vlan` is on `port`. Returns what happened and, for a move, the old port.
   */
  learn(mac: number, vlan: number, port: number, nowNs: number): { result: LearnResult; from: number } {
    let e = this.get(mac, vlan);
    if (e !== undefined && nowNs >= e.expiresNs) {
      this.delete(e);
      this.generation++;
      e = undefined;
    }
    const nowS = Math.floor(nowNs / NS_PER_S);
    const expires = nowNs + this.opts.agingNs;
    if (e === undefined) {
      if (this.n >= this.opts.maxEntries) {
        this.sweep(nowNs);
        if (this.n >= this.opts.maxEntries) this.evictFairly();
      }
      e = { mac, vlan, port, updatedS: nowS, expiresNs: expires, used: ++this.useSeq };
      let m = this.byVlan.get(vlan);
      if (!m) {
        m = new Map();
        this.byVlan.set(vlan, m);
      }
      m.set(mac, e);
      this.portMap(port).set(e, true);
      this.n++;
      this.generation++;
      return { result: 'new', from: -1 };
    }
    e.expiresNs = expires;
    if (e.port === port && nowS === e.updatedS) return { result: 'refreshed', from: port };
    e.updatedS = nowS;
    e.used = ++this.useSeq;
    if (e.port !== port) {
      const from = e.port;
      this.byPort.get(from)?.delete(e);
      e.port = port;
      this.portMap(port).set(e, true);
      this.generation++;
      return { result: 'moved', from };
    }
    const pm = this.portMap(port);
    pm.delete(e);
    pm.set(e, true);
    return { result: 'refreshed', from: port };
  }

  private portMap(port: number): Map<MacEntry, true> {
    let pm = this.byPort.get(port);
    if (!pm) {
      pm = new Map();
      this.byPort.set(port, pm);
    }
    return pm;
  }

  private delete(e: MacEntry): void {
    const m = this.byVlan.get(e.vlan);
    if (m?.get(e.mac) !== e) return;
    // Marks it gone for `refresh`, which holds entries without looking them up.
    e.updatedS = -1;
    m.delete(e.mac);
    if (m.size === 0) this.byVlan.delete(e.vlan);
    const pm = this.byPort.get(e.port);
    pm?.delete(e);
    if (pm && pm.size === 0) this.byPort.delete(e.port);
    this.n--;
  }

  /** `evict_mac_entry_fairly`: the LRU entry of the port with the most entries. */
  private evictFairly(): void {
    let worst: Map<MacEntry, true> | undefined;
    let worstPort = Infinity;
    for (const [port, pm] of this.byPort) {
      if (!worst || pm.size > worst.size || (pm.size === worst.size && port < worstPort)) {
        worst = pm;
        worstPort = port;
      }
    }
    const victim = worst?.keys().next().value;
    if (victim !== undefined) {
      this.delete(victim);
      this.evictions++;
      this.generation++;
    }
  }

  /** Removes aged-out entries. */
  sweep(nowNs: number): void {
    let removed = false;
    for (const m of [...this.byVlan.values()]) {
      for (const e of [...m.values()]) {
        if (nowNs >= e.expiresNs) {
          this.delete(e);
          removed = true;
        }
      }
    }
    if (removed) this.generation++;
  }

  /** Forgets every entry on `port` (port removed), or everything. */
  flush(port?: number): void {
    for (const m of [...this.byVlan.values()]) {
      for (const e of [...m.values()]) if (port === undefined || e.port === port) this.delete(e);
    }
    this.generation++;
  }

  /** Live entries, least recently used first (the order `ovs-appctl fdb/show` prints). */
  entries(nowNs: number): MacEntry[] {
    this.sweep(nowNs);
    const all: MacEntry[] = [];
    for (const m of this.byVlan.values()) for (const e of m.values()) all.push(e);
    return all.sort((a, b) => a.used - b.used);
  }

  /** Entries per port (for tests and the summary). */
  countByPort(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [p, pm] of this.byPort) out.set(p, pm.size);
    return out;
  }
}
