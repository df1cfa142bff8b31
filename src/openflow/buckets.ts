/**
 * Group buckets (`struct ofp_bucket`, §7.3.4.2) and meter bands (`struct ofp_meter_band_*`,
 * §7.3.4.4), shared by GROUP_MOD/METER_MOD and the GROUP_DESC/METER_CONFIG multipart replies.
 */
import { readActions, writeActions, actionLen } from './actions.js';
import type { Reader, Writer } from './buf.js';
import { OFPET, OFPGMFC, OFPMBT, OFPMMFC } from './constants.js';
import type { Bucket, MeterBand } from './messages.js';
import type { OfpErr } from './oxm.js';

export function bucketLen(b: Bucket): number {
  let n = 16;
  for (const a of b.actions) n += actionLen(a);
  return n;
}

export function writeBuckets(w: Writer, buckets: readonly Bucket[]): void {
  for (const b of buckets) {
    w.u16(bucketLen(b));
    w.u16(b.weight);
    w.u32(b.watchPort);
    w.u32(b.watchGroup);
    w.pad(4);
    writeActions(w, b.actions);
  }
}

/** Reads buckets until `r.end`; a bad bucket length is OFPGMFC_BAD_BUCKET. */
export function readBuckets(r: Reader): Bucket[] | OfpErr {
  const out: Bucket[] = [];
  while (r.pos < r.end) {
    const at = r.pos;
    if (r.left < 16) return { type: OFPET.GROUP_MOD_FAILED, code: OFPGMFC.BAD_BUCKET, at, why: 'bucket truncated' };
    const len = r.u16();
    if (len < 16 || len % 8 !== 0 || len > r.end - at) return { type: OFPET.GROUP_MOD_FAILED, code: OFPGMFC.BAD_BUCKET, at, why: `bucket length ${len}` };
    const weight = r.u16();
    const watchPort = r.u32();
    const watchGroup = r.u32();
    r.skip(4);
    const outer = r.end;
    r.end = at + len;
    const actions = readActions(r);
    r.end = outer;
    if (!Array.isArray(actions)) return actions;
    out.push({ weight, watchPort, watchGroup, actions });
  }
  return out;
}

export function writeBands(w: Writer, bands: readonly MeterBand[]): void {
  for (const b of bands) {
    w.u16(b.type);
    w.u16(16);
    w.u32(b.rate);
    w.u32(b.burstSize);
    if (b.type === OFPMBT.DSCP_REMARK) {
      w.u8(b.precLevel ?? 0);
      w.pad(3);
    } else if (b.type === OFPMBT.EXPERIMENTER) {
      w.u32(b.experimenter ?? 0);
    } else {
      w.pad(4);
    }
  }
}

/** Reads meter bands until `r.end`; unknown band types are OFPMMFC_BAD_BAND. */
export function readBands(r: Reader): MeterBand[] | OfpErr {
  const out: MeterBand[] = [];
  while (r.pos < r.end) {
    const at = r.pos;
    if (r.left < 16) return { type: OFPET.METER_MOD_FAILED, code: OFPMMFC.BAD_BAND, at, why: 'meter band truncated' };
    const type = r.u16();
    const len = r.u16();
    if (len !== 16) return { type: OFPET.METER_MOD_FAILED, code: OFPMMFC.BAD_BAND, at, why: `meter band length ${len}` };
    const rate = r.u32();
    const burstSize = r.u32();
    if (type === OFPMBT.DROP) {
      r.skip(4);
      out.push({ type, rate, burstSize });
    } else if (type === OFPMBT.DSCP_REMARK) {
      const precLevel = r.u8();
      r.skip(3);
      out.push({ type, rate, burstSize, precLevel });
    } else if (type === OFPMBT.EXPERIMENTER) {
      out.push({ type, rate, burstSize, experimenter: r.u32() });
    } else {
      return { type: OFPET.METER_MOD_FAILED, code: OFPMMFC.BAD_BAND, at, why: `meter band type ${type}` };
    }
  }
  return out;
}
