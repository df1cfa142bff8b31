import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeWithTools } from '../helpers/tools.js';
import { MemorySink, PcapngWriter, capturePorts } from '../../src/pcap/index.js';
import { Simulation } from '../../src/sim/simulation.js';
import { ms, us } from '../../src/sim/time.js';
import { VirtioNet } from '../../src/vnic/device.js';
import { GuestStack } from '../../src/guest/stack.js';
import { startPing, startUdpCbr } from '../../src/guest/apps.js';
import { delayedConnect } from './helpers.js';

describeWithTools(['tshark'], 'guest traffic seen by tshark', () => {
  it('dissects ARP, ICMP echo, UDP, gratuitous ARP and unsolicited NA cleanly with valid checksums', () => {
    const sim = new Simulation(1);
    const n1 = new VirtioNet({ path: 'vm1.eth0', sim, mac: 0x020000000001 });
    const n2 = new VirtioNet({ path: 'vm2.eth0', sim, mac: 0x020000000002 });
    delayedConnect(sim, n1.port, n2.port, us(10));
    const s1 = new GuestStack({ name: 'vm1', sim });
    const s2 = new GuestStack({ name: 'vm2', sim });
    s1.addInterface(n1, { ipv4: '10.0.0.1/24', ipv6: ['fd00::1/64'] });
    s2.addInterface(n2, { ipv4: '10.0.0.2/24' });
    const sink = new MemorySink();
    const w = new PcapngWriter(sink);
    capturePorts([n1.port], sim, w);
    startPing(s1, { dst: '10.0.0.2', count: 3, intervalNs: ms(10) });
    startUdpCbr(s1, { dst: '10.0.0.2', port: 5001, rateBps: 8e6, size: 1000, durationNs: ms(5), startNs: ms(50) });
    sim.schedule(ms(100), () => n1.requestAnnounce());
    sim.run();
    w.close();
    const dir = mkdtempSync(join(tmpdir(), 'vfab-guest-'));
    const file = join(dir, 'guest.pcapng');
    writeFileSync(file, sink.bytes());
    const O = ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];
    const tshark = (...args: string[]): string => execFileSync('tshark', [...O, '-r', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const bad = tshark('-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number');
    expect(bad.trim()).toBe('');
    const fields = ['frame.len', 'eth.dst', 'arp.opcode', 'arp.isgratuitous', 'arp.src.proto_ipv4', 'icmp.type', 'icmp.resp_to', 'udp.checksum.status', 'icmpv6.type', 'icmpv6.nd.na.flag.s', 'icmpv6.nd.na.flag.o', 'icmpv6.nd.na.target_address'];
    const rows = tshark('-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f]))
      .split('\n')
      .filter(Boolean)
      .map((l) => Object.fromEntries(l.split('|').map((v, i) => [fields[i]!, v])) as Record<string, string>);
    const count = (pred: (r: Record<string, string>) => boolean): number => rows.filter(pred).length;
    expect(rows).toHaveLength(17);
    // The broadcast request at start, and vm2's unicast probe of its STALE entry 5 s after use.
    expect(count((r) => r['arp.opcode'] === '1' && r['arp.isgratuitous'] === '' && r['eth.dst'] === 'ff:ff:ff:ff:ff:ff')).toBe(1);
    expect(count((r) => r['arp.opcode'] === '1' && r['arp.isgratuitous'] === '' && r['eth.dst'] === '02:00:00:00:00:01')).toBe(1);
    expect(count((r) => r['arp.opcode'] === '2')).toBe(2);
    expect(count((r) => r['icmp.type'] === '8')).toBe(3);
    expect(count((r) => r['icmp.type'] === '0' && r['icmp.resp_to'] !== '')).toBe(3);
    expect(count((r) => r['udp.checksum.status'] === '1')).toBe(5);
    expect(count((r) => r['arp.isgratuitous'] === '1' && r['arp.src.proto_ipv4'] === '10.0.0.1')).toBe(1);
    expect(count((r) => r['icmpv6.type'] === '136' && r['icmpv6.nd.na.flag.s'] === '0' && r['icmpv6.nd.na.flag.o'] === '1' && r['icmpv6.nd.na.target_address'] === 'fd00::1')).toBe(1);
    expect(count((r) => Number(r['frame.len']) < 60)).toBe(0);
  });
});
