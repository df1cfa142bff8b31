/**
 * The device's receive filter: QEMU `receive_filter()` (hw/net/virtio-net.c) and the control
 * commands that program it (`virtio_net_handle_rx_mode`, `virtio_net_handle_mac`,
 * `virtio_net_handle_vlan_table`).
 *
 * After reset the device is promiscuous (QEMU `virtio_net_reset`: promisc = 1); a Linux driver with
 * CTRL_RX turns that off at open (`virtnet_set_rx_mode`), after which unicast frames must match the
 * MAC or the unicast table, broadcast passes unless NOBCAST, and tagged frames must carry a VLAN the
 * driver added when CTRL_VLAN was negotiated (`virtio_net_set_features` clears the VLAN bitmap then;
 * without CTRL_VLAN every VLAN passes). vfab simplification: multicast passes unless NOMULTI (the
 * driver's multicast list is assumed to cover what arrives).
 */
import { CTRL_RX, CTRL_VLAN, VIRTIO_NET_ERR, VIRTIO_NET_OK, type CtrlAck } from './control.js';

export class RxFilter {
  promisc = true;
  allmulti = false;
  alluni = false;
  nomulti = false;
  nouni = false;
  nobcast = false;
  private uniTable: number[] = [];
  private readonly vlans: Uint8Array;

  constructor(vlanFiltering: boolean) {
    this.vlans = new Uint8Array(512).fill(vlanFiltering ? 0 : 0xff);
  }

  /** Returns a drop reason, or null when the frame passes. `mac` is the device's current MAC. */
  check(f: Uint8Array, mac: number): string | null {
    if (this.promisc) return null;
    if (f.length >= 16 && f[12] === 0x81 && f[13] === 0x00) {
      const vid = ((f[14]! << 8) | f[15]!) & 0xfff;
      if ((this.vlans[vid >> 3]! & (1 << (vid & 7))) === 0) return 'vlan-filter';
    }
    // The destination as two integers (16 + 32 bits): no float arithmetic per frame.
    const hi = (f[0]! << 8) | f[1]!;
    const lo = ((f[2]! << 24) | (f[3]! << 16) | (f[4]! << 8) | f[5]!) >>> 0;
    if ((hi & 0x100) !== 0) {
      if (hi === 0xffff && lo === 0xffffffff) return this.nobcast ? 'rx-filter' : null;
      return this.nomulti ? 'rx-filter' : null;
    }
    if (this.nouni) return 'rx-filter';
    if (this.alluni) return null;
    if (mac !== this.mac) {
      this.mac = mac;
      this.macHi = Math.floor(mac / 2 ** 32);
      this.macLo = mac % 2 ** 32;
    }
    if (hi === this.macHi && lo === this.macLo) return null;
    if (this.uniTable.length > 0 && this.uniTable.includes(hi * 2 ** 32 + lo)) return null;
    return 'rx-filter';
  }

  /** The MAC `check` last compared against, split as the frame's bytes are read (16 + 32 bits). */
  private mac = -1;
  private macHi = -1;
  private macLo = -1;

  /** VIRTIO_NET_CTRL_RX commands; `extra` = CTRL_RX_EXTRA negotiated. */
  rxMode(cmd: number, data: Uint8Array, extra: boolean): CtrlAck {
    if (data.length < 1) return VIRTIO_NET_ERR;
    const on = data[0] !== 0;
    if (cmd === CTRL_RX.PROMISC) this.promisc = on;
    else if (cmd === CTRL_RX.ALLMULTI) this.allmulti = on;
    else if (!extra) return VIRTIO_NET_ERR;
    else if (cmd === CTRL_RX.ALLUNI) this.alluni = on;
    else if (cmd === CTRL_RX.NOMULTI) this.nomulti = on;
    else if (cmd === CTRL_RX.NOUNI) this.nouni = on;
    else if (cmd === CTRL_RX.NOBCAST) this.nobcast = on;
    else return VIRTIO_NET_ERR;
    return VIRTIO_NET_OK;
  }

  /** VIRTIO_NET_CTRL_MAC_TABLE_SET: two `virtio_net_ctrl_mac` ({le32 entries; u8 macs[][6]}), unicast then multicast. */
  macTableSet(d: Uint8Array): CtrlAck {
    const rd32 = (o: number): number => (d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24)) >>> 0;
    if (d.length < 4) return VIRTIO_NET_ERR;
    const nUni = rd32(0);
    if (4 + 6 * nUni + 4 > d.length) return VIRTIO_NET_ERR;
    const nMulti = rd32(4 + 6 * nUni);
    if (4 + 6 * nUni + 4 + 6 * nMulti !== d.length) return VIRTIO_NET_ERR;
    const uni: number[] = [];
    for (let i = 0; i < nUni; i++) {
      let m = 0;
      for (let k = 0; k < 6; k++) m = m * 256 + d[4 + 6 * i + k]!;
      uni.push(m);
    }
    this.uniTable = uni;
    return VIRTIO_NET_OK;
  }

  /** VIRTIO_NET_CTRL_VLAN_ADD / _DEL with a `le16` VLAN id. */
  vlan(cmd: number, data: Uint8Array): CtrlAck {
    if (data.length !== 2) return VIRTIO_NET_ERR;
    const vid = data[0]! | (data[1]! << 8);
    if (vid >= 4096) return VIRTIO_NET_ERR;
    if (cmd === CTRL_VLAN.ADD) this.vlans[vid >> 3]! |= 1 << (vid & 7);
    else if (cmd === CTRL_VLAN.DEL) this.vlans[vid >> 3]! &= ~(1 << (vid & 7));
    else return VIRTIO_NET_ERR;
    return VIRTIO_NET_OK;
  }
}
