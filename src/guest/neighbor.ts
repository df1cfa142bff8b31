/**
 * The guest's ARP cache: a small model of Linux's neighbour state machine (`net/core/neighbour.c`,
 * `net/ipv4/arp.c`).
 *
 * States: INCOMPLETE (request sent, packets queued) → REACHABLE (confirmed by a reply) → STALE
 * (reachable time passed, or learned from a request/gratuitous ARP; still used) → DELAY (used while
 * stale; waits delay_first_probe_time, 5 s) → PROBE (unicast requests until confirmed) → deleted
 * after `probes` unanswered requests. An
 * INCOMPLETE entry that gets no reply after `probes` broadcast requests, `retransNs` apart, fails:
 * its queued packets are dropped (`arp-failed`) and the entry is removed, so the next packet starts
 * a new resolution, as Linux does after NUD_FAILED.
 *
 * Defaults follow Linux's `arp_tbl` parms: retrans_time 1 s, mcast_solicit = ucast_solicit = 3,
 * base_reachable_time 30 s (Linux randomises it to 15–45 s; vfab uses the base value so runs are
 * reproducible), and a bounded unresolved queue that drops the *oldest* packet when full
 * (`__neigh_event_send`, SKB_DROP_REASON_NEIGH_QUEUEFULL); Linux bounds it by bytes
 * (unres_qlen_bytes), vfab by packets (default 101, the packet figure Linux reports for it).
 * Deliberate difference: Linux also confirms neighbours from upper layers (TCP ACKs); vfab has no
 * TCP, so only ARP replies confirm.
 */
import type { EventId } from '../sim/queue.js';
import type { Simulation } from '../sim/simulation.js';

export type NeighborState = 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe';

/** A packet waiting for resolution: called with the resolved MAC. */
export type PendingTx = (dstMac: number) => void;

export interface NeighborOptions {
  retransNs: number;
  probes: number;
  reachableNs: number;
  queueLen: number;
  /** Table size limit (Linux gc_thresh3 = 1024). */
  maxEntries: number;
  /** Linux delay_first_probe_time (5 s): how long a used STALE entry waits before probing. */
  delayFirstProbeNs: number;
}

export const DEFAULT_NEIGHBOR_OPTIONS: NeighborOptions = {
  retransNs: 1_000_000_000,
  probes: 3,
  reachableNs: 30_000_000_000,
  queueLen: 101,
  maxEntries: 1024,
  delayFirstProbeNs: 5_000_000_000,
};

interface Entry {
  ip: number;
  mac: number;
  state: NeighborState;
  probesSent: number;
  confirmedNs: number;
  timer: EventId | null;
  queue: PendingTx[];
}

export interface NeighborIo {
  /** Send an ARP request for `ip`: broadcast when `unicastMac` is null, else unicast (probe). */
  sendRequest(ip: number, unicastMac: number | null): void;
  /** Count `n` packets dropped for `reason`. */
  drop(reason: string, n: number): void;
  /** Resolution of `ip` failed. */
  failed(ip: number): void;
}

export interface NeighborSnapshot {
  ip: number;
  mac: number;
  state: NeighborState;
}

export class NeighborTable {
  /**
   * Entries by address as an int32 (`ip | 0`): addresses above 127.255.255.255 are then small
   * integers, not heap numbers, so a per-packet lookup neither boxes nor hashes a double. Entries
   * keep the address as given (`Entry.ip`); iteration order is insertion order either way.
   */
  private map = new Map<number, Entry>();

  constructor(
    private readonly sim: Simulation,
    private readonly opts: NeighborOptions,
    private readonly io: NeighborIo,
  ) {}

  /** Sends through `tx` now if `ip` is resolved, else queues it and resolves. */
  /**
   * The MAC `resolve()` would transmit to right now without changing any state (a fresh REACHABLE
   * entry, or DELAY/PROBE, which Linux also sends to), else undefined: then call `resolve()`.
   * A fast path for forwarding code that would otherwise allocate a callback per packet.
   */
  usableMac(ip: number): number | undefined {
    const e = this.map.get(ip | 0);
    if (e === undefined) return undefined;
    if (e.state === 'reachable' ? this.sim.now - e.confirmedNs < this.opts.reachableNs : e.state === 'delay' || e.state === 'probe') return e.mac;
    return undefined;
  }

