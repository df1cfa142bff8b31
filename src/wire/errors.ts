/**
 * Typed errors for untrusted bytes. A parser of frame bytes never throws into the data path: it
 * returns a `WireError` value naming the layer, the field and the byte offset (from the start of
 * the buffer the parser was given) so a device can count a drop and a CLI can print the place.
 */

export type WireErrorCode = 'WIRE_TRUNCATED' | 'WIRE_MALFORMED' | 'WIRE_UNSUPPORTED' | 'WIRE_CHECKSUM';

export type WireLayer =
  | 'ethernet'
  | 'vlan'
  | 'arp'
  | 'ipv4'
  | 'icmp'
  | 'udp'
  | 'tcp'
  | 'ipv6'
  | 'icmpv6';

export interface WireError {
  readonly kind: 'wire-error';
  readonly code: WireErrorCode;
  readonly layer: WireLayer;
  readonly field: string;
  /** Byte offset of the offending field in the buffer handed to the parser. */
  readonly offset: number;
  readonly message: string;
}

export function wireError(
  code: WireErrorCode,
  layer: WireLayer,
  field: string,
  offset: number,
  message: string,
): WireError {
  return { kind: 'wire-error', code, layer, field, offset, message };
}

export function truncated(layer: WireLayer, field: string, offset: number, need: number, have: number): WireError {
  return wireError('WIRE_TRUNCATED', layer, field, offset, `${layer} ${field}: need ${need} bytes, have ${have}`);
}

export function malformed(layer: WireLayer, field: string, offset: number, message: string): WireError {
  return wireError('WIRE_MALFORMED', layer, field, offset, `${layer} ${field}: ${message}`);
}

export function isWireError(x: unknown): x is WireError {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'wire-error';
}

/** `layer field at byte N: message`, for logs and CLI output. */
export function formatWireError(e: WireError): string {
  return `${e.layer} ${e.field} at byte ${e.offset}: ${e.message}`;
}
