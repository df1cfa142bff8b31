/**
 * The OpenFlow byte stream: splitting TCP bytes into messages, and splitting a large multipart
 * reply into several messages.
 *
 * Framing: every message starts with an 8-byte header whose `length` (≥ 8) says where the next
 * one begins. A length below 8 cannot be resynchronised: the stream is garbage and the
 * connection must be closed (OVS `ofconn` does the same: `ofpbuf` length check in
 * lib/vconn.c `vconn_recv_block`). Buffered bytes are bounded by one maximal message.
 */
import { Writer } from './buf.js';
import { OFPMPF_REPLY_MORE, OFP_HEADER_LEN, OFP_MAX_MSG_LEN } from './constants.js';
import { encodeInto } from './codec.js';
import type { MessageOf, OfpMessage } from './messages.js';
import { replyItems, sliceReplyBody, writeReplyBody } from './multipart.js';

export class Framer {
  private buf = new Uint8Array(0);
  /** Set once the stream broke (a header length under 8): nothing more is framed. */
  broken: string | null = null;

  /** Appends `chunk`; returns the whole messages now available, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.broken !== null) return [];
    const all = new Uint8Array(this.buf.length + chunk.length);
    all.set(this.buf);
    all.set(chunk, this.buf.length);
    const out: Uint8Array[] = [];
    let pos = 0;
    while (all.length - pos >= OFP_HEADER_LEN) {
      const len = (all[pos + 2]! << 8) | all[pos + 3]!;
      if (len < OFP_HEADER_LEN) {
        this.broken = `message at stream offset ${pos} declares length ${len} (< 8): stream cannot be resynchronised`;
        this.buf = new Uint8Array(0);
        return out;
      }
      if (all.length - pos < len) break;
      out.push(all.slice(pos, pos + len));
      pos += len;
    }
    this.buf = all.slice(pos);
    return out;
  }

  /** Bytes waiting for the rest of their message (≤ 65535). */
  get pending(): number {
    return this.buf.length;
  }
}

/**
 * Splits a multipart reply into messages of at most `maxLen` bytes each (§7.3.5: "OFPMPF_REPLY_MORE
 * ... more replies will follow"), all with the same xid. A single item larger than `maxLen`
 * still gets a message of its own (it is at most 65535 bytes by construction).
 */
export function splitMultipartReply(m: MessageOf<'multipart_reply'>, maxLen = OFP_MAX_MSG_LEN): MessageOf<'multipart_reply'>[] {
  const n = replyItems(m.body);
  if (n === 0) return [m];
  const w = new Writer(1024);
  const HDR = 16;
  const out: MessageOf<'multipart_reply'>[] = [];
  let from = 0;
  let size = HDR;
  for (let i = 0; i < n; i++) {
    w.reset();
    writeReplyBody(w, m.body, i, i + 1);
    const len = w.pos;
    if (size + len > maxLen && i > from) {
      out.push({ ...m, flags: m.flags | OFPMPF_REPLY_MORE, body: sliceReplyBody(m.body, from, i) });
      from = i;
      size = HDR;
    }
    size += len;
  }
  out.push({ ...m, flags: m.flags & ~OFPMPF_REPLY_MORE, body: sliceReplyBody(m.body, from, n) });
  return out;
}

/** Joins the bodies of a REPLY_MORE sequence back into one reply (the controller's view). */
export function joinMultipartReplies(parts: MessageOf<'multipart_reply'>[]): MessageOf<'multipart_reply'> | null {
  const first = parts[0];
  if (!first) return null;
  const b = first.body;
  const merged = { ...b } as Record<string, unknown>;
  for (const key of ['stats', 'ports', 'groups', 'configs']) {
    if (key in b) merged[key] = parts.flatMap((p) => (p.body as unknown as Record<string, unknown[]>)[key] ?? []);
  }
  return { ...first, flags: 0, body: merged as MessageOf<'multipart_reply'>['body'] };
}

/** Encodes several messages back to back (one TCP write). */
export function encodeAll(msgs: readonly OfpMessage[]): Uint8Array {
  const w = new Writer(1024);
  for (const m of msgs) encodeInto(w, m);
  return w.take();
}
