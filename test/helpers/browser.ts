/**
 * Debian's chromium driven by playwright-core (no browser download): the flags keep it offline
 * and quiet (no first-run, sync, component updates, background networking). Each launch gets a
 * fresh profile (playwright makes a temporary user-data-dir).
 */
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env['VFAB_CHROMIUM'] ?? '/usr/bin/chromium';
export const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 60_000 });
}

/** A page that records console errors, page errors and every request that is not file:/data:. */
export async function openPage(browser: Browser, url: string, viewport = { width: 1300, height: 1000 }): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  page.on('request', (r) => {
    if (!/^(file|data|about|blob):/.test(r.url())) problems.push(`network request: ${r.url()}`);
  });
  await page.goto(url, { waitUntil: 'load' });
  return { page, problems };
}
