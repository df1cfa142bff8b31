/**
 * IPv6 neighbour cache for Neighbor Discovery (RFC 4861 §7): Linux runs the same neighbour state
 * machine for ND (`nd_tbl`) as for ARP, with the same defaults (retrans 1 s, 3 multicast
 * solicitations, reachable 30 s, delay 5 s), so this wraps `guest/neighbor.ts` rather than copying
 * it. The table keys entries by number: addresses are interned to small ids (bounded: the table
 * itself holds at most `maxEntries`; ids are never reused, and the intern map is capped at
 * `MAX_IDS`, after which a new address is refused like a full table).
 */
import type { Simulation } from '../sim/simulation.js';
import { DEFAULT_NEIGHBOR_OPTIONS, NeighborTable, type PendingTx } from '../guest/neighbor.js';
import type { Ipv6Words } from '../wire/ip.js';
import { ipv6Key } from '../wire/ipv6-frame.js';

const MAX_IDS = 65536;

export interface Neighbor6Io {
  /** Send an NS for `target`: multicast when `unicastMac` is null, else a unicast NUD probe. */
  solicit(target: Ipv6Words, unicastMac: number | null): void;
  drop(reason: string, n: number): void;
  failed(target: Ipv6Words): void;
}

export class Neighbor6Table {
  private readonly table: NeighborTable;
  private readonly ids = new Map<string, number>();
  private readonly addrs: Ipv6Words[] = [[0, 0, 0, 0]];

  constructor(sim: Simulation, io: Neighbor6Io) {
    this.table = new NeighborTable(sim, DEFAULT_NEIGHBOR_OPTIONS, {
      sendRequest: (id, unicastMac) => io.solicit(this.addrs[id]!, unicastMac),
      drop: (reason, n) => io.drop(reason, n),
      failed: (id) => io.failed(this.addrs[id]!),
    });
  }

  private id(a: Ipv6Words, create: boolean): number | undefined {
    const k = ipv6Key(a);
    let id = this.ids.get(k);
    if (id === undefined && create && this.addrs.length < MAX_IDS) {
      id = this.addrs.length;
      this.addrs.push([a[0], a[1], a[2], a[3]]);
      this.ids.set(k, id);
    }
    return id;
  }

  usableMac(a: Ipv6Words): number | undefined {
    const id = this.id(a, false);
    return id === undefined ? undefined : this.table.usableMac(id);
  }

  resolve(a: Ipv6Words, tx: PendingTx): boolean {
    const id = this.id(a, true);
    if (id === undefined) return false;
    this.table.resolve(id, tx);
    return true;
  }

  /** ndisc_recv_ns / ndisc_recv_na: `confirmed` = a solicited NA (REACHABLE), else STALE. */
  learn(a: Ipv6Words, mac: number, confirmed: boolean, create: boolean): void {
    const id = this.id(a, create);
    if (id !== undefined) this.table.learn(id, mac, confirmed, create);
  }
}
