/**
 * Every tshark display filter the docs give (README.md, docs/*.md) finds the same frames in a
 * VLAN-tagged fabric as in the untagged one (issue 10 #17). The README's `eth.type==0x8035`
 * missed every RARP carried with an 802.1Q tag (the outer ethertype is then 0x8100); the ARP
 * dissector's `arp.opcode==3` sees them all. tshark is the oracle: the same migration, tagged
 * and untagged, has the same announces, so any filter that counts differently is wrong.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runTopology, runTopologyAsync } from '../../src/fabric/run.js';
import { loadTopology, loadTopologyText } from '../../src/topology/index.js';
import { describeWithTools } from '../helpers/tools.js';

/** `tshark … -Y 'FILTER'` in the docs (markdown escapes `\|` inside tables). */
export function docFilters(): Array<{ file: string; filter: string }> {
  const files = ['README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
  const out: Array<{ file: string; filter: string }> = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/tshark\b[^\n`]*?-Y\s+'([^']+)'/g)) out.push({ file, filter: m[1]!.replaceAll('\\|', '|') });
    for (const m of text.matchAll(/tshark\b[^\n`]*?-Y\s+"([^"]+)"/g)) out.push({ file, filter: m[1]!.replaceAll('\\|', '|') });
  }
  return out;
}

describeWithTools(['tshark'], 'tshark filters in the docs on a VLAN-tagged fabric', () => {
  let dir = '';
  const pcap: Record<'plain' | 'tagged' | 'overlay' | 'nbd', string> = { plain: '', tagged: '', overlay: '', nbd: '' };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vfab-filters-'));
    const text = readFileSync('topologies/live-migration.yaml', 'utf8');
    const tagged = text.replace(/ipv4: (10\.0\.0\.\d\/24)/g, 'ipv4: $1, tag: 10');
    expect(tagged).not.toBe(text);
    for (const [k, t] of [['plain', text], ['tagged', tagged]] as const) {
      pcap[k] = join(dir, `${k}.pcapng`);
      runTopology(loadTopologyText(t, join(process.cwd(), 'topologies', `${k}.yaml`)), { pcapng: pcap[k] });
    }
    // packet ids are written for overlays only (capture.packet_ids: auto)
    pcap.overlay = join(dir, 'overlay.pcapng');
    runTopology('topologies/overlay-vxlan.yaml', { pcapng: pcap.overlay });
    // NBD (the block mirror, network disks) runs in the block-migration example
    pcap.nbd = join(dir, 'nbd.pcapng');
    await runTopologyAsync(loadTopology('topologies/block-migration.yaml'), { pcapng: pcap.nbd });
  }, 240_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const count = (file: string, filter: string): number =>
    execFileSync('tshark', ['-r', file, '-Y', filter], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').filter((l) => l.trim() !== '').length;

  it('the docs hold filters, and the tagged capture does carry tagged RARPs', () => {
    expect(docFilters().length).toBeGreaterThan(0);
    expect(count(pcap.tagged, 'vlan && (eth.type==0x8035 || vlan.etype==0x8035)')).toBeGreaterThan(0);
  });

  it.each(docFilters())('$file: $filter', ({ filter }) => {
    if (filter.includes('frame.packet_id')) {
      // a packet-id filter (docs/overlay.md) is shown on the overlay example
      expect(count(pcap.overlay, filter)).toBeGreaterThan(0);
      return;
    }
    if (/10809|\bnbd\b/.test(filter)) {
      // an NBD filter (docs/migration.md, docs/nbd.md) is shown on the block-migration example
      expect(count(pcap.nbd, filter)).toBeGreaterThan(0);
      return;
    }
    const plain = count(pcap.plain, filter);
    expect(plain).toBeGreaterThan(0);
    expect(count(pcap.tagged, filter)).toBe(plain);
  });
});
