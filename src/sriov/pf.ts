/**
 * A physical function: an SR-IOV NIC port with an uplink, its VFs and its embedded switch.
 *
 * # What it models
 * - `sriov_totalvfs` / `sriov_numvfs` with the kernel's rules (`drivers/pci/iov.c`
 *   `sriov_numvfs_store`): more than total → -ERANGE; the same count → no-op; 0 → disable all;
 *   a non-zero count while VFs exist → -EBUSY ("N VFs already enabled. Disable before enabling M
 *   VFs"). Disabling while VFs are assigned to VMs → -EPERM (ixgbe `ixgbe_pci_sriov_disable`).
 * - `ip link set PF vf N …` through `configureVf` (validation in `config.ts`).
 * - eswitch mode (`devlink dev eswitch set … mode legacy|switchdev`) and, in legacy mode, the
 *   bridge hwmode (`bridge link set dev PF hwmode veb|vepa`).
 *
 * # Legacy: the VEB
 * The NIC steers by destination MAC and VLAN (a "domain key": the VID, + 4096 for an 802.1ad
 * S-tag, 0 for untagged). A frame from a VF is normalized first: a VF with a port VLAN sends
 * untagged frames and its key is the port VLAN; a VF without one (VGT) keys by the guest's own
 * tag. Then:
 * - unicast to a VF MAC in the same domain → delivered to that VF only (`veb_unicast`), never on
 *   the uplink;
 * - broadcast/multicast → replicated to every other VF of the domain and sent out of the uplink;
 * - anything else → uplink.
 * The port VLAN tag (TPID per `proto`, PCP = `qos`) is inserted when the frame leaves by the
 * uplink and is never seen by a VF with a port VLAN. From the uplink, a frame goes to the VF whose
 * MAC and domain match (tag stripped), broadcast/multicast to all VFs of its domain; unknown
 * unicast is dropped (`no-vf-match`), unless the PF netdev is bridged (see below).
 * VEPA: every VF frame goes out of the uplink and the adjacent switch must hairpin it back;
 * frames reflected to their sender are pruned (ixgbevf drops frames carrying its own source MAC).
 *
 * The PF's own netdev (`hostPort()`, plugged into a host bridge) is one more VEB endpoint: it gets
 * broadcast, unicast for its MAC and its FDB entries from VFs, and everything unknown from the
 * wire (a bridged PF is promiscuous); what it sends is switched to VFs by MAC + VLAN, else the
 * uplink.
 *
 * Not modelled: per-VF multicast filter tables (every VF of a domain gets all multicast, as with
 * allmulti), `min_tx_rate` enforcement (stored, shown and validated: the NIC has no internal
 * contention in this model).
 *
 * # Switchdev
 * Each VF's traffic goes to and from its representor port (`representor(i)`, netdev name like
 * `pf0vf0`), and the uplink's to the uplink representor (`uplinkRepresentor()`); the fabric
 * connects them to bridge ports, so the bridge's flow tables switch VF traffic (the slow path a
 * TC-flower offload would accelerate: see `offload.ts`). Legacy-only knobs are refused (vlan) or
 * inert (spoofchk, which belongs to the bridge's rules then).
 */
import { Port, MAX_HOPS, type Frame, type FrameMeta } from '../port/port.js';
import type { EventSink } from '../port/nic.js';
import type { Simulation } from '../sim/index.js';
import { formatMac, readMac, parseMac } from '../wire/mac.js';
import { applyKnobs, defaultVfConfig, type EswitchMode, type VfKnobs } from './config.js';
import { SriovError, problemToError } from './errors.js';
import { NIC_MODELS, isNicModel, type NicCaps } from './models.js';
import { outerTpid, outerTci, popTag, pushTag, TPID_8021AD, TPID_8021Q } from './tags.js';
import { VirtualFunction, type VfHost, type VfStats } from './vf.js';
import { formatIpLinkShow, type IpLinkShowOptions } from './ip-link.js';

export type HwMode = 'veb' | 'vepa';

