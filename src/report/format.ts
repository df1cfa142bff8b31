/** Label text for diagrams (link rates and delays). */
import { formatBitRate, formatDuration } from '../util/axis.js';

export const formatRate = formatBitRate;

export function formatDelay(ns: number): string {
  return ns === 0 ? '0 delay' : formatDuration(ns);
}

/** Escapes text for XML/HTML content and attribute values. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
