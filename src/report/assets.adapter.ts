/**
 * The libraries the HTML report inlines, read from this package's own `node_modules` at report
 * time (uPlot's IIFE build and its stylesheet), so a report is one self-contained file that opens
 * offline. Read once per process.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ReportAssets } from './page.js';

let cached: ReportAssets | undefined;

export function loadAssets(): ReportAssets {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const read = (spec: string): string => readFileSync(require.resolve(spec), 'utf8');
  cached = { uplotJs: read('uplot/dist/uPlot.iife.min.js'), uplotCss: read('uplot/dist/uPlot.min.css') };
  return cached;
}