export interface PhysicalFunctionOptions {
  /** Dotted path, e.g. `hv1.pf0`; the last segment is the netdev name. */
  path: string;
  sim: Simulation;
  /** A NicModel name; any string is accepted here and refused with the list when unknown. */
  model?: string;
  /** `sriov_totalvfs`: the driver may lower the model's maximum, never raise it. */
  totalVfs?: number;
  numVfs?: number;
  eswitchMode?: EswitchMode;
  hwmode?: HwMode;
  /** The PF's own MAC (shown by `ip link show`); derived from the path when absent. */
  mac?: number | string;
  events?: EventSink;
  /** TX ring size per VF (frames waiting for rate-limit tokens). */
  txRing?: number;
  /** Interface index for `ip link show`. */
  ifindex?: number;
}

/** NIC-wide counters: which path frames took. */
export interface PfStats {
  /** Unicast frames the VEB delivered VF → VF. */
  veb_unicast: number;
  /** Copies of broadcast/multicast frames the VEB replicated to VFs. */
  veb_flood_copies: number;
  uplink_tx: number;
  uplink_rx: number;
  /** Unicast from the uplink that matched no VF (dropped). */
  uplink_rx_no_vf: number;
  /** VEPA: reflected frames pruned at their sender. */
  vepa_pruned: number;
  representor_tx: number;
  representor_rx: number;
  /** Frames the VEB delivered to the PF's own netdev (`hostPort()`), and frames it sent. */
  host_tx: number;
  host_rx: number;
}

/** One VF's counters for summaries: the port counters plus VF specifics. */
export interface VfCounters extends VfStats {
  rx_packets: number;
  rx_bytes: number;
  tx_packets: number;
  tx_bytes: number;
  spoofed: number;
  drops: Record<string, number>;
}

