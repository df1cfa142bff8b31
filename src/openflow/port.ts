/** `struct ofp_port` (§7.2.1, 64 bytes), used by FEATURES/PORT_STATUS/PORT_DESC. */
import type { Reader, Writer } from './buf.js';
import { OFP_MAX_PORT_NAME_LEN } from './constants.js';
import type { OfpPort } from './messages.js';

export const OFP_PORT_LEN = 64;

export function writePort(w: Writer, p: OfpPort): void {
  w.u32(p.portNo);
  w.pad(4);
  w.u48(p.hwAddr);
  w.pad(2);
  w.str(p.name, OFP_MAX_PORT_NAME_LEN);
  w.u32(p.config);
  w.u32(p.state);
  w.u32(p.curr);
  w.u32(p.advertised);
  w.u32(p.supported);
  w.u32(p.peer);
  w.u32(p.currSpeed);
  w.u32(p.maxSpeed);
}

export function readPort(r: Reader): OfpPort {
  const portNo = r.u32();
  r.skip(4);
  const hwAddr = r.u48();
  r.skip(2);
  const name = r.str(OFP_MAX_PORT_NAME_LEN);
  return {
    portNo,
    hwAddr,
    name,
    config: r.u32(),
    state: r.u32(),
    curr: r.u32(),
    advertised: r.u32(),
    supported: r.u32(),
    peer: r.u32(),
    currSpeed: r.u32(),
    maxSpeed: r.u32(),
  };
}
