/**
 * The outer headers of one tunnel port, precomputed (the per-frame encapsulation fast path).
 *
 * What: a 50-byte template of outer Ethernet/IPv4/UDP and the VXLAN or base Geneve header with
 * every field that is constant for the port already written (source MAC, EtherType, IPv4
 * version/IHL, TOS, DF, TTL, protocol, source address, UDP destination port, VXLAN I flag / Geneve
 * protocol type), and the one's-complement sum of the constant IPv4 header words. Per frame:
 * one allocation, the template's constant bytes, the variable fields (destination MAC and address, total
 * length, identification, source port, UDP length, VNI), and the header checksum from the
 * precomputed sum plus the variable words. The frame is carved from the shared slab of
 * `wire/frame-alloc.ts` (a view, no backing store of its own, fresh and zeroed), so only the
 * template's bytes that may be non-zero are written (the constructor writes no others).
 *
 * Invariant: the bytes equal `encapVxlan` / `encapGeneve` (no options) for the same inputs (the
 * one's-complement sum does not depend on how the words are grouped; test/tunnel/outer-template
 * checks it property-wise). Geneve frames with options go through `encapGeneve`.
 */
import { finish } from '../wire/checksum.js';
import { allocFrame } from '../wire/frame-alloc.js';
import { writeMac, writeU32 } from '../wire/ipv4-frame.js';
import { GENEVE_PROTO_ETHERNET } from '../wire/geneve.js';
import { VXLAN_FLAG_I, writeUdpChecksum, type OuterHeaders } from '../wire/vxlan.js';

const HDR = 50;

export class OuterTemplate {
  private readonly hdr = new Uint8Array(HDR);
  private readonly baseSum: number;
  /** For the optional outer UDP checksum (writeUdpChecksum reads srcIp/dstIp). */
  private readonly scratch: OuterHeaders;

  constructor(o: { srcMac: number; srcIp: number; dstPort: number; tos: number; ttl: number; dontFrag: boolean; csum: boolean }, geneve: boolean) {
    const h = this.hdr;
    writeMac(h, 6, o.srcMac);
    h[12] = 0x08;
    h[13] = 0x00;
    h[14] = 0x45;
    h[15] = o.tos;
    h[20] = o.dontFrag ? 0x40 : 0;
    h[22] = o.ttl;
    h[23] = 17;
    writeU32(h, 26, o.srcIp);
    h[36] = o.dstPort >>> 8;
    h[37] = o.dstPort & 0xff;
    if (geneve) {
      h[44] = GENEVE_PROTO_ETHERNET >>> 8;
      h[45] = GENEVE_PROTO_ETHERNET & 0xff;
    } else h[42] = VXLAN_FLAG_I;
    this.baseSum = ((0x45 << 8) | o.tos) + (h[20] << 8) + ((o.ttl << 8) | 17) + (o.srcIp >>> 16) + (o.srcIp & 0xffff);
    this.scratch = { srcMac: o.srcMac, dstMac: 0, srcIp: o.srcIp, dstIp: 0, srcPort: 0, dstPort: o.dstPort, tos: o.tos, ttl: o.ttl, ident: 0, dontFrag: o.dontFrag, csum: o.csum };
  }

  /**
   * The encapsulated frame (VXLAN, or Geneve without options) around `inner`; `ecn` (0–3) is ORed
   * into the outer TOS (the ECN bits the tunnel inherits from the inner packet).
   */
  build(dstMac: number, dstIp: number, ident: number, srcPort: number, vni: number, inner: Uint8Array, ecn = 0): Uint8Array {
    const udpLen = 16 + inner.length;
    const total = 20 + udpLen;
    // A slab view (wire/frame-alloc.ts), not an ArrayBuffer of its own: the allocation was the
    // largest single cost of encapsulation. Slab memory is fresh and zeroed, as new Uint8Array's.
    const f = allocFrame(Math.max(60, 14 + total));
    // The template's constant bytes, written one by one: the frame is fresh zeroed slab memory, so
    // bytes the template leaves 0 need no write, and 18 stores cost less than TypedArray.set's
    // call for a 50-byte copy.
    const h = this.hdr;
    f[6] = h[6]!;
    f[7] = h[7]!;
    f[8] = h[8]!;
    f[9] = h[9]!;
    f[10] = h[10]!;
    f[11] = h[11]!;
    f[12] = 0x08;
    f[14] = 0x45;
    const tos = h[15]! | ecn;
    f[15] = tos;
    f[20] = h[20]!;
    f[22] = h[22]!;
    f[23] = 17;
    f[26] = h[26]!;
    f[27] = h[27]!;
    f[28] = h[28]!;
    f[29] = h[29]!;
    f[36] = h[36]!;
    f[37] = h[37]!;
    f[42] = h[42]!;
    f[44] = h[44]!;
    f[45] = h[45]!;
    writeMac(f, 0, dstMac);
    f[16] = total >>> 8;
    f[17] = total & 0xff;
    f[18] = (ident >>> 8) & 0xff;
    f[19] = ident & 0xff;
    writeU32(f, 30, dstIp);
    const c = finish(this.baseSum + (tos - h[15]!) + total + (ident & 0xffff) + (dstIp >>> 16) + (dstIp & 0xffff));
    f[24] = c >>> 8;
    f[25] = c & 0xff;
    f[34] = srcPort >>> 8;
    f[35] = srcPort & 0xff;
    f[38] = udpLen >>> 8;
    f[39] = udpLen & 0xff;
    f[46] = (vni >>> 16) & 0xff;
    f[47] = (vni >>> 8) & 0xff;
    f[48] = vni & 0xff;
    f.set(inner, HDR);
    if (this.scratch.csum) {
      this.scratch.dstIp = dstIp;
      writeUdpChecksum(f, this.scratch, udpLen);
    }
    return f;
  }
}
