/**
 * TCP timers: retransmission (RTO, also the persist timer), delayed ACK, TIME_WAIT.
 *
 * Design: timers are lazy. A timer is a deadline plus at most one pending simulation event per
 * kind; moving the deadline later (every ACK re-arms the RTO) costs a store, not a cancel and a
 * reschedule; the event re-arms itself for the current deadline when it fires early, and does
 * nothing when the deadline was cleared (as Linux keeps one timer and re-checks it lazily).
 * RTO per RFC 6298 with Linux's floor, doubled per back-off, capped at `maxRtoNs`.
 */
import { ACK, ConnectionBase } from './connection-base.js';

export abstract class ConnectionTimers extends ConnectionBase {
  protected currentRto(): number {
    return Math.min(this.rto * 2 ** this.backoff, this.cfg.maxRtoNs);
  }

  protected armRto(): void {
    this.rtoDeadline = this.sim.now + this.currentRto();
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
