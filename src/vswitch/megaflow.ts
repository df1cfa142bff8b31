/**
 * Megaflow wildcards for `vfab trace`: a classifier lookup that also records which key bits it
 * examined, the way Open vSwitch's staged lookup does (lib/classifier.c `classifier_lookup__`,
 * `find_match_wc`, `check_tries`, `trie_lookup_value`), so the trace can print the `Megaflow:`
 * line `ofproto/trace` prints.
 *
 * Only traces call this: it is a slow, allocation-happy re-implementation over the same
 * subtables (`Classifier.subtablesInOrder`), and the fast `Classifier.lookup` is untouched.
 *
 * What OVS does, and this follows:
 * - Subtables are visited in priority order while their best rule beats the match so far.
 * - Each subtable's mask is split into stages at the `struct flow` segment boundaries
 *   (include/openvswitch/flow.h FLOW_SEGMENT_*: metadata | L2 from dl_dst | L3 from nw_src | L4
 *   from nd_target); only stages the mask uses count, the last one is the final stage. Before
 *   each stage, the prefix tries (ofproto.c default_prefix_fields: nw_dst, then nw_src) may prove
 *   no rule of this subtable's prefix length can match: then only the trie's examined bits (and
 *   earlier stages) are un-wildcarded. Otherwise, if no rule agrees with the key on the stages so
 *   far, those stages are un-wildcarded and the subtable is left.
 * - A final-stage miss on a subtable that matches L4 ports un-wildcards only the port bits the
 *   subtable's ports trie needed; any other outcome un-wildcards the whole subtable mask.
 *
 * Deliberate simplification: OVS's stage indices are hash counters (a 32-bit collision could
 * make it look one stage further); here stages are checked exactly.
 */
import type { Classifier, ClsRule } from './classifier.js';
import { KEY_WORDS, PACKET_WORDS, W_CT_IPV6_DST, W_CT_IPV6_SRC, W_CT_NW_DST, W_CT_NW_SRC, W_CT_TP_DST, W_CT_TP_SRC, W_DL_DST_HI, W_DL_DST_LO, W_DL_SRC_HI, W_DL_SRC_LO, W_DL_TYPE, W_IN_PORT, W_ND_TARGET, W_NW_DST, W_NW_SRC, W_TP_DST, W_TP_SRC, W_VLAN_TCI, ETH_TYPE_IP } from './fields.js';

/** Key words of each `struct flow` segment (stage), in OVS's order. */
const SEGMENTS: number[][] = (() => {
  const l2 = [W_DL_SRC_HI, W_DL_SRC_LO, W_DL_DST_HI, W_DL_DST_LO, W_DL_TYPE, W_VLAN_TCI];
  const l4: number[] = [];
  for (let i = 0; i < 4; i++) l4.push(W_ND_TARGET + i);
  for (let w = 0; w < PACKET_WORDS; w++) if (w >= 14 && w <= 17) l4.push(w); // arp_sha, arp_tha
  l4.push(26, W_TP_SRC, W_TP_DST, W_CT_TP_SRC, W_CT_TP_DST); // tcp_flags, ports, ct ports
  const meta = [W_IN_PORT];
  for (let w = PACKET_WORDS; w < KEY_WORDS; w++) if (w !== W_CT_NW_SRC && w !== W_CT_NW_DST && w !== W_CT_TP_SRC && w !== W_CT_TP_DST && (w < W_CT_IPV6_SRC || w >= W_CT_IPV6_DST + 4)) meta.push(w);
  const taken = new Set([...meta, ...l2, ...l4]);
  const l3: number[] = [];
  for (let w = 0; w < KEY_WORDS; w++) if (!taken.has(w)) l3.push(w);
  return [meta, l2, l3, l4];
})();
const L3_STAGE = 2;

/** The trie fields, in lookup order (ofproto.c default_prefix_fields). */
const TRIE_WORDS = [W_NW_DST, W_NW_SRC];

function prefixLen(m: number): number {
  const u = m >>> 0;
  if (u === 0) return 0;
  const inv = ~u >>> 0;
  if ((inv & (inv + 1)) !== 0) return 0; // not a CIDR mask: no trie (minimask_get_prefix_len)
  return 32 - Math.log2(inv + 1);
}

function prefixMask(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? -1 : (~0 << (32 - bits)) | 0;
}

function lcp(a: number, b: number): number {
  const x = (a ^ b) >>> 0;
  return x === 0 ? 32 : Math.clz32(x);
}

/**
 * `trie_lookup_value` on a trie holding `prefixes` ((value, plen) pairs): the prefix lengths that
 * match `v`, and how many leading bits the walk examined.
 */
export function trieLookup(prefixes: readonly [number, number][], v: number, nBits = 32): { plens: Set<number>; checkbits: number } {
  const plens = new Set<number>();
  if (prefixes.length === 0) return { plens, checkbits: 0 };
  let m = 0;
  for (const [pv, pl] of prefixes) {
    const l = Math.min(lcp(v, pv), pl);
    if (l > m) m = l;
    if (lcp(v, pv) >= pl) plens.add(pl);
  }
  if (m >= nBits) return { plens, checkbits: nBits };
  // The walk stops at depth m: it examined one more bit if some prefix continues past m there.
  let more = false;
  for (const [pv, pl] of prefixes) if (pl > m && lcp(v, pv) >= m) more = true;
  return { plens, checkbits: more ? m + 1 : m };
}

