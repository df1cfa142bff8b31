/**
 * The virtio-net device model: what a guest's network stack talks to.
 *
 * Design. A `VirtioNet` holds both halves of a real virtio NIC: the *device* (QEMU's
 * `hw/net/virtio-net.c`: config space, status bits, virtqueues, the control-queue handler, receive
 * filter) and the thin *driver* logic a guest kernel runs on top of it (Linux
 * `drivers/net/virtio_net.c`: feature acknowledgement and validation at probe, rx buffer refill,
 * queue selection, the config-change work that reacts to LINK_UP and ANNOUNCE). The guest stack
 * (`src/guest`) sees only the `GuestNic` interface, as a Linux IP stack sees only a netdev.
 *
 * Wire side: `port` (path = the NIC path, e.g. `vm1.eth0`). Frames the guest transmits go out of
 * `port.send`; frames arriving on `port.receive` go through the receive filter, take posted rx
 * buffers from the queue the flow hash selects, and reach the guest's receiver. The device does no
 * switching.
 *
 * Queues follow the spec layout: rx0=0, tx0=1, …, rxN-1=2(N-1), txN-1=2(N-1)+1, ctrl=2N, with
 * N = max_virtqueue_pairs when MQ is negotiated and 1 otherwise; the ctrl queue exists only with
 * CTRL_VQ. Only pair 0 carries traffic until the driver sends MQ_VQ_PAIRS_SET.
 *
 * Drops are counted on the port (`port.counters.drops`, which the summary shows) and on the queue
 * they belong to: `no-rx-buffer`, `tx-queue-full`, `oversize`, `rx-filter`, `vlan-filter`,
 * `migration` (paused), `link-down` (counted by `Port`), `no-receiver`.
 *
 * Deliberate differences: QEMU holds frames in its net queue while the guest has posted no
 * buffers (backpressure into the tap); vfab drops them at once as `no-rx-buffer`. Without the MAC
 * feature a Linux guest would pick a random MAC; vfab keeps the configured MAC.
 */
import { BugError, UserError } from '../errors.js';
import type { EventSink } from '../port/nic.js';
import type { GuestNic } from '../port/nic.js';
import { hopMeta, Port, type Frame } from '../port/port.js';
import { DelayLine } from '../sim/delay-line.js';
import type { Simulation } from '../sim/simulation.js';
import {
  CTRL_ANNOUNCE, CTRL_CLASS, CTRL_MAC, CTRL_MQ, CTRL_RX, DEFAULT_CTRL_QUEUE_SIZE, MQ_VQ_PAIRS_MAX,
  MQ_VQ_PAIRS_MIN, VIRTIO_NET_ERR, VIRTIO_NET_OK, VIRTIO_NET_S_ANNOUNCE, VIRTIO_NET_S_LINK_UP, vqPairsSetData,
  type CtrlAck,
} from './control.js';
import { defaultOfferedFeatures, negotiateFeatures, parseFeatureNames, type FeatureName } from './features.js';
import { reciprocalScale, symmetricFlowHash } from './flow-hash.js';
import { buildMetrics, formatMacAddr, type VnicMetrics } from './metrics.js';
import { RxFilter } from './rx-filter.js';
import { validateQueueSize, Virtqueue } from './virtqueue.js';

