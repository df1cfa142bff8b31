/**
 * traceroute (the classic UDP mode of Linux `traceroute`): probes to UDP port 33434 + n with TTL
 * 1, 2, … one at a time; a router whose TTL check fails answers ICMP time exceeded (that hop's
 * address), the destination answers port unreachable (done). A probe with no answer within
 * `waitNs` is a `*` hop. Each hop sends `queries` probes (default 1; Linux uses 3); the first
 * answer names the hop. Ends at the destination, at an unreachable other than port, or after
 * `maxHops` (default 30, Linux's -m). Answers are matched to probes by the quoted UDP destination
 * port, as traceroute does.
 */
import type { EventId } from '../sim/queue.js';
import { formatIpv4 } from '../wire/ip.js';
import type { GuestStack } from './stack.js';

export interface TracerouteOptions {
  dst: number;
  maxHops?: number;
  waitNs?: number;
  queries?: number;
}

export interface TracerouteHop {
  ttl: number;
  /** Address that answered, or null (`*`). */
  ip: string | null;
  rtt_ns: number | null;
  /** ICMP type/code of the answer (11/0 time exceeded, 3/3 port unreachable, …). */
  icmp: string | null;
}

export interface TracerouteResult {
  app: 'traceroute';
  src: string;
  dst: string;
  reached: boolean;
  hops: TracerouteHop[];
}

export interface TracerouteApp {
  result(): TracerouteResult;
}

const BASE_PORT = 33434;

export function startTraceroute(stack: GuestStack, opts: TracerouteOptions): TracerouteApp {
  const sim = stack.sim;
  const maxHops = opts.maxHops ?? 30;
  const waitNs = opts.waitNs ?? 1_000_000_000;
  const queries = opts.queries ?? 1;
  const sport = stack.allocatePort();
  const hops: TracerouteHop[] = [];
  let reached = false;
  let done = false;
  let probe = 0;
  let ttl = 0;
  let q = 0;
  let sentAt = 0;
  let timer: EventId | null = null;
  let answered = false;

  const next = (): void => {
    if (done) return;
    if (hops.length === 0 || q >= queries || answered) {
      const last = hops[hops.length - 1];
      if (last !== undefined && (reached || (last.icmp !== null && last.icmp !== '11/0'))) return finish();
      if (ttl >= maxHops) return finish();
      ttl++;
      q = 0;
      answered = false;
      hops.push({ ttl, ip: null, rtt_ns: null, icmp: null });
    }
    q++;
    probe++;
    sentAt = sim.now;
    stack.sendUdp(opts.dst, sport, BASE_PORT + probe - 1, new Uint8Array(32), ttl);
    timer = sim.schedule(waitNs, () => {
      timer = null;
      next();
    });
  };
  const finish = (): void => {
    done = true;
    timer?.cancel();
  };
  stack.onIcmpError((e) => {
    if (done || e.quote.length < 28 || e.quote[9] !== 17) return;
    const ihl = (e.quote[0]! & 0x0f) * 4;
    if (e.quote.length < ihl + 4) return;
    const qs = (e.quote[ihl]! << 8) | e.quote[ihl + 1]!;
    const qd = (e.quote[ihl + 2]! << 8) | e.quote[ihl + 3]!;
    if (qs !== sport || qd !== BASE_PORT + probe - 1) return;
    const hop = hops[hops.length - 1];
    if (hop === undefined) return;
    if (hop.ip === null) {
      hop.ip = formatIpv4(e.srcIp);
      hop.rtt_ns = e.timeNs - sentAt;
      hop.icmp = `${e.type}/${e.code}`;
    }
    if (e.type === 3 && e.code === 3 && e.srcIp === opts.dst) reached = true;
    answered = true;
    timer?.cancel();
    timer = null;
    next();
  });
  timer = sim.schedule(0, next);
  return {
    result: () => ({ app: 'traceroute', src: stack.name, dst: formatIpv4(opts.dst), reached, hops: hops.map((h) => ({ ...h })) }),
  };
}
