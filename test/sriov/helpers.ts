/** Small doubles for SR-IOV tests: raw frames, a guest that records, a wire that records. */
import { Port, connect, type Frame } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/index.js';
import { PhysicalFunction, type PhysicalFunctionOptions } from '../../src/sriov/index.js';
import { macToBytes, parseMac } from '../../src/wire/mac.js';

export const MAC = (s: string): number => parseMac(s);
export const BCAST = 0xffff_ffff_ffff;

/** An Ethernet frame: dst, src, optional tag, ethertype 0x0800 (or `type`), `len` total bytes. */
export function frame(dst: number, src: number, opts: { tag?: { tpid: number; tci: number }; type?: number; len?: number; fill?: number } = {}): Uint8Array {
  const hdr = opts.tag ? 18 : 14;
  const len = Math.max(opts.len ?? 64, hdr);
  const f = new Uint8Array(len);
  macToBytes(dst, f, 0);
  macToBytes(src, f, 6);
  let o = 12;
  if (opts.tag) {
    f[12] = opts.tag.tpid >> 8;
    f[13] = opts.tag.tpid & 0xff;
    f[14] = opts.tag.tci >> 8;
    f[15] = opts.tag.tci & 0xff;
    o = 16;
  }
  const type = opts.type ?? 0x0800;
  f[o] = type >> 8;
  f[o + 1] = type & 0xff;
  f.fill(opts.fill ?? 0xab, o + 2);
  return f;
}

export function tpidOf(f: Frame): number {
  return (f[12]! << 8) | f[13]!;
}
export function tciOf(f: Frame): number {
  return (f[14]! << 8) | f[15]!;
}

/** A wire peer on the PF uplink that records what leaves the NIC. */
export function wire(pf: PhysicalFunction): { port: Port; got: Frame[]; times: number[]; inject(f: Frame): void } {
  const got: Frame[] = [];
  const times: number[] = [];
  const port = new Port('test.wire', (f) => {
    got.push(f);
    times.push(pf.sim.now);
  });
  connect(port, pf.uplink);
  return { port, got, times, inject: (f) => port.send(f, { hops: 0 }) };
}

/** Attaches recording receivers to every VF; returns what each VF's guest got. */
export function guests(pf: PhysicalFunction): Frame[][] {
  return pf.vfs.map((vf) => {
    const got: Frame[] = [];
    vf.setReceiver((f) => got.push(f));
    return got;
  });
}

export function makePf(opts: Partial<PhysicalFunctionOptions> = {}): PhysicalFunction {
  const sim = opts.sim ?? new Simulation(1);
  return new PhysicalFunction({ path: 'hv1.pf0', model: 'ixgbe', numVfs: 4, ...opts, sim });
}