export interface Sub<R> {
  mask: Int32Array;
  maxPriority: number;
  rules: R[][];
}

/** The lookup's prefix tries (nw_dst, nw_src) over `subs`, each walked once per lookup on demand. */
export function prefixTries<R extends ClsRule>(subs: readonly Sub<R>[], key: Int32Array): (word: number) => { plens: Set<number>; checkbits: number } {
  const trieDone = new Map<number, { plens: Set<number>; checkbits: number }>();
  return (word: number): { plens: Set<number>; checkbits: number } => {
    let t = trieDone.get(word);
    if (t === undefined) {
      if (key[W_DL_TYPE] !== ETH_TYPE_IP) t = { plens: new Set(Array.from({ length: 33 }, (_, i) => i)), checkbits: 0 };
      else {
        const prefixes: [number, number][] = [];
        for (const st of subs) {
          const pl = prefixLen(st.mask[word]!);
          if (pl > 0) for (const list of st.rules) prefixes.push([list[0]!.value[word]!, pl]);
        }
        t = trieLookup(prefixes, key[word]!);
      }
      trieDone.set(word, t);
    }
    return t;
  };
}

/**
 * The rule `cls.lookup(key)` returns under OVS's priority rule, OR-ing into `wc` (a KEY_WORDS
 * mask) every key bit the staged lookup examined.
 */
export function lookupWithWildcards<R extends ClsRule>(cls: Classifier<R>, key: Int32Array, wc: Int32Array): R | null {
  const subs = cls.subtablesInOrder() as readonly Sub<R>[];
  const trie = prefixTries(subs, key);
  let best: R | null = null;
  for (const st of subs) {
    if (best !== null && st.maxPriority <= best.priority) break;
    const r = findMatchWc(st, key, wc, trie);
    if (r !== null && (best === null || r.priority > best.priority)) best = r;
  }
  return best;
}

export function findMatchWc<R extends ClsRule>(st: Sub<R>, key: Int32Array, wc: Int32Array, trie: (w: number) => { plens: Set<number>; checkbits: number }): R | null {
  const mask = st.mask;
  const stages: { seg: number; words: number[] }[] = [];
  SEGMENTS.forEach((seg, i) => {
    const words = seg.filter((w) => mask[w] !== 0);
    if (words.length) stages.push({ seg: i, words });
  });
  const done: number[] = [];
  const fold = (words: readonly number[]): void => {
    for (const w of words) wc[w] = wc[w]! | mask[w]!;
  };
  const checkTries = (seg: number): boolean => {
    if (seg !== L3_STAGE) return false;
    for (const w of TRIE_WORDS) {
      const pl = prefixLen(mask[w]!);
      if (pl === 0) continue;
      const t = trie(w);
      if (t.plens.has(pl)) continue;
      const pm = prefixMask(t.checkbits);
      if (t.checkbits <= pl) {
        wc[w] = wc[w]! | pm;
        return true;
      }
      if ((wc[w]! & pm) === pm) return true;
    }
    return false;
  };
  const entries = st.rules;
  const agrees = (words: readonly number[]): boolean =>
    entries.some((list) => words.every((w) => ((key[w]! & mask[w]!) | 0) === list[0]!.value[w]));
  for (let i = 0; i < stages.length - 1; i++) {
    const s = stages[i]!;
    if (checkTries(s.seg)) {
      fold(done);
      return null;
    }
    done.push(...s.words);
    if (!agrees(done)) {
      fold(done);
      return null;
    }
  }
  const last = stages[stages.length - 1];
  if (last && checkTries(last.seg)) {
    fold(done);
    return null;
  }
  const all = stages.flatMap((s) => s.words);
  const hit = entries.find((list) => all.every((w) => ((key[w]! & mask[w]!) | 0) === list[0]!.value[w]));
  const portsMask = (((mask[W_TP_SRC]! & 0xffff) << 16) | (mask[W_TP_DST]! & 0xffff)) >>> 0;
  if (!hit && portsMask !== 0) {
    // The subtable's ports trie: its rules' masked ports at the ports mask's prefix length.
    const plen = 32 - (portsMask === 0 ? 32 : 31 - Math.clz32(portsMask & -portsMask));
    const ports = (v: Int32Array): number => (((v[W_TP_SRC]! & 0xffff) << 16) | (v[W_TP_DST]! & 0xffff)) & portsMask;
    const t = trieLookup(
      entries.map((list) => [ports(list[0]!.value), plen]),
      ports(key),
    );
    const add = (portsMask & prefixMask(t.checkbits)) >>> 0;
    wc[W_TP_SRC] = wc[W_TP_SRC]! | (add >>> 16);
    wc[W_TP_DST] = wc[W_TP_DST]! | (add & 0xffff);
    fold(done);
    // The final stage's other fields (nd_target, nd_sll/nd_tll, tcp_flags) come out examined in
    // full: OVS 3.1 prints `nd_target=::` / `tcp_flags=-syn` next to a ports-trie-narrowed
    // icmp_type or tp_dst (recorded: test/fixtures/ovs-packets, e.g. a router advertisement
    // missing `icmp6,icmp_type=135,nd_target=…`; `tcp,tcp_flags=+syn,tp_dst=80` missed by
    // tp_dst=0x8050 gives `tp_dst=0x8000/0x8000,tcp_flags=-syn`).
    if (last) fold(last.words.filter((w) => w !== W_TP_SRC && w !== W_TP_DST));
    return null;
  }
  fold(all);
  return hit ? hit[0]! : null;
}
