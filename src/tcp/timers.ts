/**
 * TCP timers: retransmission (RTO, also the persist timer), delayed ACK, TIME_WAIT.
 *
 * Design: timers are lazy. A timer is a deadline plus at most one pending simulation event per
 * kind; moving the deadline later (every ACK re-arms the RTO) costs a store, not a cancel and a
 * reschedule; the event re-arms itself for the current deadline when it fires early, and does
 * nothing when the deadline was cleared (as Linux keeps one timer and re-checks it lazily). A
 * deadline moved earlier than the pending event replaces the event (mod_timer moves both ways).
 * RTO per RFC 6298 with Linux's floor, doubled per back-off, capped at `maxRtoNs`.
 */
import { ACK, ConnectionBase } from './connection-base.js';

export abstract class ConnectionTimers extends ConnectionBase {
  protected currentRto(): number {
    return Math.min(this.rto * 2 ** this.backoff, this.cfg.maxRtoNs);
  }

  protected armRto(): void {
    this.rtoDeadline = this.sim.now + this.currentRto();
    // The lazy event handles a deadline moving later; one moving EARLIER than the pending event
    // needs a new event. That happens whenever the RTO shrinks: the SYN arms the 1 s initial RTO
    // (RFC 6298 §2.1) and the first RTT sample brings it down to ~200 ms, or an ACK ends a
    // back-off (RFC 6298 §5.7). Linux re-arms with inet_csk_reset_xmit_timer → sk_reset_timer →
    // mod_timer, which moves the expiry either way. Without this, a loss in the first second of a
    // connection waited for the SYN's stale 1 s event (and a loss after a back-off for the
    // backed-off one) before any retransmission.
    if (this.rtoEvent !== null && this.rtoEvent.time > this.rtoDeadline) {
      this.rtoEvent.cancel();
      this.rtoEvent = null;
    }
    if (this.rtoEvent === null) this.rtoEvent = this.sim.scheduleAt(this.rtoDeadline, () => this.rtoFire());
  }

  protected stopRto(): void {
    this.rtoDeadline = 0;
  }

  protected rtoFire(): void {
    this.rtoEvent = null;
    if (this.rtoDeadline === 0 || this.state === 'CLOSED') return;
    if (this.sim.now < this.rtoDeadline) {
      this.rtoEvent = this.sim.scheduleAt(this.rtoDeadline, () => this.rtoFire());
      return;
    }
    this.rtoDeadline = 0;
    this.onTimeout();
  }

  protected scheduleDelack(): void {
    const when = this.sim.now + this.cfg.delAckNs;
    if (this.delackDeadline !== 0 && this.delackDeadline <= when) return;
    this.delackDeadline = when;
    if (this.delackEvent === null) this.delackEvent = this.sim.scheduleAt(when, () => this.delackFire());
  }

  protected delackFire(): void {
    this.delackEvent = null;
    if (this.delackDeadline === 0 || this.state === 'CLOSED') return;
    if (this.sim.now < this.delackDeadline) {
      this.delackEvent = this.sim.scheduleAt(this.delackDeadline, () => this.delackFire());
      return;
    }
    this.delackDeadline = 0;
    if (this.ackPending) this.sendControl(ACK, this.sndNxt);
  }

  protected startTimeWait(): void {
    this.state = 'TIME_WAIT';
    this.stopRto();
    this.delackDeadline = 0;
    this.twEvent?.cancel();
    this.twEvent = this.sim.schedule(this.cfg.timeWaitNs, () => this.finish(null));
  }
}
