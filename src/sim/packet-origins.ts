/**
 * Which packet a frame's bytes are: a relation between byte arrays, so a capture can give the
 * same pcapng `epb_packetid` to one packet wherever it is seen (draft-ietf-opsawg-pcapng §4.3:
 * "if the same packet is seen by multiple interfaces and there is a way for the capture
 * application to correlate them, the same epb_packetid value SHOULD be used").
 *
 * A device that forwards a packet in new bytes (a router's per-hop copy, a VLAN push, a tunnel's
 * encapsulation or decapsulation) relates the new array to the one it came from; devices that
 * pass the same array on need do nothing. Relations are kept only while a capture asks for
 * packet ids (`Simulation.packetOrigins` is undefined otherwise, so the forwarding path pays one
 * property check), and in a WeakMap, so they cost no memory once frames are gone.
 */
export class PacketOrigins {
  private readonly origins = new WeakMap<Uint8Array, Uint8Array>();

  /** `derived` carries the same packet as `from` (transitively: it gets `from`'s origin). */
  relate(derived: Uint8Array, from: Uint8Array): void {
    if (derived !== from) this.origins.set(derived, this.origins.get(from) ?? from);
  }

  /** The first byte array this packet was seen in. */
  origin(frame: Uint8Array): Uint8Array {
    return this.origins.get(frame) ?? frame;
  }
}
