/**
 * Service time of one I/O at the backend: fixed, lognormal given its p50 and p99, or a table of
 * percentiles (piecewise linear between the points). Distributions are sampled through a
 * precomputed quantile table (one PRNG draw and one array read per I/O), so sampling costs the
 * same whatever the shape.
 */
import type { Prng } from '../sim/prng.js';

export type ServiceTimeSpec =
  | { kind: 'fixed'; ns: number }
  | { kind: 'lognormal'; p50Ns: number; p99Ns: number }
  | { kind: 'table'; points: Array<{ p: number; ns: number }> };

const TABLE = 8192;
/** z at the 99th percentile of the standard normal. */
const Z99 = 2.3263478740408408;

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pl = 0.02425;
  if (p < pl) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - pl) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

export class ServiceTime {
  private readonly fixed: number;
  private readonly table: Float64Array | undefined;

  constructor(readonly spec: ServiceTimeSpec) {
    if (spec.kind === 'fixed') {
      this.fixed = spec.ns;
      return;
    }
    this.fixed = -1;
    const t = new Float64Array(TABLE);
    for (let i = 0; i < TABLE; i++) t[i] = Math.max(0, Math.round(this.quantile((i + 0.5) / TABLE)));
    this.table = t;
  }

  /** The exact quantile of the configured distribution at `u` in (0, 1). */
  quantile(u: number): number {
    const s = this.spec;
    if (s.kind === 'fixed') return s.ns;
    if (s.kind === 'lognormal') {
      const mu = Math.log(s.p50Ns);
      const sigma = (Math.log(s.p99Ns) - mu) / Z99;
      return Math.exp(mu + sigma * normalQuantile(u));
    }
    const pts = s.points;
    const pu = u * 100;
    if (pu <= pts[0]!.p) return pts[0]!.ns;
    for (let i = 1; i < pts.length; i++) {
      const a = pts[i - 1]!;
      const b = pts[i]!;
      if (pu <= b.p) return a.ns + ((b.ns - a.ns) * (pu - a.p)) / (b.p - a.p || 1);
    }
    return pts[pts.length - 1]!.ns;
  }

  /** One service time in integer ns. */
  sample(prng: Prng): number {
    if (this.table === undefined) return this.fixed;
    return this.table[(prng.nextU32() * (TABLE / 4294967296)) | 0]!;
  }
}