export interface VirtioNetOptions {
  /** NIC path, e.g. `vm1.eth0`; also the wire port's path. */
  path: string;
  sim: Simulation;
  /** MAC as a 48-bit integer. */
  mac: number;
  /** Config-space MTU, 68..65535 (default 1500). Other than 1500 it offers (and needs) the MTU feature. */
  mtu?: number;
  /** rx/tx virtqueue size, a power of two ≤ 32768 (default 256, QEMU's `rx_queue_size`). */
  queueSize?: number;
  /** max_virtqueue_pairs (default 1; more needs MQ). */
  queuePairs?: number;
  /** Device-offered features (names like `ctrl_vq`); default: QEMU-like set. */
  features?: string[];
  /** Features the guest driver acknowledges; default: every offered feature. */
  driverFeatures?: string[];
  events?: EventSink;
  /** Control queue size (default 64, QEMU). */
  ctrlQueueSize?: number;
  /** Pairs the guest enables with MQ_VQ_PAIRS_SET at probe (Linux: min(max pairs, vCPUs)); default all. */
  guestQueuePairs?: number;
  /** rx buffers the guest posts per queue at start (default: the whole ring, Linux `try_fill_recv`). */
  rxBuffersPosted?: number;
  /** Delay between the guest consuming rx buffers and re-posting them (default 0: at once). */
  rxRefillDelayNs?: number;
  /** Size of one mergeable rx buffer (MRG_RXBUF), default 1536. */
  rxBufferBytes?: number;
  /** Interrupt + NAPI delay before the guest sees a received frame (default 0: synchronous). */
  rxDelayNs?: number;
  /** Device time to transmit one frame (QEMU tx bottom half); 0 (default) = at once, the ring never fills. */
  txServiceNs?: number;
  /** Initial carrier (default up). */
  linkUp?: boolean;
  /** Config-space speed in Mbit/s (SPEED_DUPLEX), default 0xffffffff = unknown. */
  speedMbps?: number;
}

export interface CtrlCompletion {
  time_ns: number;
  cls: number;
  cmd: number;
  ack: CtrlAck;
  /** `virtio_net_config.status` when the buffer was marked used. */
  status: number;
}

const ETH_HLEN = 14;
const VLAN_HLEN = 4;
const GOOD_PACKET_LEN = ETH_HLEN + VLAN_HLEN + 1500;

/** Frames held while the guest's vCPU is stalled (`stallGuest`). */
const MAX_STALLED = 4096;

export class VirtioNet implements GuestNic {
  readonly path: string;
  readonly port: Port;
  readonly mtu: number;
  readonly offered: readonly FeatureName[];
  readonly negotiated: readonly FeatureName[];
  readonly maxQueuePairs: number;
  readonly queueSize: number;
  /** All virtqueues in spec order (rx0, tx0, …, ctrl). */
  readonly queues: readonly Virtqueue[];
  /** `virtio_net_config.status`. */
  status = 0;
  /** Pairs carrying traffic (1 until MQ_VQ_PAIRS_SET). */
  activePairs = 1;
  readonly stats = { config_interrupts: 0, ctrl_commands: 0, ctrl_errors: 0, announce_requests: 0, announce_acks: 0 };

  private readonly sim: Simulation;
  private readonly events: EventSink | undefined;
  private readonly neg: ReadonlySet<FeatureName>;
  private macAddr: number;
  private receiver: ((frame: Frame) => void) | null = null;
  private announceCbs: Array<() => void> = [];
  private announceAckCbs: Array<() => void> = [];
  private ctrlCbs: Array<(c: CtrlCompletion) => void> = [];
  private paused = false;
  /** Carrier as the guest driver last saw it (updated by the config-change work). */
  private driverLinkUp: boolean;
  private rxRefillEnabled = true;
  private readonly rxRefillDelayNs: number;
  private readonly pendingRefill: number[];
  private refillScheduled = false;
  private readonly rxBufferBytes: number;
  private readonly rxDelayNs: number;
  /** Frames between the device and the guest for `rxDelayNs` (FIFO: one event queued at a time). */
  private readonly rxLine: DelayLine<Frame> | null;
  private stalled = false;
  private readonly stallQueue: Array<{ tx: boolean; pair: number; buffers: number; frame: Frame }> = [];
  private readonly txServiceNs: number;
  private readonly txBacklog: Frame[][];
  private readonly txBusy: boolean[];
  private readonly hdrLen: number;
  private readonly maxRxFrame: number;
  private readonly mergeable: boolean;
  private readonly speedMbps: number;
  private readonly rxFilter: RxFilter;

