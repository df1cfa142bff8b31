/**
 * Open vSwitch's hash functions, bit for bit, so a select group picks the bucket OVS picks.
 *
 * OVS hashes with a Murmur3-style mix (`lib/hash.h`, the generic path Debian's x86-64 build uses:
 * no SSE4.2 CRC32). Words are read from memory as little-endian `uint32_t`, so a header field
 * stored in network order (an IPv4 address, a TCP port) enters the hash byte-swapped; the
 * helpers below take the field bytes in network order and do that read themselves.
 *
 * All functions return unsigned 32-bit integers.
 */

function rot(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** `mhash_add` (lib/hash.h): a zero `data` word leaves the hash unmixed before the rotate. */
export function hashAdd(hash: number, data: number): number {
  let h = hash >>> 0;
  if (data !== 0) {
    let d = Math.imul(data, 0xcc9e2d51);
    d = rot(d >>> 0, 15);
    d = Math.imul(d, 0x1b873593);
    h = (h ^ d) >>> 0;
  }
  h = rot(h, 13);
  return (Math.imul(h, 5) + 0xe6546b64) >>> 0;
}

/** `hash_finish(hash, final)` = `mhash_finish(hash ^ final)`. */
export function hashFinish(hash: number, final: number): number {
  let h = (hash ^ final) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** `hash_int(x, basis)` = `hash_2words(x, basis)`. */
export function hashInt(x: number, basis: number): number {
  return hashFinish(hashAdd(hashAdd(x >>> 0, 0), basis >>> 0), 8);
}

/** `hash_uint64(x)` (basis 0): low word first. */
export function hashUint64(x: bigint): number {
  const lo = Number(x & 0xffffffffn);
  const hi = Number((x >> 32n) & 0xffffffffn);
  return hashFinish(hashAdd(hashAdd(0, lo), hi), 8);
}

/** Little-endian 32-bit read of `b[i..i+3]` (missing bytes are 0). */
function le32(b: ArrayLike<number>, i: number): number {
  return ((b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16) | ((b[i + 3] ?? 0) << 24)) >>> 0;
}

/** `hash_bytes(p, n, basis)` (lib/hash.c): 4-byte words, a zero-padded tail, length folded in. */
export function hashBytes(b: ArrayLike<number>, basis: number): number {
  let h = basis >>> 0;
  const n = b.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) h = hashAdd(h, le32(b, i));
  if (i < n) h = hashAdd(h, le32(Array.from({ length: n - i }, (_, k) => b[i + k]!), 0));
  return hashFinish(h, n);
}

/** A network-order 32-bit value as OVS reads it from memory (byte-swapped on little-endian). */
export function be32(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | ((x >>> 24) & 0xff)) >>> 0;
}

/** A network-order 16-bit value as OVS reads it from memory. */
export function be16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}

/** What `flow_hash_symmetric_l3l4` reads from a packet; IPv6 addresses as 4 host-order words. */
export interface HashFlow {
  dlType: number;
  nwSrc: number;
  nwDst: number;
  ipv6Src: ArrayLike<number>;
  ipv6Dst: ArrayLike<number>;
  nwProto: number;
  /** OVS nw_frag: non-zero for a fragment (its ports are not hashed). */
  nwFrag: number;
  tpSrc: number;
  tpDst: number;
  /** dl_src/dl_dst as 48-bit numbers, the outer VLAN TCI (0 if untagged), the inner TCI. */
  dlSrc: number;
  dlDst: number;
  vlanTci: number;
  innerTci: number;
}

function macBytes(m: number): number[] {
  const hi = Math.floor(m / 0x1_0000_0000);
  const lo = m >>> 0;
  return [(hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff];
}

/** `flow_hash_symmetric_l2` (lib/flow.c): Ethernet addresses XOR-ed, VLAN IDs, EtherType. */
export function hashSymmetricL2(f: HashFlow, basis: number): number {
  const s = macBytes(f.dlSrc);
  const d = macBytes(f.dlDst);
  const ea = s.map((x, i) => x ^ d[i]!);
  const vid = (f.vlanTci ^ f.innerTci) & 0x0fff;
  // struct { be16 eth_type; be16 vlan_tci; eth_addr; be16 pad } read as three LE words.
  const w0 = (be16(f.dlType) | (be16(vid) << 16)) >>> 0;
  let h = basis >>> 0;
  h = hashAdd(h, w0);
  h = hashAdd(h, le32(ea, 0));
  h = hashAdd(h, le32([ea[4]!, ea[5]!, 0, 0], 0));
  return hashFinish(h, basis);
}

/**
 * `flow_hash_symmetric_l3l4(flow, basis, inc_udp_ports=false)` (lib/flow.c): the datapath's
 * `hash(sym_l4(basis))` action (lib/odp-execute.c, OVS_HASH_ALG_SYM_L4), which a select group
 * without a `selection_method` uses (ofproto-dpif.c `group_set_selection_method`: dp_hash).
 */
export function hashSymmetricL3L4(f: HashFlow, basis: number): number {
  let h = basis >>> 0;
  if (f.dlType === 0x0800) h = hashAdd(h, be32((f.nwSrc ^ f.nwDst) >>> 0));
  else if (f.dlType === 0x86dd) {
    // Two 64-bit XORs read as little-endian uint64 (hash_add64: low half, then high half).
    for (let q = 0; q < 4; q++) h = hashAdd(h, be32(((f.ipv6Src[q] ?? 0) ^ (f.ipv6Dst[q] ?? 0)) >>> 0));
  } else return hashSymmetricL2(f, basis);
  h = hashAdd(h, f.nwProto & 0xff);
  if (f.nwFrag === 0 && (f.nwProto === 6 || f.nwProto === 132)) h = hashAdd(h, be16((f.tpSrc ^ f.tpDst) & 0xffff));
  return hashFinish(h, basis);
}
