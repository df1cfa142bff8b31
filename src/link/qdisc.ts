/**
 * Queue disciplines for a link direction besides the plain tail-drop FIFO (which `link.ts` keeps
 * on its allocation-free fast path): FQ-CoDel (RFC 8290, Linux's default qdisc) and RED
 * (RFC 2309 / Floyd & Jacobson 1993, Linux `sch_red`).
 *
 * Contract: `enqueue` takes a frame or returns a drop reason; `dequeue` returns the next frame
 * to serialize (or null) and may drop or ECN-mark on the way (CoDel drops at dequeue). Drops
 * and marks are counted per reason. Everything is bounded (`limit` packets, `memoryLimit` bytes).
 *
 * FQ-CoDel (`net/sched/sch_fq_codel.c`): flows hashed on the 5-tuple into 1024 buckets; deficit
 * round robin with `quantum` bytes (default the link MTU + 14) between a new-flows and an
 * old-flows list; CoDel (RFC 8289) per flow with target 5 ms and interval 100 ms; ECN marking
 * instead of dropping for ECT packets (Linux fq_codel has `ecn` on by default); when the
 * packet limit (10240) is hit, packets are dropped from the head of the fattest flow
 * (`fq_codel_drop`, one at a time here rather than Linux's batch of up to 64).
 *
 * RED: average queue (bytes) by EWMA with weight 2^-9 (Linux's default Wlog 9 for typical
 * settings), early drop/mark with probability rising linearly from 0 at `min` to `probability`
 * at `max` (spread out by the count since the last drop, as in the paper), forced drop above
 * `max` or at the hard `limit`.
 */
import type { Frame } from '../port/port.js';
import type { Prng } from '../sim/prng.js';
import { fold, sumBytes } from '../wire/checksum.js';

export type QdiscKind = 'fifo' | 'fq_codel' | 'red';

export interface QdiscConfig {
  kind: QdiscKind;
  /** Packets (fq_codel default 10240; red: hard limit in packets, default 1000). */
  limit?: number;
  /** fq_codel */
  targetNs?: number;
  intervalNs?: number;
  quantum?: number;
  flows?: number;
  ecn?: boolean;
  /** red thresholds in bytes and max probability */
  minBytes?: number;
  maxBytes?: number;
  probability?: number;
}

/** Called for every frame a qdisc drops, with the reason (counted at the sending port). */
export type DropHook = (frame: Frame, reason: string) => void;

export interface Qdisc {
  /** Queues the frame (or drops it, or another one, through the drop hook). */
  enqueue(frame: Frame, now: number): void;
  dequeue(now: number): Frame | null;
  readonly length: number;
  readonly drops: Record<string, number>;
  readonly marks: number;
}

interface Pkt {
  f: Frame;
  t: number;
}

/** Sets ECN CE on an IPv4 ECT frame (a copy; fixes the header checksum). Null when not ECN-capable. */
export function markCe(f: Frame): Frame | null {
  let o = 14;
  let type = (f[12]! << 8) | f[13]!;
  if (type === 0x8100 && f.length >= 18) {
    type = (f[16]! << 8) | f[17]!;
    o = 18;
  }
  if (type !== 0x0800 || f.length < o + 20) return null;
  const ecn = f[o + 1]! & 3;
  if (ecn === 0) return null;
  if (ecn === 3) return f;
  const c = f.slice();
  c[o + 1] = c[o + 1]! | 3;
  c[o + 10] = 0;
  c[o + 11] = 0;
  const sum = ~fold(sumBytes(c, o, o + (c[o]! & 0x0f) * 4)) & 0xffff;
  c[o + 10] = sum >>> 8;
  c[o + 11] = sum & 0xff;
  return c;
}

/** 5-tuple hash of an IPv4 frame (other frames share bucket 0). */
function flowHash(f: Frame, buckets: number): number {
  if (f.length < 34 || f[12] !== 0x08 || f[13] !== 0x00) return 0;
  let h = 2166136261;
  const mix = (b: number): void => {
    h = Math.imul(h ^ b, 16777619);
  };
  for (let i = 26; i < 34; i++) mix(f[i]!);
  mix(f[23]!);
  const ihl = (f[14]! & 0x0f) * 4;
  const l4 = 14 + ihl;
  if ((f[23] === 6 || f[23] === 17) && f.length >= l4 + 4) for (let i = l4; i < l4 + 4; i++) mix(f[i]!);
  return (h >>> 0) % buckets;
}