  constructor(opts: VirtioNetOptions) {
    this.path = opts.path;
    this.sim = opts.sim;
    this.events = opts.events;
    this.macAddr = opts.mac;
    if (!Number.isInteger(opts.mac) || opts.mac < 0 || opts.mac >= 2 ** 48 || Math.floor(opts.mac / 2 ** 40) & 1) {
      throw new UserError('VNIC_MAC', `${opts.mac} is not a unicast 48-bit MAC address`, { where: `${opts.path}.mac` });
    }
    const mtu = opts.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw new UserError('VNIC_MTU', `MTU ${mtu} is out of range [68, 65535]`, { where: `${opts.path}.mtu` });
    }
    const queueSize = opts.queueSize ?? 256;
    validateQueueSize(queueSize, `${opts.path}.queue_size`);
    this.queueSize = queueSize;
    const pairs = opts.queuePairs ?? 1;
    if (!Number.isInteger(pairs) || pairs < MQ_VQ_PAIRS_MIN || pairs > MQ_VQ_PAIRS_MAX) {
      throw new UserError('VNIC_QUEUE_PAIRS', `queue pairs ${pairs} is out of range [1, ${MQ_VQ_PAIRS_MAX}]`, { where: `${opts.path}.queues` });
    }
    const offered = opts.features
      ? parseFeatureNames(opts.features, `${opts.path}.features`)
      : defaultOfferedFeatures({ queuePairs: pairs, mtuSet: mtu !== 1500 });
    if (pairs > 1 && !offered.includes('mq') && !offered.includes('rss')) {
      throw new UserError('VNIC_QUEUE_PAIRS', `${pairs} queue pairs need the 'mq' feature`, {
        where: `${opts.path}.features`,
        hint: "add 'mq' (and 'ctrl_vq') to the features, or use queues: 1",
      });
    }
    if (mtu !== 1500 && !offered.includes('mtu')) {
      throw new UserError('VNIC_MTU_FEATURE', `MTU ${mtu} needs the 'mtu' feature (without it the guest uses 1500)`, {
        where: `${opts.path}.features`,
        hint: "add 'mtu' to the features (QEMU offers VIRTIO_NET_F_MTU when host_mtu is set)",
      });
    }
    const driver = opts.driverFeatures ? parseFeatureNames(opts.driverFeatures, `${opts.path}.driver_features`) : offered;
    const n = negotiateFeatures(offered, driver, `${opts.path}.features`);
    this.offered = n.offered;
    this.negotiated = n.negotiated;
    const neg = new Set(n.negotiated);
    this.neg = neg;
    // Without the MTU feature the driver uses ETH_DATA_LEN (Linux virtnet_probe).
    this.mtu = neg.has('mtu') ? mtu : 1500;
    this.mergeable = neg.has('mrg_rxbuf');
    const big = neg.has('guest_tso4') || neg.has('guest_tso6') || neg.has('guest_ufo') || this.mtu > 1500;
    // Linux receive_small drops frames over GOOD_PACKET_LEN; big/mergeable buffers take any size.
    this.maxRxFrame = this.mergeable || big ? 65535 + ETH_HLEN + VLAN_HLEN : GOOD_PACKET_LEN;
    this.hdrLen = (this.mergeable || neg.has('version_1') ? 12 : 10) + (neg.has('hash_report') ? 8 : 0);
    this.maxQueuePairs = neg.has('mq') || neg.has('rss') ? pairs : 1;
    this.speedMbps = opts.speedMbps ?? 0xffffffff;

    const queues: Virtqueue[] = [];
    for (let i = 0; i < this.maxQueuePairs; i++) {
      queues.push(new Virtqueue(2 * i, `rx${i}`, 'rx', queueSize));
      queues.push(new Virtqueue(2 * i + 1, `tx${i}`, 'tx', queueSize));
    }
    if (neg.has('ctrl_vq')) {
      const cs = opts.ctrlQueueSize ?? DEFAULT_CTRL_QUEUE_SIZE;
      validateQueueSize(cs, `${opts.path}.ctrl_queue_size`);
      queues.push(new Virtqueue(2 * this.maxQueuePairs, 'ctrl', 'ctrl', cs));
    }
    this.queues = queues;
    this.pendingRefill = new Array<number>(this.maxQueuePairs).fill(0);
    this.txBacklog = Array.from({ length: this.maxQueuePairs }, () => []);
    this.txBusy = new Array<boolean>(this.maxQueuePairs).fill(false);
    this.rxRefillDelayNs = opts.rxRefillDelayNs ?? 0;
    // Linux never posts a mergeable buffer smaller than GOOD_PACKET_LEN (get_mergeable_buf_len).
    this.rxBufferBytes = Math.max(opts.rxBufferBytes ?? 1536, GOOD_PACKET_LEN);
    this.rxDelayNs = opts.rxDelayNs ?? 0;
    this.rxLine = this.rxDelayNs === 0 ? null : new DelayLine(this.sim, this.rxDelayNs, (frame, pair, buffers) => this.guestReceive(pair, buffers, frame));
    this.txServiceNs = opts.txServiceNs ?? 0;
    this.rxFilter = new RxFilter(neg.has('ctrl_vlan'));

