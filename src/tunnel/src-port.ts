/**
 * The outer UDP source port of a tunnel packet, computed once per inner flow.
 *
 * What: the source port is Linux's `udp_flow_src_port` mapping of a seeded hash of the inner flow
 * (`innerHash`: the IPv4 five-tuple when the inner frame has one, else the MAC addresses and
 * EtherType), so ECMP in the underlay spreads tunnels by inner flow (RFC 7348 §5).
 * `SourcePortCache` remembers the port of recent flow keys in a small direct-mapped table, so the
 * packets of a flow after its first skip the four hash rounds and the range mapping.
 *
 * Invariants: a cached port equals `udpFlowSrcPort(innerHash(seed, frame))` for every frame. The
 * port is a pure function of the port's seed (fixed at construction) and the four-word flow key,
 * and an entry is used only when its stored key equals the frame's key word for word (the slot
 * index is never trusted), so nothing ever needs invalidating; a colliding flow just overwrites
 * the slot. test/tunnel/src-port.test.ts checks cache on ≡ cache off property-wise.
 * Costs: reading the key (as the uncached hash does), one slot mix, four compares; memory: 64
 * slots of five 32-bit words per tunnel port.
 */
import { flowHash } from '../router/routes.js';
import { udpFlowSrcPort } from '../wire/vxlan.js';

/**
 * Writes the flow key of inner frame `f` to `out` as the four words `flowHash` mixes (as int32):
 * source, destination, protocol (EtherType when not IPv4), and the L4 ports (sport << 16 | dport).
 */
export function innerFlowKey(f: Uint8Array, out: Int32Array): void {
  if (f.length >= 34 && f[12] === 0x08 && f[13] === 0x00) {
    const ihl = (f[14]! & 0x0f) * 4;
    const proto = f[23]!;
    const l4 = 14 + ihl;
    const ports = (proto === 6 || proto === 17) && f.length >= l4 + 4;
    out[0] = (f[26]! << 24) | (f[27]! << 16) | (f[28]! << 8) | f[29]!;
    out[1] = (f[30]! << 24) | (f[31]! << 16) | (f[32]! << 8) | f[33]!;
    out[2] = proto;
    out[3] = ports ? (f[l4]! << 24) | (f[l4 + 1]! << 16) | (f[l4 + 2]! << 8) | f[l4 + 3]! : 0;
    return;
  }
  // Not IPv4: destination MAC's first four bytes, source MAC's first four, EtherType, and the
  // last two bytes of each MAC (the words the hash has always mixed for such frames).
  out[0] = (f[0]! << 24) | (f[1]! << 16) | (f[2]! << 8) | f[3]!;
  out[1] = (f[6]! << 24) | (f[7]! << 16) | (f[8]! << 8) | f[9]!;
  out[2] = (f[4]! << 8) | f[5]!;
  out[3] = (f[10]! << 24) | (f[11]! << 16);
}

const scratch = new Int32Array(4);

function keyHash(seed: number, k: Int32Array): number {
  return flowHash(seed, k[0]!, k[1]!, k[2]!, k[3]! >>> 16, k[3]! & 0xffff);
}

/** Hash of the inner flow: the IPv4 five-tuple when there is one, else the MAC addresses. */
export function innerHash(seed: number, f: Uint8Array): number {
  innerFlowKey(f, scratch);
  return keyHash(seed, scratch);
}

const SLOTS = 64;

/** The outer source port per inner flow key, for one seed (one tunnel port). */
export class SourcePortCache {
  /** Flow keys, four words per slot. */
  private readonly keys = new Int32Array(SLOTS * 4);
  /** The port of each slot's key; 0 = empty (ports are ≥ 32768). */
  private readonly ports = new Int32Array(SLOTS);
  private readonly key = new Int32Array(4);
  hits = 0;
  misses = 0;

  constructor(private readonly seed: number) {}

  /** `udpFlowSrcPort(innerHash(seed, f))`. */
  portOf(f: Uint8Array): number {
    const k = this.key;
    innerFlowKey(f, k);
    const a = k[0]!;
    const b = k[1]!;
    const c = k[2]!;
    const d = k[3]!;
    // A cheap spread of the key over the slots; the whole key is compared below.
    let s = a ^ Math.imul(b, 0x9e3779b1) ^ Math.imul(c ^ d, 0x85ebca6b);
    s = (s ^ (s >>> 15) ^ (s >>> 26)) & (SLOTS - 1);
    const i = s * 4;
    const keys = this.keys;
    const cached = this.ports[s]!;
    if (cached !== 0 && keys[i] === a && keys[i + 1] === b && keys[i + 2] === c && keys[i + 3] === d) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const port = udpFlowSrcPort(keyHash(this.seed, k));
    keys[i] = a;
    keys[i + 1] = b;
    keys[i + 2] = c;
    keys[i + 3] = d;
    this.ports[s] = port;
    return port;
  }
}