class CodelFlow {
  q: Pkt[] = [];
  head = 0;
  bytes = 0;
  deficit = 0;
  active: 'new' | 'old' | null = null;
  // CoDel state (RFC 8289 §5)
  firstAboveTime = 0;
  dropNext = 0;
  count = 0;
  lastCount = 0;
  dropping = false;
  get len(): number {
    return this.q.length - this.head;
  }
  push(p: Pkt): void {
    this.q.push(p);
    this.bytes += p.f.length;
  }
  pop(): Pkt | undefined {
    if (this.head >= this.q.length) return undefined;
    const p = this.q[this.head++]!;
    this.bytes -= p.f.length;
    if (this.head > 64 && this.head * 2 > this.q.length) {
      this.q = this.q.slice(this.head);
      this.head = 0;
    }
    return p;
  }
}

export class FqCodel implements Qdisc {
  readonly drops: Record<string, number> = {};
  marks = 0;
  length = 0;
  private readonly flows: CodelFlow[];
  private readonly newFlows: CodelFlow[] = [];
  private readonly oldFlows: CodelFlow[] = [];
  private readonly limit: number;
  private readonly target: number;
  private readonly interval: number;
  private readonly quantum: number;
  private readonly ecn: boolean;
  private readonly mtu: number;

  constructor(cfg: QdiscConfig, mtu: number, private readonly onDrop: DropHook) {
    this.limit = cfg.limit ?? 10240;
    this.target = cfg.targetNs ?? 5_000_000;
    this.interval = cfg.intervalNs ?? 100_000_000;
    this.quantum = cfg.quantum ?? mtu + 14;
    this.ecn = cfg.ecn ?? true;
    this.mtu = mtu + 14;
    this.flows = Array.from({ length: cfg.flows ?? 1024 }, () => new CodelFlow());
  }

  private drop(f: Frame, reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    this.onDrop(f, reason);
  }

  enqueue(f: Frame, now: number): void {
    const fl = this.flows[flowHash(f, this.flows.length)]!;
    fl.push({ f, t: now });
    this.length++;
    if (fl.active === null) {
      fl.active = 'new';
      fl.deficit = this.quantum;
      this.newFlows.push(fl);
    }
    if (this.length > this.limit) {
      // fq_codel_drop: from the head of the fattest flow.
      let fat = fl;
      for (const x of this.flows) if (x.bytes > fat.bytes) fat = x;
      const victim = fat.pop()!;
      this.length--;
      this.drop(victim.f, 'fq-overlimit');
    }
  }

  private shouldDrop(fl: CodelFlow, p: Pkt, now: number): boolean {
    const sojourn = now - p.t;
    if (sojourn < this.target || fl.bytes <= this.mtu) {
      fl.firstAboveTime = 0;
      return false;
    }
    if (fl.firstAboveTime === 0) {
      fl.firstAboveTime = now + this.interval;
      return false;
    }
    return now >= fl.firstAboveTime;
  }

  private controlLaw(t: number, count: number): number {
    return t + Math.round(this.interval / Math.sqrt(count));
  }

  /** Drops or marks `p`; returns the packet to send instead of it (marked copy) or null (dropped). */
  private signal(p: Pkt): Frame | null {
    if (this.ecn) {
      const m = markCe(p.f);
      if (m !== null) {
        this.marks++;
        return m;
      }
    }
    this.drop(p.f, 'codel');
    return null;
  }

