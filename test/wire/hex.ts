/** Hex helpers for golden byte vectors (whitespace and `|` separators allowed for readability). */
export function hex(s: string): Uint8Array {
  const t = s.replace(/[\s|]/g, '');
  if (t.length % 2 !== 0) throw new Error(`odd hex length ${t.length}`);
  return Uint8Array.from(Buffer.from(t, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
