/**
 * Linux's per-destination ICMP error rate limit (`icmpv4_xrlim_allow` → `inet_peer_xrlim_allow`,
 * net/ipv4/icmp.c, net/ipv4/inetpeer.c): a token bucket per destination holding up to
 * XRLIM_BURST_FACTOR (6) × icmp_ratelimit (1 s) of credit, one icmp_ratelimit spent per error. A new
 * peer starts as if last seen 60 s ago (`rate_last = jiffies - 60*HZ`), so its first 6 errors pass at
 * once, then one per second. Applies to the types in icmp_ratemask (default 0x1818: destination
 * unreachable, source quench, time exceeded, parameter problem). Time is simulation time, so the
 * limit is deterministic. The global icmp_msgs_per_sec limit is not modelled.
 */
export const ICMP_RATELIMIT_NS = 1_000_000_000;
const BURST_FACTOR = 6;
const NEW_PEER_AGE_NS = 60_000_000_000;
/** inet_peer table bound (vfab's; Linux bounds it by memory). */
const MAX_PEERS = 4096;

export class IcmpRateLimit {
  private readonly peers = new Map<number, { tokens: number; last: number }>();
  /** Errors suppressed so far. */
  suppressed = 0;
  /** The last destination asked about and its bucket (most errors go to the same peer). */
  private lastDst = -1;
  private lastPeer: { tokens: number; last: number } | undefined = undefined;

  /** May an ICMP error of `type` go to `dst` at `now`? Spends a token when it may. */
  allow(dst: number, type: number, now: number): boolean {
    if (((1 << type) & 0x1818) === 0) return true;
    let p = dst === this.lastDst ? this.lastPeer : this.peers.get(dst);
    if (p === undefined) {
      if (this.peers.size >= MAX_PEERS) this.peers.clear();
      p = { tokens: 0, last: now - NEW_PEER_AGE_NS };
      this.peers.set(dst, p);
    }
    this.lastDst = dst;
    this.lastPeer = p;
    let token = p.tokens + (now - p.last);
    p.last = now;
    if (token > BURST_FACTOR * ICMP_RATELIMIT_NS) token = BURST_FACTOR * ICMP_RATELIMIT_NS;
    let ok = false;
    if (token >= ICMP_RATELIMIT_NS) {
      token -= ICMP_RATELIMIT_NS;
      ok = true;
    }
    p.tokens = token;
    if (!ok) this.suppressed++;
    return ok;
  }
}