  /** RFC 8289 dequeue for one flow. */
  private codelDequeue(fl: CodelFlow, now: number): Frame | null {
    let p = fl.pop();
    if (p === undefined) {
      fl.firstAboveTime = 0;
      return null;
    }
    this.length--;
    let okToDrop = this.shouldDrop(fl, p, now);
    if (fl.dropping) {
      if (!okToDrop) fl.dropping = false;
      else {
        while (now >= fl.dropNext && fl.dropping) {
          fl.count++;
          const sent = this.signal(p);
          if (sent !== null) {
            fl.dropNext = this.controlLaw(fl.dropNext, fl.count);
            return sent;
          }
          p = fl.pop();
          if (p === undefined) {
            fl.dropping = false;
            return null;
          }
          this.length--;
          okToDrop = this.shouldDrop(fl, p, now);
          if (!okToDrop) fl.dropping = false;
          else fl.dropNext = this.controlLaw(fl.dropNext, fl.count);
        }
      }
    } else if (okToDrop) {
      const delta = fl.count - fl.lastCount;
      fl.count = delta > 1 && now - fl.dropNext < 16 * this.interval ? delta : 1;
      fl.lastCount = fl.count;
      fl.dropNext = this.controlLaw(now, fl.count);
      fl.dropping = true;
      const sent = this.signal(p);
      if (sent !== null) return sent;
      p = fl.pop();
      if (p === undefined) return null;
      this.length--;
    }
    return p.f;
  }

  dequeue(now: number): Frame | null {
    for (;;) {
      const list = this.newFlows.length > 0 ? this.newFlows : this.oldFlows;
      const fl = list[0];
      if (fl === undefined) return null;
      if (fl.deficit <= 0) {
        fl.deficit += this.quantum;
        list.shift();
        fl.active = 'old';
        this.oldFlows.push(fl);
        continue;
      }
      const f = this.codelDequeue(fl, now);
      if (f === null) {
        list.shift();
        // RFC 8290 §4.2: an emptied new flow moves to the old list (to prevent starvation).
        if (list === this.newFlows && this.oldFlows.length > 0) {
          fl.active = 'old';
          this.oldFlows.push(fl);
        } else fl.active = null;
        continue;
      }
      fl.deficit -= f.length;
      return f;
    }
  }
}

export class Red implements Qdisc {
  readonly drops: Record<string, number> = {};
  marks = 0;
  private q: Frame[] = [];
  private head = 0;
  private bytes = 0;
  private avg = 0;
  private countSince = -1;
  private idleSince = 0;
  private readonly limit: number;
  private readonly min: number;
  private readonly max: number;
  private readonly maxP: number;
  private readonly ecn: boolean;

  constructor(cfg: QdiscConfig, mtu: number, private readonly prng: Prng, private readonly txNsPerByte: number, private readonly onDrop: DropHook) {
    this.limit = cfg.limit ?? 1000;
    this.max = cfg.maxBytes ?? Math.round((this.limit * (mtu + 14)) / 2);
    this.min = cfg.minBytes ?? Math.round(this.max / 3);
    this.maxP = cfg.probability ?? 0.02;
    this.ecn = cfg.ecn ?? false;
  }

  get length(): number {
    return this.q.length - this.head;
  }

  private drop(f: Frame, reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    this.onDrop(f, reason);
  }

  enqueue(f: Frame, now: number): void {
    const w = 1 / 512;
    if (this.length === 0 && this.idleSince > 0) {
      // Floyd's idle correction: the average decays as if m small packets had been sent.
      const m = Math.floor((now - this.idleSince) / Math.max(1, this.txNsPerByte * 1000));
      this.avg *= (1 - w) ** m;
    }
    this.avg = (1 - w) * this.avg + w * this.bytes;
    if (this.length >= this.limit) return this.drop(f, 'red-limit');
    let signal: 'early' | 'forced' | null = null;
    if (this.avg >= this.max) signal = 'forced';
    else if (this.avg >= this.min) {
      this.countSince++;
      const pb = (this.maxP * (this.avg - this.min)) / (this.max - this.min);
      const pa = pb / Math.max(1e-9, 1 - this.countSince * pb);
      if (this.countSince > 0 && this.prng.float() < pa) signal = 'early';
    } else this.countSince = -1;
    if (signal !== null) {
      this.countSince = 0;
      const m = this.ecn ? markCe(f) : null;
      if (m === null) return this.drop(f, `red-${signal}`);
      this.marks++;
      f = m;
    }
    this.q.push(f);
    this.bytes += f.length;
  }

  dequeue(now: number): Frame | null {
    if (this.head >= this.q.length) {
      this.idleSince = now;
      return null;
    }
    const f = this.q[this.head++]!;
    this.bytes -= f.length;
    if (this.head > 64 && this.head * 2 > this.q.length) {
      this.q = this.q.slice(this.head);
      this.head = 0;
    }
    if (this.head >= this.q.length) this.idleSince = now;
    return f;
  }
}
