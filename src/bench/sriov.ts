/**
 * SR-IOV benchmarks: VF → VF frames per second through the legacy VEB (`veb_frames_per_s`) and
 * through switchdev representors and a NORMAL bridge (`switchdev_frames_per_s`). Frames are
 * 64-byte untagged unicast with learned destinations; capture off; each figure is the median of
 * five runs of 1,000,000 frames (target: ≥ frames_per_s / 2).
 */
import type { BenchContext } from './main.js';
import { connect } from '../port/port.js';
import { Simulation } from '../sim/index.js';
import { PhysicalFunction } from '../sriov/index.js';
import { Bridge } from '../vswitch/bridge.js';
import { macToBytes } from '../wire/mac.js';

export const keys = ['veb_frames_per_s', 'switchdev_frames_per_s'];

const N = 1_000_000;
const M0 = 0x0200_0000_0100;
const M1 = 0x0200_0000_0101;

function frame(dst: number, src: number): Uint8Array {
  const f = new Uint8Array(64);
  macToBytes(dst, f, 0);
  macToBytes(src, f, 6);
  f[12] = 0x08;
  return f;
}

function setup(mode: 'legacy' | 'switchdev'): { send: () => void; received: () => number } {
  const sim = new Simulation(1);
  const pf = new PhysicalFunction({ path: 'hv1.pf0', sim, model: 'mlx5', numVfs: 2, eswitchMode: mode });
  pf.configureVf(0, { mac: M0 });
  pf.configureVf(1, { mac: M1 });
  let got = 0;
  pf.vf(0).setReceiver(() => {});
  pf.vf(1).setReceiver(() => {
    got++;
  });
  if (mode === 'switchdev') {
    const br = new Bridge({ path: 'hv1.br0', sim });
    connect(br.addPort({ name: pf.representorName(0) }), pf.representor(0));
    connect(br.addPort({ name: pf.representorName(1) }), pf.representor(1));
    pf.vf(1).transmit(frame(M0, M1)); // let NORMAL learn vf1
  }
  const f = frame(M1, M0);
  const vf0 = pf.vf(0);
  return { send: () => vf0.transmit(f), received: () => got };
}

function measure(mode: 'legacy' | 'switchdev'): number {
  const s = setup(mode);
  for (let i = 0; i < 10_000; i++) s.send();
  const before = s.received();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) s.send();
  const dt = (performance.now() - t0) / 1000;
  if (s.received() - before !== N) throw new Error(`sriov bench: ${mode} delivered ${s.received() - before} of ${N}`);
  return Math.round(N / dt);
}

export async function run(ctx: BenchContext): Promise<Record<string, number | string | null>> {
  const out: Record<string, number | string | null> = {};
  if (!ctx.only || 'veb_frames_per_s'.startsWith(ctx.only) || ctx.only.startsWith('veb')) out['veb_frames_per_s'] = await ctx.median(5, () => measure('legacy'));
  if (!ctx.only || 'switchdev_frames_per_s'.startsWith(ctx.only) || ctx.only.startsWith('switchdev')) out['switchdev_frames_per_s'] = await ctx.median(5, () => measure('switchdev'));
  return out;
}
