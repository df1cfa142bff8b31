import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeWithTools } from '../helpers/tools.js';
import { runTopology } from '../../src/index.js';
import { routedLine } from './helpers.js';

describeWithTools(['tshark'], 'router ICMP errors seen by tshark', () => {
  it('time exceeded, net/port unreachable and fragmentation needed carry RFC 792 type/code, the MTU and the quoted header', () => {
    const steps = [
      '  - { at: 0s, traceroute: { from: a, to: b } }',
      '  - { at: 5s, traceroute: { from: a, to: 172.16.0.1, max_hops: 3 } }',
      '  - { at: 9s, ping: { from: a, to: b, count: 1, size: 1200 } }',
    ].join('\n');
    const file = join(mkdtempSync(join(tmpdir(), 'overlay-router-')), 'r.pcapng');
    runTopology({ text: routedLine(steps, undefined, undefined, 1000) }, { untilNs: 12e9, pcapng: file, capturePorts: ['a.eth0'] });
    const O = ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];
    const tshark = (...args: string[]): string => execFileSync('tshark', [...O, '-r', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(tshark('-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
    const fields = ['ip.src', 'ip.dst', 'icmp.type', 'icmp.code', 'icmp.mtu', 'icmp.checksum.status', 'ip.ttl', 'ip.dsfield', 'udp.dstport'];
    const rows = tshark('-Y', 'icmp.type == 3 || icmp.type == 11', '-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f]))
      .split('\n')
      .filter(Boolean)
      .map((l) => Object.fromEntries(l.split('|').map((v, i) => [fields[i]!, v])) as Record<string, string>);
    const first = (v: string | undefined): string => (v ?? '').split(',')[0]!;
    const sig = rows.map((r) => `${r['ip.src']} ${first(r['icmp.type'])}/${first(r['icmp.code'])} ${r['icmp.mtu']}`);
    // ip.src lists the outer then the quoted header's source; the quote names the probe.
    expect(sig).toEqual([
      '10.0.1.1,10.0.1.10 11/0 ',
      '192.168.0.2,10.0.1.10 11/0 ',
      '10.0.2.10,10.0.1.10 3/3 ',
      '10.0.1.1,10.0.1.10 11/0 ',
      '192.168.0.2,10.0.1.10 11/0 ',
      '192.168.0.2,10.0.1.10 3/0 ',
      '10.0.1.1,10.0.1.10 3/4 1000',
    ]);
    for (const r of rows) {
      expect(first(r['icmp.checksum.status'])).toBe('1');
      // Outer TTL as sent by the router/guest (64) minus the hops back; DSCP CS6 (0xc0) as Linux.
      expect(r['ip.dsfield']!.split(',')[0]).toBe('0xc0');
    }
    expect(rows.filter((r) => r['icmp.type'] === '11').map((r) => r['ip.dst']!.split(',')[1])).toEqual(['10.0.2.10', '10.0.2.10', '172.16.0.1', '172.16.0.1']);
    expect(rows.filter((r) => r['icmp.type'] === '11').every((r) => r['udp.dstport']!.startsWith('3343'))).toBe(true);
  });
});
