/**
 * virtio-net control virtqueue constants (virtio 1.2 §5.1.6.5, Linux `include/uapi/linux/virtio_net.h`).
 *
 * A control command is `{u8 class, u8 command, data[], u8 ack}`; the device writes `ack`
 * (`VIRTIO_NET_OK` = 0 / `VIRTIO_NET_ERR` = 1) and marks the buffer used.
 */

/** `virtio_net_config.status` bits. */
export const VIRTIO_NET_S_LINK_UP = 1;
export const VIRTIO_NET_S_ANNOUNCE = 2;

export const VIRTIO_NET_OK = 0;
export const VIRTIO_NET_ERR = 1;
export type CtrlAck = typeof VIRTIO_NET_OK | typeof VIRTIO_NET_ERR;

export const CTRL_CLASS = {
  RX: 0,
  MAC: 1,
  VLAN: 2,
  ANNOUNCE: 3,
  MQ: 4,
  GUEST_OFFLOADS: 5,
  NOTF_COAL: 6,
} as const;

export const CTRL_RX = { PROMISC: 0, ALLMULTI: 1, ALLUNI: 2, NOMULTI: 3, NOUNI: 4, NOBCAST: 5 } as const;
export const CTRL_MAC = { TABLE_SET: 0, ADDR_SET: 1 } as const;
export const CTRL_VLAN = { ADD: 0, DEL: 1 } as const;
export const CTRL_ANNOUNCE = { ACK: 0 } as const;
export const CTRL_MQ = { VQ_PAIRS_SET: 0, RSS_CONFIG: 1, HASH_CONFIG: 2 } as const;
export const CTRL_GUEST_OFFLOADS = { SET: 0 } as const;

/** `VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN/MAX`. */
export const MQ_VQ_PAIRS_MIN = 1;
export const MQ_VQ_PAIRS_MAX = 0x8000;

/** QEMU's control queue size (`hw/net/virtio-net.c`: `virtio_add_queue(vdev, 64, virtio_net_handle_ctrl)`). */
export const DEFAULT_CTRL_QUEUE_SIZE = 64;

/** Encodes a `VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET` payload (`le16 virtqueue_pairs`). */
export function vqPairsSetData(pairs: number): Uint8Array {
  return new Uint8Array([pairs & 0xff, (pairs >> 8) & 0xff]);
}