function hashLabel(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export class PhysicalFunction implements VfHost {
  readonly path: string;
  /** Netdev name (last path segment), e.g. `pf0`. */
  readonly name: string;
  readonly model: string;
  readonly caps: NicCaps;
  readonly totalVfs: number;
  readonly sim: Simulation;
  readonly mac: number;
  readonly ifindex: number;
  readonly uplink: Port;
  readonly stats: PfStats = { veb_unicast: 0, veb_flood_copies: 0, uplink_tx: 0, uplink_rx: 0, uplink_rx_no_vf: 0, vepa_pruned: 0, representor_tx: 0, representor_rx: 0, host_tx: 0, host_rx: 0 };
  private mode: EswitchMode;
  private hw: HwMode;
  private vfList: VirtualFunction[] = [];
  private reps: Port[] = [];
  /** Every VF ever created, by index (reused when VFs are re-enabled). */
  private pool: VirtualFunction[] = [];
  private repPool: Port[] = [];
  private uplinkRep: Port | null = null;
  private host: Port | null = null;
  /** `bridge fdb add MAC dev PF self`: extra unicast MACs the VEB sends to the PF netdev. */
  readonly hostFdb = new Set<number>();
  /** VEB lookup: MAC → VFs using it (different domains may share a MAC). */
  private macTable = new Map<number, VirtualFunction[]>();
  private readonly events: EventSink | undefined;
  private readonly txRing: number | undefined;

  constructor(opts: PhysicalFunctionOptions) {
    this.path = opts.path;
    this.name = opts.path.slice(opts.path.lastIndexOf('.') + 1);
    this.sim = opts.sim;
    const model = opts.model ?? 'generic';
    if (!isNicModel(model)) {
      throw new SriovError('SRIOV_TOTAL_VFS', 'EINVAL', `${this.path}: unknown NIC model "${model}" (known: ${Object.keys(NIC_MODELS).join(', ')})`, { where: this.path });
    }
    this.model = model;
    this.caps = NIC_MODELS[model];
    const total = opts.totalVfs ?? this.caps.totalVfs;
    if (!Number.isInteger(total) || total < 0 || total > this.caps.totalVfs) {
      throw new SriovError(
        'SRIOV_TOTAL_VFS',
        'EINVAL',
        `${this.path}: total_vfs ${total} exceeds the ${model} hardware maximum of ${this.caps.totalVfs} (a driver can lower sriov_totalvfs, not raise it)`,
        { where: this.path },
      );
    }
    this.totalVfs = total;
    this.events = opts.events;
    this.txRing = opts.txRing;
    this.ifindex = opts.ifindex ?? 2;
    const h = hashLabel(this.path);
    this.mac = opts.mac === undefined ? 0x0200_0000_0000 + h * 0x100 : typeof opts.mac === 'number' ? opts.mac : parseMac(opts.mac);
    this.mode = 'legacy';
    this.hw = opts.hwmode ?? 'veb';
    if (this.hw === 'vepa' && !this.caps.vepa) {
      throw new SriovError('SRIOV_VEPA_UNSUPPORTED', 'EOPNOTSUPP', `${this.path}: ${model} does not support hwmode vepa`, { where: this.path });
    }
    this.uplink = new Port(`${this.path}.uplink`, (frame, meta) => this.fromUplink(frame, meta));
    if (opts.eswitchMode !== undefined) this.setEswitchMode(opts.eswitchMode);
    if (opts.numVfs !== undefined) this.setNumVfs(opts.numVfs);
  }

  get eswitchMode(): EswitchMode {
    return this.mode;
  }

  get hwmode(): HwMode {
    return this.hw;
  }

  get numVfs(): number {
    return this.vfList.length;
  }

  /** PF carrier: the uplink port's state. */
  get linkUp(): boolean {
    return this.uplink.up;
  }

  setLinkUp(up: boolean): void {
    if (this.uplink.up === up) return;
    this.uplink.up = up;
    this.event({ type: 'pf-link', port: this.path, up });
  }

  /** All present VFs in index order. */
  get vfs(): readonly VirtualFunction[] {
    return this.vfList;
  }

  vf(i: number): VirtualFunction {
    const vf = this.vfList[i];
    if (vf === undefined) throw this.indexError(i);
    return vf;
  }

  /** `echo n > /sys/class/net/PF/device/sriov_numvfs`. */
  setNumVfs(n: number): void {
    if (!Number.isInteger(n) || n < 0) {
      throw new SriovError('SRIOV_NUMVFS_RANGE', 'EINVAL', `${this.path}: num_vfs ${n} is not a whole number`, { where: this.path });
    }
    if (n > this.totalVfs) {
      throw new SriovError('SRIOV_NUMVFS_RANGE', 'ERANGE', `${this.path}: cannot enable ${n} VFs, sriov_totalvfs is ${this.totalVfs}`, { where: this.path });
    }
    const cur = this.vfList.length;
    if (n === cur) return;
    if (n === 0) {
      const used = this.vfList.filter((v) => v.assignedTo !== null);
      if (used.length > 0) {
        throw new SriovError('SRIOV_VFS_ASSIGNED', 'EPERM', `${this.path}: cannot disable VFs while ${used.map((v) => `vf${v.index} (${v.assignedTo})`).join(', ')} are assigned to VMs`, {
          where: this.path,
        });
      }
      for (const v of this.vfList) v.present = false;
      this.vfList = [];
      this.reps = [];
      this.macTable.clear();
    } else {
      if (cur !== 0) {
        throw new SriovError('SRIOV_NUMVFS_BUSY', 'EBUSY', `${this.path}: ${cur} VFs already enabled. Disable before enabling ${n} VFs (write 0 to sriov_numvfs first)`, {
          where: this.path,
        });
      }
      const prng = this.sim.prng.fork(`sriov:${this.path}`);
      for (let i = 0; i < n; i++) {
        // ixgbevf picks a random locally administered MAC when the PF sets none.
        const driverMac = 0x0200_0000_0000 + (prng.nextU32() & 0xff) * 0x1_0000_0000 + prng.nextU32();
        // A re-enabled VF reuses its object (and port), so port paths stay unique in registries
        // and its counters accumulate; its configuration starts from the defaults again.
        let vf = this.pool[i];
        if (vf === undefined) {
          vf = new VirtualFunction(this, i, this.path, defaultVfConfig(), driverMac, this.txRing);
          this.pool.push(vf);
          this.repPool.push(this.makeRepresentor(vf));
        } else {
          vf.reset(defaultVfConfig());
        }
        this.vfList.push(vf);
        this.reps.push(this.repPool[i]!);
      }
      this.rebuildMacTable();
    }
    this.event({ type: 'sriov-numvfs', port: this.path, num_vfs: n });
  }

  /** `ip link set PF vf i KNOBS…`; throws a SriovError (the first problem) and changes nothing. */
  configureVf(i: number, knobs: VfKnobs): void {
    const vf = this.vf(i);
    const { config, problems } = applyKnobs(vf.config, knobs, { caps: this.caps, model: this.model, mode: this.mode });
    const p = problems[0];
    if (p !== undefined) throw problemToError({ ...p, message: `${vf.path}: ${p.message}` }, { where: `${vf.path}.${p.field}` });
    vf.applyConfig(config);
    const mac = knobs.mac === undefined ? {} : { mac: typeof knobs.mac === 'number' ? formatMac(knobs.mac) : knobs.mac };
    this.event({ type: 'vf-config', port: vf.path, ...knobs, ...mac });
  }

  /** `devlink dev eswitch set … mode MODE`. */
  setEswitchMode(mode: EswitchMode): void {
    if (mode === this.mode) return;
    if (mode === 'switchdev' && !this.caps.switchdev) {
      throw new SriovError('SRIOV_SWITCHDEV_UNSUPPORTED', 'EOPNOTSUPP', `${this.path}: ${this.model} has no switchdev eswitch mode (devlink eswitch_mode_set not implemented)`, {
        where: this.path,
      });
    }
    this.mode = mode;
    this.event({ type: 'eswitch-mode', port: this.path, mode });
  }

  /** `bridge link set dev PF hwmode veb|vepa` (legacy mode). */
  setHwMode(hw: HwMode): void {
    if (hw === 'vepa' && !this.caps.vepa) {
      throw new SriovError('SRIOV_VEPA_UNSUPPORTED', 'EOPNOTSUPP', `${this.path}: ${this.model} does not support hwmode vepa`, { where: this.path });
    }
    this.hw = hw;
  }

  /** Marks VF `i` as used by `owner` (a VM interface path). A VF can be passed through once. */
  assignVf(i: number, owner: string): VirtualFunction {
    const vf = this.vf(i);
    if (vf.assignedTo !== null && vf.assignedTo !== owner) {
      throw new SriovError('SRIOV_VF_ASSIGNED_TWICE', 'EBUSY', `${vf.path} is already assigned to ${vf.assignedTo}`, { where: owner });
    }
    vf.assignedTo = owner;
    return vf;
  }

  /** Hands VF `i` back (VM gone or VF hot-unplugged): frames for it are dropped as `no-driver`. */
  releaseVf(i: number): void {
    const vf = this.vf(i);
    vf.assignedTo = null;
    vf.clearReceiver();
  }

  /** Netdev name of VF `i`'s representor (mlx5/ice `phys_port_name` style): `pf0vf0`. */
  representorName(i: number): string {
    return `${this.name}vf${i}`;
  }

  /**
   * VF `i`'s representor: in switchdev mode every frame the VF sends leaves here, and every frame
   * sent into it reaches the VF. Connect it to a bridge port (`connect(bridgePort, rep)`).
   */
  representor(i: number): Port {
    const r = this.reps[i];
    if (r === undefined) throw this.indexError(i);
    return r;
  }

  /** The uplink representor (the PF netdev in switchdev mode): bridge ↔ wire. */
  uplinkRepresentor(): Port {
    if (this.uplinkRep === null) {
      this.uplinkRep = new Port(`${this.path}.rep.${this.name}`, (frame, meta) => {
        this.stats.uplink_tx++;
        this.uplink.send(frame, meta);
      });
    }
    return this.uplinkRep;
  }

  /**
   * The PF's own netdev in legacy mode; plug it into a host bridge (`connect(bridgePort, pf.hostPort())`).
   * Enslaved to a bridge it is promiscuous towards the wire, but the VEB sends it VF unicast only
   * for its own MAC and the `addHostFdb` entries (`bridge fdb add MAC dev PF self`): a VF reaches
   * a VM behind the PF's bridge only once that VM's MAC is in the PF's FDB, as on ixgbe/i40e.
   */
  hostPort(): Port {
    if (this.host === null) this.host = new Port(`${this.path}.host`, (frame, meta) => this.fromHost(frame, meta));
    return this.host;
  }

  addHostFdb(mac: number): void {
    this.hostFdb.add(mac);
  }

  /** Port counters + VF counters of VF `i`, a plain object for summaries. */
  vfCounters(i: number): VfCounters {
    const vf = this.vf(i);
    const c = vf.port.counters;
    return {
      rx_packets: c.rx_packets,
      rx_bytes: c.rx_bytes,
      tx_packets: c.tx_packets,
      tx_bytes: c.tx_bytes,
      ...vf.stats,
      spoofed: c.drops['spoofed'] ?? 0,
      drops: { ...c.drops },
    };
  }

  /** `ip link show PF` (`stats: true` = `ip -s link show PF`). */
  ipLinkShow(opts: IpLinkShowOptions = {}): string {
    return formatIpLinkShow(this, opts);
  }

  event(e: { type: string; [field: string]: unknown }): void {
    this.events?.({ ...e, type: e.type, time_ns: this.sim.now });
  }

  filtersChanged(_vf: VirtualFunction): void {
    this.rebuildMacTable();
  }

  // ---- data path -------------------------------------------------------------------------------

  fromVf(vf: VirtualFunction, frame: Frame, meta: FrameMeta): void {
    if (meta.hops >= MAX_HOPS) {
      vf.port.drop('loop', frame);
      return;
    }
    if (this.mode === 'switchdev') {
      vf.stats.tx_representor++;
      this.stats.representor_tx++;
      this.reps[vf.index]!.send(frame, meta);
      return;
    }
    // Normalize to (inner frame, domain key, pcp).
    let inner = frame;
    let key: number;
    let pcp: number;
    const cfg = vf.config;
    if (cfg.vlan !== 0) {
      key = vf.portKey;
      pcp = cfg.qos;
    } else {
      const tpid = outerTpid(frame);
      if (tpid === 0) {
        key = 0;
        pcp = 0;
      } else {
        const tci = outerTci(frame);
        key = (tci & 0xfff) + (tpid === TPID_8021AD ? 4096 : 0);
        pcp = tci >>> 13;
        inner = popTag(frame);
      }
    }
    const next: FrameMeta = { hops: meta.hops + 1 };
    if (this.hw === 'vepa') {
      this.toUplink(vf, inner, key, pcp, next);
      return;
    }
    if ((frame[0]! & 1) === 1) {
      const vfs = this.vfList;
      for (let j = 0; j < vfs.length; j++) {
        const other = vfs[j]!;
        if (other === vf || !other.acceptsKey(key)) continue;
        this.stats.veb_flood_copies++;
        this.deliver(other, inner, key, pcp, next);
      }
      if (this.host !== null) this.toHost(inner, key, pcp, next);
      this.toUplink(vf, inner, key, pcp, next);
      return;
    }
    const dst = readMac(frame, 0);
    const target = this.lookup(dst, key);
    if (target !== null && target !== vf) {
      this.stats.veb_unicast++;
      vf.stats.tx_veb++;
      this.deliver(target, inner, key, pcp, next);
      return;
    }
    if (this.host !== null && (dst === this.mac || this.hostFdb.has(dst))) {
      vf.stats.tx_veb++;
      this.toHost(inner, key, pcp, next);
      return;
    }
    this.toUplink(vf, inner, key, pcp, next);
  }

  // Results of the last `untag` besides the frame, kept in fields so the per-frame path
  // allocates no result object.
  private untagKey = 0;
  private untagPcp = 0;

  /**
   * Strips the outer tag of a frame entering the NIC from the wire side and returns the inner
   * frame (the same bytes when untagged). Sets `untagKey` to the VLAN key (VID, +4096 for
   * 802.1ad; 0 = untagged) and `untagPcp` to its priority.
   */
  private untag(frame: Frame): Frame {
    const tpid = outerTpid(frame);
    if (tpid === 0) {
      this.untagKey = 0;
      this.untagPcp = 0;
      return frame;
    }
    const tci = outerTci(frame);
    this.untagKey = (tci & 0xfff) + (tpid === TPID_8021AD ? 4096 : 0);
    this.untagPcp = tci >>> 13;
    return popTag(frame);
  }

  /** A frame the PF netdev (the host bridge) sends: VFs by MAC + VLAN, else the uplink. */
  private fromHost(frame: Frame, meta: FrameMeta): void {
    this.stats.host_rx++;
    if (meta.hops >= MAX_HOPS) {
      this.host?.drop('loop', frame);
      return;
    }
    const inner = this.untag(frame);
    const key = this.untagKey;
    const pcp = this.untagPcp;
    const next: FrameMeta = { hops: meta.hops + 1 };
    if (this.mode === 'legacy' && this.hw === 'veb') {
      if ((frame[0]! & 1) === 1) {
        const vfs = this.vfList;
        for (let j = 0; j < vfs.length; j++) {
          if (!vfs[j]!.acceptsKey(key)) continue;
          this.stats.veb_flood_copies++;
          this.deliver(vfs[j]!, inner, key, pcp, next);
        }
      } else {
        const target = this.lookup(readMac(frame, 0), key);
        if (target !== null) {
          this.stats.veb_unicast++;
          this.deliver(target, inner, key, pcp, next);
          return;
        }
      }
    }
    this.toUplink(null, inner, key, pcp, next);
  }

  private fromUplink(frame: Frame, meta: FrameMeta): void {
    this.stats.uplink_rx++;
    if (this.mode === 'switchdev') {
      this.uplinkRepresentor().send(frame, meta);
      return;
    }
    const inner = this.untag(frame);
    const key = this.untagKey;
    const pcp = this.untagPcp;
    const next: FrameMeta = { hops: meta.hops + 1 };
    const vepa = this.hw === 'vepa';
    if ((frame[0]! & 1) === 1) {
      const src = vepa ? readMac(frame, 6) : -1;
      const vfs = this.vfList;
      for (let j = 0; j < vfs.length; j++) {
        const vf = vfs[j]!;
        if (!vf.acceptsKey(key)) continue;
        if (src === vf.mac) {
          this.stats.vepa_pruned++;
          continue;
        }
        this.deliver(vf, inner, key, pcp, next);
      }
      if (this.host !== null) this.toHost(inner, key, pcp, next);
      return;
    }
    const target = this.lookup(readMac(frame, 0), key);
    if (target === null && this.host !== null) {
      this.toHost(inner, key, pcp, next); // the PF netdev is promiscuous once bridged
      return;
    }
    if (target === null) {
      this.stats.uplink_rx_no_vf++;
      this.uplink.drop('no-vf-match', frame);
      return;
    }
    if (vepa && readMac(frame, 6) === target.mac) {
      this.stats.vepa_pruned++;
      return;
    }
    this.deliver(target, inner, key, pcp, next);
  }

  /** Hands `inner` to `vf` in the form it expects: untagged with a port VLAN, re-tagged for VGT. */
  private deliver(vf: VirtualFunction, inner: Frame, key: number, pcp: number, meta: FrameMeta): void {
    const f = key === 0 || vf.config.vlan !== 0 ? inner : pushTag(inner, key >= 4096 ? TPID_8021AD : TPID_8021Q, (pcp << 13) | (key & 0xfff));
    vf.deliver(f, meta);
  }

  private toUplink(vf: VirtualFunction | null, inner: Frame, key: number, pcp: number, meta: FrameMeta): void {
    const f = key === 0 ? inner : pushTag(inner, key >= 4096 ? TPID_8021AD : TPID_8021Q, (pcp << 13) | (key & 0xfff));
    this.stats.uplink_tx++;
    if (vf !== null) vf.stats.tx_uplink++;
    this.uplink.send(f, meta);
  }

  private toHost(inner: Frame, key: number, pcp: number, meta: FrameMeta): void {
    const f = key === 0 ? inner : pushTag(inner, key >= 4096 ? TPID_8021AD : TPID_8021Q, (pcp << 13) | (key & 0xfff));
    this.stats.host_tx++;
    this.host!.send(f, meta);
  }

  private lookup(mac: number, key: number): VirtualFunction | null {
    const list = this.macTable.get(mac);
    if (list === undefined) return null;
    for (let i = 0; i < list.length; i++) if (list[i]!.acceptsKey(key)) return list[i]!;
    return null;
  }

  private rebuildMacTable(): void {
    const t = new Map<number, VirtualFunction[]>();
    const add = (mac: number, vf: VirtualFunction): void => {
      const l = t.get(mac);
      if (l === undefined) t.set(mac, [vf]);
      else if (!l.includes(vf)) l.push(vf);
    };
    for (const vf of this.vfList) {
      add(vf.mac, vf);
      for (const m of vf.extraMacs) add(m, vf);
    }
    this.macTable = t;
  }

  private makeRepresentor(vf: VirtualFunction): Port {
    return new Port(`${this.path}.rep.${this.representorName(vf.index)}`, (frame, meta) => {
      this.stats.representor_rx++;
      vf.deliver(frame, meta);
    });
  }

  private indexError(i: number): SriovError {
    return new SriovError('SRIOV_VF_INDEX', 'EINVAL', `${this.path}: VF ${i} does not exist (num_vfs is ${this.vfList.length}, VFs are 0..${this.vfList.length - 1})`, {
      where: `${this.path}.vf${i}`,
    });
  }
}
