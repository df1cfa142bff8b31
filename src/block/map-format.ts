/**
 * `qemu-img map` human output (qemu-img.c dump_map_entry, OFORMAT_HUMAN): a header, then one line
 * per extent holding data that is not known to be zero, columns printed with "%#-16"PRIx64
 * (so 0 is "0", not "0x0") and the file name as QEMU names the layer.
 */
import type { MapExtent } from './image.js';

function col(n: number): string {
  return (n === 0 ? '0' : `0x${n.toString(16)}`).padEnd(16);
}

export function formatMapHuman(map: readonly MapExtent[]): string {
  const lines = [`${'Offset'.padEnd(16)}${'Length'.padEnd(16)}${'Mapped to'.padEnd(16)}File`];
  for (const e of map) if (e.data && !e.zero) lines.push(`${col(e.start)}${col(e.length)}${col(e.offset ?? 0)}${e.file ?? ''}`);
  return `${lines.join('\n')}\n`;
}

/**
 * `qemu-img map --output=json` byte for byte (qemu-img.c dump_map_entry, OFORMAT_JSON in 7.2):
 * "[" then one object per extent per line, ",\n" between them, "]\n" at the end.
 */
export function formatMapJson(map: readonly MapExtent[]): string {
  const objs = map.map(
    (e) =>
      `{ "start": ${e.start}, "length": ${e.length}, "depth": ${e.depth}, "present": ${e.present}, "zero": ${e.zero}, "data": ${e.data}` +
      (e.offset !== undefined ? `, "offset": ${e.offset}` : '') +
      '}',
  );
  return `[${objs.join(',\n')}]\n`;
}