    this.port = new Port(opts.path, (frame) => this.deviceReceive(frame));
    const up = opts.linkUp ?? true;
    this.port.up = up;
    if (up) this.status |= VIRTIO_NET_S_LINK_UP;
    this.driverLinkUp = up;

    this.driverProbe(opts);
  }

  // ---------------------------------------------------------------------------------------------
  // GuestNic (the guest stack's view)

  get mac(): number {
    return this.macAddr;
  }

  /** Carrier as the guest sees it: the STATUS LINK_UP bit, or always up without STATUS (spec 5.1.4.2). */
  get linkUp(): boolean {
    return this.neg.has('status') ? this.driverLinkUp : true;
  }

  setReceiver(rx: (frame: Frame) => void): void {
    this.receiver = rx;
  }

  onAnnounceRequest(cb: () => void): void {
    this.announceCbs.push(cb);
  }

  /** Guest transmit: picks a tx queue by flow hash, queues the frame, the device sends it. */
  transmit(frame: Frame): boolean {
    if (this.stalled) return this.deferWhileStalled({ tx: true, pair: 0, buffers: 0, frame });
    if (this.paused) {
      this.port.drop('migration', frame);
      return false;
    }
    if (!this.port.up) {
      this.port.drop('link-down', frame);
      return false;
    }
    if (frame.length > this.mtu + ETH_HLEN + VLAN_HLEN) {
      this.port.drop('oversize', frame);
      return false;
    }
    const pair = this.activePairs > 1 ? reciprocalScale(symmetricFlowHash(frame), this.activePairs) : 0;
    const q = this.queues[2 * pair + 1]!;
    if (q.makeAvailable(1) === 0) {
      q.countDrop('tx-queue-full');
      this.port.drop('tx-queue-full', frame);
      return false;
    }
    if (this.txServiceNs === 0) {
      this.txComplete(q, frame);
      return true;
    }
    this.txBacklog[pair]!.push(frame);
    if (!this.txBusy[pair]) {
      this.txBusy[pair] = true;
      this.sim.schedule(this.txServiceNs, () => this.txDrain(pair));
    }
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Host/fabric controls

  /** Sets the carrier. Updates STATUS LINK_UP and raises a config interrupt when STATUS is negotiated. */
  setLinkUp(up: boolean): void {
    if (this.port.up === up) return;
    this.port.up = up;
    this.events?.({ type: 'vnic-link', time_ns: this.sim.now, path: this.path, up });
    if (!this.neg.has('status')) return;
    if (up) this.status |= VIRTIO_NET_S_LINK_UP;
    else this.status &= ~VIRTIO_NET_S_LINK_UP;
    this.configInterrupt();
  }

  /**
   * Asks the guest to announce itself (QEMU `virtio_net_announce`): sets S_ANNOUNCE and raises a
   * config interrupt. Returns false, changing nothing, unless GUEST_ANNOUNCE (and so CTRL_VQ) was
   * negotiated.
   */
  requestAnnounce(): boolean {
    if (!this.neg.has('guest_announce') || !this.neg.has('ctrl_vq')) return false;
    this.status |= VIRTIO_NET_S_ANNOUNCE;
    this.stats.announce_requests++;
    this.events?.({ type: 'vnic-announce-request', time_ns: this.sim.now, path: this.path });
    this.configInterrupt();
    return true;
  }

  /** Runs `cb` each time the device completes an ANNOUNCE_ACK (QEMU steps its announce timer here). */
  onAnnounceAck(cb: () => void): () => void {
    this.announceAckCbs.push(cb);
    return () => {
      this.announceAckCbs = this.announceAckCbs.filter((x) => x !== cb);
    };
  }

  /** Runs `cb` whenever a control command's buffer is marked used. */
  onControlComplete(cb: (c: CtrlCompletion) => void): () => void {
    this.ctrlCbs.push(cb);
    return () => {
      this.ctrlCbs = this.ctrlCbs.filter((x) => x !== cb);
    };
  }

  /** Live migration: while paused neither tx nor rx happens (frames dropped as `migration`). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /**
   * The guest's vCPU is blocked (a post-copy page fault, issue 13): it neither transmits nor
   * processes received frames (nor re-posts rx buffers) until `stallGuest(false)`, when the
   * deferred frames go on in order. At most `MAX_STALLED` frames wait; more are dropped `stall`.
   */
  stallGuest(on: boolean): void {
    this.stalled = on;
    if (on) return;
    const q = this.stallQueue.splice(0);
    for (const e of q) {
      if (this.stalled) {
        this.stallQueue.push(e);
        continue;
      }
      if (e.tx) this.transmit(e.frame);
      else this.guestReceive(e.pair, e.buffers, e.frame);
    }
  }

  private deferWhileStalled(e: { tx: boolean; pair: number; buffers: number; frame: Frame }): boolean {
    if (this.stallQueue.length >= MAX_STALLED) {
      this.port.drop('stall', e.frame);
      if (!e.tx) this.refill(e.pair, e.buffers);
      return false;
    }
    this.stallQueue.push(e);
    return true;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  hasFeature(name: FeatureName): boolean {
    return this.neg.has(name);
  }

  /** The guest posts up to `n` more rx buffers on pair `pair`; returns how many fit. */
  postRxBuffers(pair: number, n: number): number {
    const q = this.queues[2 * pair];
    if (!q || q.kind !== 'rx') throw new BugError('VNIC_NO_QUEUE', `${this.path} has no rx queue for pair ${pair}`);
    return q.makeAvailable(n);
  }

  /** Stops (false) or restarts (true) the guest's rx refill: a stalled guest posts no new buffers. */
  setRxRefill(enabled: boolean): void {
    this.rxRefillEnabled = enabled;
  }

  /** `virtio_net_config` bytes as the guest reads them (little-endian fields). */
  configSpace(): Uint8Array {
    const b = new Uint8Array(24);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < 6; i++) b[i] = Math.floor(this.macAddr / 2 ** (8 * (5 - i))) & 0xff;
    dv.setUint16(6, this.status, true);
    dv.setUint16(8, this.maxQueuePairs, true);
    dv.setUint16(10, this.mtu, true);
    dv.setUint32(12, this.speedMbps >>> 0, true);
    b[16] = 1; // duplex: 1 = full, as Linux/ethtool read it (the spec text contradicts itself)
    return b;
  }

  metrics(): VnicMetrics {
    return buildMetrics({
      path: this.path,
      mac: formatMacAddr(this.macAddr),
      mtu: this.mtu,
      negotiated: this.negotiated,
      maxPairs: this.maxQueuePairs,
      activePairs: this.activePairs,
      status: this.status,
      paused: this.paused,
      port: this.port.counters,
      stats: this.stats,
      queues: this.queues,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Control virtqueue (device side: QEMU virtio_net_handle_ctrl)

  /**
   * The driver submits one control command; the device handles it, writes the ack and marks the
   * buffer used before returning. Without a control queue the command cannot be sent: ERR.
   */
  controlCommand(cls: number, cmd: number, data: Uint8Array = new Uint8Array(0)): CtrlAck {
    const q = this.queues.find((x) => x.kind === 'ctrl');
    this.stats.ctrl_commands++;
    if (!q) {
      this.stats.ctrl_errors++;
      return VIRTIO_NET_ERR;
    }
    q.makeAvailable(1);
    const ack = this.handleCtrl(cls, cmd, data);
    if (ack === VIRTIO_NET_ERR) this.stats.ctrl_errors++;
    // The ack is written and the buffer marked used only now, after the handler changed state
    // (spec: the device MUST clear S_ANNOUNCE before marking the ANNOUNCE_ACK buffer used).
    q.use(1);
    q.counters.packets++;
    q.counters.bytes += 3 + data.length;
    const done: CtrlCompletion = { time_ns: this.sim.now, cls, cmd, ack, status: this.status };
    for (const cb of this.ctrlCbs) cb(done);
    if (cls === CTRL_CLASS.ANNOUNCE && ack === VIRTIO_NET_OK) {
      this.events?.({ type: 'vnic-announce-ack', time_ns: this.sim.now, path: this.path });
      for (const cb of this.announceAckCbs) cb();
    }
    return ack;
  }

  private handleCtrl(cls: number, cmd: number, data: Uint8Array): CtrlAck {
    const neg = this.neg;
    switch (cls) {
      case CTRL_CLASS.RX:
        return neg.has('ctrl_rx') ? this.rxFilter.rxMode(cmd, data, neg.has('ctrl_rx_extra')) : VIRTIO_NET_ERR;
      case CTRL_CLASS.MAC:
        if (cmd === CTRL_MAC.ADDR_SET) {
          if (!neg.has('ctrl_mac_addr') || data.length !== 6) return VIRTIO_NET_ERR;
          let m = 0;
          for (let i = 0; i < 6; i++) m = m * 256 + data[i]!;
          this.macAddr = m;
          return VIRTIO_NET_OK;
        }
        if (cmd === CTRL_MAC.TABLE_SET) return neg.has('ctrl_rx') ? this.rxFilter.macTableSet(data) : VIRTIO_NET_ERR;
        return VIRTIO_NET_ERR;
      case CTRL_CLASS.VLAN:
        return neg.has('ctrl_vlan') ? this.rxFilter.vlan(cmd, data) : VIRTIO_NET_ERR;
      case CTRL_CLASS.ANNOUNCE:
        // QEMU virtio_net_handle_announce: ACK only while the bit is set; clear it, then OK.
        if (cmd === CTRL_ANNOUNCE.ACK && (this.status & VIRTIO_NET_S_ANNOUNCE) !== 0) {
          this.status &= ~VIRTIO_NET_S_ANNOUNCE;
          this.stats.announce_acks++;
          return VIRTIO_NET_OK;
        }
        return VIRTIO_NET_ERR;
      case CTRL_CLASS.MQ: {
        if (cmd !== CTRL_MQ.VQ_PAIRS_SET || !neg.has('mq') || data.length !== 2) return VIRTIO_NET_ERR;
        const pairs = data[0]! | (data[1]! << 8);
        // QEMU virtio_net_handle_mq: out of [MIN, max_queue_pairs] → ERR.
        if (pairs < MQ_VQ_PAIRS_MIN || pairs > this.maxQueuePairs) return VIRTIO_NET_ERR;
        this.activePairs = pairs;
        return VIRTIO_NET_OK;
      }
      case CTRL_CLASS.GUEST_OFFLOADS:
        return neg.has('ctrl_guest_offloads') && cmd === 0 && data.length === 8 ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
      default:
        return VIRTIO_NET_ERR;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Driver half (Linux virtio_net.c)

  /** virtnet_probe + virtnet_open: fill rx rings, program the rx mode, enable queue pairs. */
  private driverProbe(opts: VirtioNetOptions): void {
    const posted = opts.rxBuffersPosted ?? this.queueSize;
    for (let i = 0; i < this.maxQueuePairs; i++) this.queues[2 * i]!.makeAvailable(posted);
    if (this.neg.has('ctrl_rx')) {
      // virtnet_set_rx_mode: promisc off, allmulti off (the stack is not promiscuous).
      this.controlCommand(CTRL_CLASS.RX, CTRL_RX.PROMISC, new Uint8Array([0]));
      this.controlCommand(CTRL_CLASS.RX, CTRL_RX.ALLMULTI, new Uint8Array([0]));
    }
    if (this.neg.has('mq') && this.maxQueuePairs > 1) {
      const want = Math.max(1, Math.min(opts.guestQueuePairs ?? this.maxQueuePairs, this.maxQueuePairs));
      this.controlCommand(CTRL_CLASS.MQ, CTRL_MQ.VQ_PAIRS_SET, vqPairsSetData(want));
    }
  }

  /** Config-change interrupt → the driver's config work runs (virtnet_config_changed_work). */
  private configInterrupt(): void {
    this.stats.config_interrupts++;
    this.sim.schedule(0, () => this.driverConfigChanged());
  }

  private driverConfigChanged(): void {
    const v = this.status;
    if ((v & VIRTIO_NET_S_ANNOUNCE) !== 0) {
      // netdev_notify_peers(): the stack sends GARP / unsolicited NA, then the driver acks.
      for (const cb of this.announceCbs) cb();
      this.controlCommand(CTRL_CLASS.ANNOUNCE, CTRL_ANNOUNCE.ACK);
    }
    this.driverLinkUp = (v & VIRTIO_NET_S_LINK_UP) !== 0;
  }

  private txComplete(q: Virtqueue, frame: Frame): void {
    q.use(1);
    q.counters.packets++;
    q.counters.bytes += frame.length;
    this.port.send(frame, hopMeta(0));
  }

  private txDrain(pair: number): void {
    const backlog = this.txBacklog[pair]!;
    const q = this.queues[2 * pair + 1]!;
    const frame = backlog.shift();
    if (frame !== undefined) {
      if (this.paused) {
        q.use(1);
        this.port.drop('migration', frame);
      } else if (!this.port.up) {
        q.use(1);
        this.port.drop('link-down', frame);
      } else {
        this.txComplete(q, frame);
      }
    }
    if (backlog.length > 0) this.sim.schedule(this.txServiceNs, () => this.txDrain(pair));
    else this.txBusy[pair] = false;
  }

  // ---------------------------------------------------------------------------------------------
  // Device receive path

  private deviceReceive(frame: Frame): void {
    if (this.paused) {
      this.port.drop('migration', frame);
      return;
    }
    if (frame.length < ETH_HLEN) {
      this.port.drop('runt', frame);
      return;
    }
    const filtered = this.rxFilter.check(frame, this.macAddr);
    if (filtered !== null) {
      this.port.drop(filtered, frame);
      return;
    }
    const pair = this.activePairs > 1 ? reciprocalScale(symmetricFlowHash(frame), this.activePairs) : 0;
    const q = this.queues[2 * pair]!;
    if (frame.length > this.maxRxFrame) {
      q.countDrop('oversize');
      this.port.drop('oversize', frame);
      return;
    }
    const need = this.mergeable ? Math.ceil((frame.length + this.hdrLen) / this.rxBufferBytes) : 1;
    if (q.outstanding < need) {
      q.countDrop('no-rx-buffer');
      this.port.drop('no-rx-buffer', frame);
      return;
    }
    q.use(need);
    q.counters.packets++;
    q.counters.bytes += frame.length;
    if (this.rxDelayNs === 0) this.guestReceive(pair, need, frame);
    else this.rxLine!.push(frame, pair, need);
  }

  private guestReceive(pair: number, buffers: number, frame: Frame): void {
    if (this.stalled) {
      this.deferWhileStalled({ tx: false, pair, buffers, frame });
      return;
    }
    if (this.paused) this.port.drop('migration', frame);
    else if (this.receiver === null) this.port.drop('no-receiver', frame);
    else this.receiver(frame);
    this.refill(pair, buffers);
  }

  /** The guest re-posts consumed rx buffers (Linux try_fill_recv after NAPI processing). */
  private refill(pair: number, buffers: number): void {
    if (!this.rxRefillEnabled) return;
    if (this.rxRefillDelayNs === 0) {
      this.queues[2 * pair]!.makeAvailable(buffers);
      return;
    }
    this.pendingRefill[pair]! += buffers;
    if (this.refillScheduled) return;
    this.refillScheduled = true;
    this.sim.schedule(this.rxRefillDelayNs, () => {
      this.refillScheduled = false;
      for (let p = 0; p < this.pendingRefill.length; p++) {
        if (this.rxRefillEnabled) this.queues[2 * p]!.makeAvailable(this.pendingRefill[p]!);
        this.pendingRefill[p] = 0;
      }
    });
  }
}
