import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithTools } from '../helpers/tools.js';
import { Announcer, type AnnounceNic } from '../../src/migration/announce.js';
import { Simulation } from '../../src/sim/index.js';
import { ms } from '../../src/sim/time.js';
import { Port, connect } from '../../src/port/port.js';
import { PcapWriter, MemorySink } from '../../src/pcap/index.js';
import { buildGratuitousArp, buildNeighborAdvertisement } from '../../src/wire/build.js';
import { parseIpv4, type Ipv6Words } from '../../src/wire/ip.js';

const MAC = 0x52_54_00_12_34_56;

describeWithTools(['tshark'], 'announce frames dissected by tshark', () => {
  let dir = '';
  let file = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfab-announce-'));
    file = join(dir, 'announce.pcap');
    const sim = new Simulation(1);
    const sinkMem = new MemorySink();
    const pcap = new PcapWriter(sinkMem);
    const port = new Port('vm2.eth0', () => {});
    connect(port, new Port('hv2.br0.vm2-eth0', () => {}));
    port.onFrame((_p, dir, f) => dir === 'tx' && pcap.writePacket(sim.now, f));
    const acks: Array<() => void> = [];
    const ip6: Ipv6Words = [0xfd000000, 0, 0, 2];
    const nic: AnnounceNic = {
      path: 'vm2.eth0',
      mac: MAC,
      port,
      requestAnnounce: () => {
        // A Linux guest's netif_notify_peers: GARP for its IPv4 address, unsolicited NA for IPv6.
        port.send(buildGratuitousArp({ mac: MAC, ip: parseIpv4('10.0.0.2') }), { hops: 0 });
        port.send(buildNeighborAdvertisement({ srcMac: MAC, srcIp6: ip6, targetIp6: ip6, unsolicited: true }), { hops: 0 });
        sim.schedule(0, () => acks.forEach((a) => a()));
        return true;
      },
      onAnnounceAck: (cb) => acks.push(cb),
    };
    sim.scheduleAt(ms(2000), () => new Announcer(sim, [nic], { mode: 'both' }).start());
    sim.run();
    pcap.close();
    writeFileSync(file, sinkMem.bytes());
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const tshark = (...args: string[]): string[] =>
    execFileSync('tshark', ['-r', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter((l) => l !== '');

  it('sees the RARPs as reverse requests (0x8035, opcode 3) with sender = target = the NIC MAC', () => {
    const rows = tshark('-Y', 'eth.type==0x8035', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.time_epoch', '-e', 'arp.opcode', '-e', 'arp.src.hw_mac', '-e', 'arp.dst.hw_mac', '-e', 'frame.len');
    expect(rows.map((r) => r.split('|').slice(1))).toEqual(Array(5).fill(['3', '52:54:00:12:34:56', '52:54:00:12:34:56', '60']));
    // 0, 50, 200, 450, 800 ms after the 2 s resume.
    expect(rows.map((r) => Math.round(Number(r.split('|')[0]) * 1000))).toEqual([2000, 2050, 2200, 2450, 2800]);
  });

  it('sees the guest GARPs as gratuitous and the NAs as unsolicited neighbour advertisements', () => {
    const garp = tshark('-Y', 'arp.isgratuitous==1', '-T', 'fields', '-e', 'arp.src.proto_ipv4');
    expect(garp).toEqual(Array(5).fill('10.0.0.2'));
    const na = tshark('-Y', 'icmpv6.type==136 && icmpv6.nd.na.flag.s==0 && icmpv6.nd.na.flag.o==1', '-T', 'fields', '-e', 'icmpv6.nd.na.target_address');
    expect(na).toEqual(Array(5).fill('fd00::2'));
    expect(tshark('-Y', '_ws.malformed || _ws.expert.severity >= error')).toEqual([]);
  });

  it('shows exactly the announces under the acceptance filter, at the schedule times', () => {
    const rows = tshark('-Y', 'arp.isgratuitous==1 || eth.type==0x8035', '-T', 'fields', '-e', 'frame.time_epoch');
    expect(rows.map((r) => Math.round(Number(r) * 1000))).toEqual([2000, 2000, 2050, 2050, 2200, 2200, 2450, 2450, 2800, 2800]);
  });
});
