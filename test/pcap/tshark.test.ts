import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { FileSink } from '../../src/pcap/file-sink.adapter.js';
import { PcapWriter } from '../../src/pcap/pcap.js';
import { PcapngWriter } from '../../src/pcap/pcapng.js';
import {
  buildArpReply,
  buildArpRequest,
  buildGratuitousArp,
  buildIcmpEcho,
  buildNeighborAdvertisement,
  buildNeighborSolicitation,
  buildRarp,
  buildTcp,
  buildUdp,
  parseIpv4,
  parseIpv6,
  parseMac,
  pushVlan,
} from '../../src/wire/index.js';
import { describeWithTools } from '../helpers/tools.js';

const MAC1 = parseMac('02:00:00:00:00:01');
const MAC2 = parseMac('02:00:00:00:00:02');
const IP1 = parseIpv4('10.0.0.1');
const IP2 = parseIpv4('10.0.0.2');
const CHECKS = ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE'];

function tshark(file: string, ...args: string[]): string {
  return execFileSync('tshark', [...CHECKS, '-r', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}
function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.length > 0);
}

describeWithTools(['tshark'], 'traces read back by tshark', () => {
  let dir: string;
  let ng: string;
  let classic: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfab-pcap-'));
    ng = join(dir, 'nested', 'fabric.pcapng');
    const w = new PcapngWriter(new FileSink(ng), { snaplen: 65535 });
    const a = w.addInterface({ name: 'vm1.eth0', description: 'virtio' });
    const b = w.addInterface({ name: 'hv1.br0.uplink' });
    w.writePacket(a, 1_000_000_000, buildArpRequest({ srcMac: MAC1, srcIp: IP1, dstIp: IP2 }), { direction: 'out' });
    w.writePacket(a, 1_000_010_000, buildArpReply({ srcMac: MAC2, srcIp: IP2, dstMac: MAC1, dstIp: IP1 }), { direction: 'in' });
    w.writePacket(a, 1_000_020_001, buildIcmpEcho({ type: 'request', srcMac: MAC1, dstMac: MAC2, srcIp: IP1, dstIp: IP2, id: 1, seq: 1, payloadLen: 56 }), { direction: 'out' });
    w.writePacket(a, 1_000_030_000, buildIcmpEcho({ type: 'reply', srcMac: MAC2, dstMac: MAC1, srcIp: IP2, dstIp: IP1, id: 1, seq: 1, payloadLen: 56 }), { direction: 'in' });
    w.writePacket(b, 2_000_000_000, pushVlan(buildUdp({ srcMac: MAC1, dstMac: MAC2, srcIp: IP1, dstIp: IP2, srcPort: 40000, dstPort: 5001, payloadLen: 1000 }), { vid: 10, pcp: 3 }), { direction: 'out' });
    w.writePacket(b, 2_000_000_100, pushVlan(pushVlan(buildUdp({ srcMac: MAC1, dstMac: MAC2, srcIp: IP1, dstIp: IP2, srcPort: 1, dstPort: 2, payloadLen: 3 }), { vid: 20 }), { vid: 100, tpid: 0x88a8 }));
    w.writePacket(a, 3_000_000_000, buildGratuitousArp({ mac: MAC1, ip: IP1 }));
    w.writePacket(a, 3_000_000_001, buildRarp(MAC1));
    // An interface added after packets were written (pcapng allows IDBs anywhere in a section).
    const c = w.addInterface({ name: 'vm2.eth0', snaplen: 128 });
    const fd00 = parseIpv6('fd00::1');
    w.writePacket(c, 4_000_000_000, buildNeighborAdvertisement({ srcMac: MAC1, srcIp6: fd00, targetIp6: fd00, unsolicited: true }), { direction: 'out' });
    w.writePacket(c, 4_000_000_000, buildNeighborSolicitation({ srcMac: MAC2, srcIp6: parseIpv6('fd00::2'), targetIp6: fd00 }), { direction: 'in' });
    w.writePacket(c, 4_000_000_001, buildTcp({ srcMac: MAC1, dstMac: MAC2, srcIp: IP1, dstIp: IP2, srcPort: 40000, dstPort: 80, payloadLen: 500 }));
    w.close();

    classic = join(dir, 'vm1.eth0.pcap');
    const p = new PcapWriter(new FileSink(classic));
    p.writePacket(1_500_000_123, buildArpRequest({ srcMac: MAC1, srcIp: IP1, dstIp: IP2 }));
    p.writePacket(2_000_000_000, buildUdp({ srcMac: MAC1, dstMac: MAC2, srcIp: IP1, dstIp: IP2, srcPort: 40000, dstPort: 5001, payloadLen: 20 }));
    p.close();
  });

  it('names every frame with its interface and dissects the expected protocols', () => {
    const rows = lines(tshark(ng, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.interface_name', '-e', '_ws.col.Protocol'));
    expect(rows).toEqual([
      'vm1.eth0|ARP',
      'vm1.eth0|ARP',
      'vm1.eth0|ICMP',
      'vm1.eth0|ICMP',
      'hv1.br0.uplink|UDP',
      'hv1.br0.uplink|UDP',
      'vm1.eth0|ARP',
      'vm1.eth0|RARP',
      'vm2.eth0|ICMPv6',
      'vm2.eth0|ICMPv6',
      'vm2.eth0|TCP',
    ]);
  });

  it('finds no malformed frame and no expert error, checksums verified', () => {
    expect(tshark(ng, '-Y', '_ws.malformed')).toBe('');
    expect(tshark(ng, '-Y', '_ws.expert.severity == error')).toBe('');
    expect(lines(tshark(ng, '-Y', 'ip.checksum.status == 1 && udp.checksum.status == 1'))).toHaveLength(2);
  });

  it('recognizes the gratuitous ARP and the RARP announce', () => {
    expect(lines(tshark(ng, '-Y', 'arp.isgratuitous == 1', '-T', 'fields', '-e', 'frame.number'))).toEqual(['7']);
    expect(lines(tshark(ng, '-Y', 'eth.type == 0x8035', '-T', 'fields', '-e', 'frame.number', '-e', 'arp.opcode'))).toEqual(['8\t3']);
  });

  it('keeps nanosecond timestamps, directions and the VLAN tags', () => {
    const rows = lines(tshark(ng, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.packet_flags_direction'));
    expect(rows[2]).toMatch(/^1\.000020001\d*\t0x0*2$|^1\.000020001\d*\t2$/);
    expect(rows[3]).toMatch(/\t(0x0*1|1)$/);
    const vlans = lines(tshark(ng, '-Y', 'vlan || ieee8021ad', '-T', 'fields', '-e', 'ieee8021ad.id', '-e', 'vlan.id', '-e', 'vlan.priority'));
    expect(vlans).toEqual(['\t10\t3', '100\t20\t0']);
  });

  it('parses the neighbor advertisement with override and the target link-layer option', () => {
    const rows = lines(tshark(ng, '-Y', 'icmpv6.type == 136', '-T', 'fields', '-e', 'icmpv6.nd.na.flag.o', '-e', 'icmpv6.nd.na.flag.s', '-e', 'icmpv6.opt.linkaddr', '-e', 'ipv6.dst', '-e', 'icmpv6.checksum.status'));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(/^(1|True)\t(0|False)\t02:00:00:00:00:01\tff02::1\t1$/);
  });

  it('parses the neighbor solicitation to the solicited-node address with the source link-layer option', () => {
    const rows = lines(tshark(ng, '-Y', 'icmpv6.type == 135', '-T', 'fields', '-e', 'eth.dst', '-e', 'ipv6.dst', '-e', 'icmpv6.nd.ns.target_address', '-e', 'icmpv6.opt.linkaddr', '-e', 'icmpv6.checksum.status'));
    expect(rows).toEqual(['33:33:ff:00:00:01\tff02::1:ff00:1\tfd00::1\t02:00:00:00:00:02\t1']);
  });

  it('passes the shared pcap-check oracle', () => {
    execFileSync('bash', ['test/oracles/pcap-check.sh', ng], { stdio: 'ignore' });
  });

  it('reads back a classic nanosecond pcap with its timestamps', () => {
    expect(readFileSync(classic).readUInt32LE(0)).toBe(0xa1b23c4d);
    const rows = lines(tshark(classic, '-T', 'fields', '-e', 'frame.time_epoch', '-e', '_ws.col.Protocol'));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^1\.500000123\d*\tARP$/);
    expect(rows[1]).toMatch(/^2\.000000000\d*\tUDP$/);
    execFileSync('bash', ['test/oracles/pcap-check.sh', classic], { stdio: 'ignore' });
  });
});