  resolve(ip: number, tx: PendingTx): void {
    let e = this.map.get(ip | 0);
    if (e === undefined) {
      if (this.map.size >= this.opts.maxEntries && !this.evictOne()) {
        this.io.drop('neigh-table-full', 1);
        return;
      }
      e = { ip, mac: 0, state: 'incomplete', probesSent: 0, confirmedNs: 0, timer: null, queue: [] };
      this.map.set(ip | 0, e);
      this.enqueue(e, tx);
      this.solicit(e);
      return;
    }
    if (e.state === 'incomplete') {
      this.enqueue(e, tx);
      return;
    }
    if (e.state === 'reachable' && this.sim.now - e.confirmedNs >= this.opts.reachableNs) e.state = 'stale';
    if (e.state === 'stale') {
      e.state = 'delay';
      e.probesSent = 0;
      const entry = e;
      e.timer?.cancel();
      e.timer = this.sim.schedule(this.opts.delayFirstProbeNs, () => {
        entry.timer = null;
        if (this.map.get(entry.ip | 0) !== entry || entry.state !== 'delay') return;
        entry.state = 'probe';
        this.solicit(entry);
      });
    }
    tx(e.mac);
  }

  /**
   * Updates the cache from a received ARP packet (Linux `arp_process`). `confirmed` = a reply
   * addressed to us (→ REACHABLE); otherwise (a request for us, a gratuitous ARP) the entry becomes
   * STALE. `create` = make an entry when none exists (only requests for our address do, as Linux with
   * arp_accept=0).
   */
  learn(ip: number, mac: number, confirmed: boolean, create: boolean): void {
    let e = this.map.get(ip | 0);
    if (e === undefined) {
      if (!create) return;
      if (this.map.size >= this.opts.maxEntries && !this.evictOne()) return;
      e = { ip, mac, state: 'stale', probesSent: 0, confirmedNs: 0, timer: null, queue: [] };
      this.map.set(ip | 0, e);
    }
    const sameMac = e.mac === mac;
    e.mac = mac;
    if (confirmed) {
      e.state = 'reachable';
      e.confirmedNs = this.sim.now;
    } else if (e.state === 'incomplete' || !sameMac) {
      // A new or changed address is not yet confirmed (neigh_update with NUD_STALE); the same
      // address leaves the state alone.
      e.state = 'stale';
    }
    const settled = (e.state as NeighborState) === 'reachable' || (e.state as NeighborState) === 'stale';
    if (settled && e.timer) {
      e.timer.cancel();
      e.timer = null;
    }
    const q = e.queue;
    if (q.length > 0) {
      e.queue = [];
      for (const tx of q) tx(mac);
    }
  }

  lookup(ip: number): NeighborSnapshot | undefined {
    const e = this.map.get(ip | 0);
    return e ? { ip: e.ip, mac: e.mac, state: e.state } : undefined;
  }

  entries(): NeighborSnapshot[] {
    return [...this.map.values()].sort((a, b) => a.ip - b.ip).map((e) => ({ ip: e.ip, mac: e.mac, state: e.state }));
  }

  get size(): number {
    return this.map.size;
  }

  private enqueue(e: Entry, tx: PendingTx): void {
    if (e.queue.length >= this.opts.queueLen) {
      e.queue.shift();
      this.io.drop('arp-queue-full', 1);
    }
    e.queue.push(tx);
  }

  private solicit(e: Entry): void {
    e.probesSent++;
    this.io.sendRequest(e.ip, e.state === 'probe' ? e.mac : null);
    e.timer?.cancel();
    e.timer = this.sim.schedule(this.opts.retransNs, () => this.onTimer(e));
  }

  private onTimer(e: Entry): void {
    e.timer = null;
    if (this.map.get(e.ip | 0) !== e) return;
    if (e.state !== 'incomplete' && e.state !== 'probe') return;
    if (e.probesSent < this.opts.probes) {
      this.solicit(e);
      return;
    }
    this.map.delete(e.ip | 0);
    if (e.queue.length > 0) this.io.drop('arp-failed', e.queue.length);
    e.queue = [];
    this.io.failed(e.ip);
  }

  /** Frees a slot by removing the oldest non-incomplete entry (neigh_forced_gc). */
  private evictOne(): boolean {
    for (const [ip, e] of this.map) {
      if (e.state !== 'incomplete') {
        e.timer?.cancel();
        this.map.delete(ip | 0);
        return true;
      }
    }
    return false;
  }
}
