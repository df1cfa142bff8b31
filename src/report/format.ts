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

/** Any summary value as text: `-` for null/undefined, JSON for objects (summaries are JSON). */
export function text(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return v.toString();
  return JSON.stringify(v);
}
