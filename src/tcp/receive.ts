/**
 * The receive path: in-order delivery to the application, the out-of-order queue, the receive
 * window and delayed ACKs.
 *
 * Design
 * - Delayed ACKs as Linux `__tcp_ack_snd_check`: ACK when more than one full segment arrived
 *   since the last ACK, else a 40 ms timer; 16 quick ACKs at the start; immediate ACK for
 *   out-of-order data, duplicates and FIN.
 * - The window starts at 64 KiB rounded to the MSS and grows by 2 MSS per in-order segment up
 *   to half the buffer (Linux `tcp_grow_window` and `tcp_adv_win_scale = 1`, without the
 *   truesize accounting); the right edge never moves left (RFC 9293 §3.8.6.2.2).
 * - In-order data is handed to `onData` as a view of the received frame (no copy); data queued
 *   out of order is kept as a view too (a frame is never edited once sent), so a hole costs no
 *   copy of what arrives above it.
 */
import { ACK } from './connection-base.js';
import { ConnectionRecovery } from './recovery.js';

export abstract class ConnectionReceive extends ConnectionRecovery {
  /** The window to advertise now, in bytes (before scaling). */
  protected rcvWindow(): number {
    const free = Math.max(0, (this.cfg.rcvBuf >> 1) - this.rcvQueued - this.reasm.bytes);
    let w = Math.min(this.rcvSsthresh, free, this.rcvWndClamp);
    // Receiver SWS avoidance (RFC 9293 §3.8.6.2.2): do not offer less than one MSS.
    if (w < this.rcvMss && w < (this.cfg.rcvBuf >> 2)) w = 0;
    const gran = 1 << this.rcvWscale;
    w = Math.floor(w / gran) * gran;
    // Never shrink the right edge.
    const old = this.rcvAdvRight - this.rcvNxt;
    if (w < old) w = old;
    return Math.min(w, 65535 * gran);
  }

  /** The window field for a non-SYN segment, and book-keeping of what was advertised. */
  protected windowField(): number {
    const w = this.rcvWindow();
    this.rcvAdvRight = this.rcvNxt + w;
    return w >>> this.rcvWscale;
  }

  protected processData(seqOff: number, buf: Uint8Array, dataOff: number, len: number, fin: boolean): void {
    const st = this.state;
    const acceptsData = st === 'ESTABLISHED' || st === 'FIN_WAIT_1' || st === 'FIN_WAIT_2';
    if (!acceptsData) {
      // CLOSE_WAIT/CLOSING/LAST_ACK: data after the peer's FIN is a duplicate.
      if (len > 0 || fin) this.sendControl(ACK, this.sndNxt);
      return;
    }
    const finOffset = seqOff + len;
    if (len > 0) {
      if (seqOff === this.rcvNxt) {
        this.rcvNxt += len;
        this.stats.bytes_received += len;
        this.deliver(new Uint8Array(buf.buffer, buf.byteOffset + dataOff, len)); // = subarray, without its species lookup
        this.growWindow();
        if (!this.reasm.empty) {
          for (const p of this.reasm.take(this.rcvNxt)) {
            this.rcvNxt += p.length;
            this.stats.bytes_received += p.length;
            this.deliver(p);
          }
          // Filling a hole: ACK at once (Linux tcp_data_queue: ooo queue changed).
          this.quickAcks = Math.max(this.quickAcks, 1);
        }
      } else if (seqOff > this.rcvNxt) {
        // A view, as for in-order data: frames are never edited once sent (an edit is a copy,
        // vswitch/rewrite.ts), so holding the frame costs no copy and no allocation of its bytes.
        if (this.reasm.bytes + this.rcvQueued + len <= this.cfg.rcvBuf) this.reasm.insert(seqOff, new Uint8Array(buf.buffer, buf.byteOffset + dataOff, len));
        this.ackNow();
        if (fin) this.pendingFinOff = finOffset;
        return;
      } else {
        this.ackNow();
        return;
      }
    }
    if (fin && finOffset === this.rcvNxt) return this.receiveFin();
    if (fin) this.pendingFinOff = finOffset;
    else if (this.pendingFinOff >= 0 && this.pendingFinOff === this.rcvNxt) return this.receiveFin();
    if (this.state === 'CLOSED') return;
    this.ackCheck(true);
  }

  protected receiveFin(): void {
    if (this.finReceived) return;
    this.finReceived = true;
    this.pendingFinOff = -1;
    this.rcvNxt++;
    switch (this.state) {
      case 'ESTABLISHED':
        this.state = 'CLOSE_WAIT';
        break;
      case 'FIN_WAIT_1':
        // Our FIN not yet acknowledged: simultaneous close.
        this.state = this.finOff >= 0 && this.sndUna > this.finOff ? 'TIME_WAIT' : 'CLOSING';
        break;
      case 'FIN_WAIT_2':
        this.state = 'TIME_WAIT';
        break;
      default:
        break;
    }
    this.ackNow();
    if (this.state === 'TIME_WAIT') this.startTimeWait();
    this.onEnd?.();
    if (this.appClosed && this.state === 'CLOSE_WAIT') this.end();
  }

  protected deliver(chunk: Uint8Array): void {
    if (this.appClosed) return;
    if (this.onData !== null && !this.paused && this.rcvQueued === 0) {
      this.onData(chunk);
      return;
    }
    this.rcvQueue.push(chunk);
    this.rcvQueued += chunk.length;
    if (this.onData !== null && !this.paused) this.deliverQueued();
    else this.onReadable?.();
  }

  protected deliverQueued(): void {
    while (this.rcvQueued > 0 && this.onData !== null && !this.paused) {
      const c = this.rcvQueue.shift()!;
      this.rcvQueued -= c.length;
      this.onData(c);
    }
    this.maybeWindowUpdate();
  }

  /** Linux tcp_grow_window (simplified): 2 MSS per in-order segment up to the clamp. */
  protected growWindow(): void {
    if (this.rcvSsthresh < this.rcvWndClamp) this.rcvSsthresh = Math.min(this.rcvSsthresh + 2 * this.rcvMss, this.rcvWndClamp);
  }

  /** After the app read: Linux tcp_cleanup_rbuf sends a window update when the window doubled. */
  protected maybeWindowUpdate(): void {
    if (this.state !== 'ESTABLISHED' && this.state !== 'FIN_WAIT_1' && this.state !== 'FIN_WAIT_2') return;
    const cur = Math.max(0, this.rcvAdvRight - this.rcvNxt);
    const next = this.rcvWindow();
    if (next >= 2 * cur && next - cur >= this.rcvMss) this.sendControl(ACK, this.sndNxt);
  }

  /** __tcp_ack_snd_check. */
  protected ackCheck(newData: boolean): void {
    if (this.rcvNxt === this.rcvWup) return; // already acknowledged (a reply carried it)
    this.ackPending = true;
    if (newData && this.rcvNxt - this.rcvWup > this.rcvMss) return this.ackNow();
    if (!this.cfg.delayedAck || this.quickAcks > 0 || !this.reasm.empty) return this.ackNow();
    this.scheduleDelack();
  }

  protected ackNow(): void {
    this.sendControl(ACK, this.sndNxt);
  }
}
