/**
 * What vfab's encoder writes for the switch-to-controller messages, parsed by the real os-ken
 * parser (python3-os-ken): every message must parse, and the fields must read back as written.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { encode, type OfpMessage } from '../../src/openflow/index.js';
import { describeWithTools } from '../helpers/tools.js';

const script = fileURLToPath(new URL('../fixtures/openflow/osken-parse.py', import.meta.url));

function osken(msgs: OfpMessage[]): Record<string, Record<string, unknown>>[] {
  const input = msgs.map((m) => Buffer.from(encode(m)).toString('hex')).join('\n') + '\n';
  const out = execFileSync('/usr/bin/python3', [script], { input, encoding: 'utf8', timeout: 60_000 });
  return out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>);
}

describeWithTools(['osken-manager'], 'openflow encoder vs the os-ken parser', () => {
  const port = { portNo: 1, hwAddr: 0x020000000001, name: 'eth1', config: 0, state: 4, curr: 0x840, advertised: 0, supported: 0, peer: 0, currSpeed: 10_000_000, maxSpeed: 10_000_000 };
  const frame = new Uint8Array(60).fill(0xab);
  const msgs: OfpMessage[] = [
    { type: 'features_reply', xid: 1, datapathId: 0x0000_0000_0000_00a1n, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0x4f },
    { type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: 60, reason: 0, tableId: 0, cookie: 0n, match: [{ field: 'in_port', value: 3 }], data: frame },
    { type: 'port_status', xid: 0, reason: 2, desc: port },
    { type: 'flow_removed', xid: 0, cookie: 7n, priority: 100, reason: 0, tableId: 0, durationSec: 3, durationNsec: 5, idleTimeout: 10, hardTimeout: 0, packetCount: 4n, byteCount: 400n, match: [{ field: 'eth_dst', value: 2 }] },
    { type: 'error', xid: 9, errType: 1, code: 6, data: new Uint8Array([4, 14, 0, 8, 0, 0, 0, 9]) },
    { type: 'get_config_reply', xid: 3, flags: 0, missSendLen: 128 },
    { type: 'barrier_reply', xid: 4 },
    { type: 'role_reply', xid: 5, role: 2, generationId: 7n },
    { type: 'multipart_reply', xid: 6, flags: 0, body: { mp: 'desc', mfrDesc: 'vfab', hwDesc: 'vfab bridge', swDesc: '0.1.0', serialNum: 'None', dpDesc: 'hv1.br0' } },
    {
      type: 'multipart_reply', xid: 7, flags: 0,
      body: {
        mp: 'flow',
        stats: [{
          tableId: 0, durationSec: 1, durationNsec: 2, priority: 1, idleTimeout: 0, hardTimeout: 0, flags: 0, cookie: 0n, packetCount: 9n, byteCount: 900n,
          match: [{ field: 'in_port', value: 1 }, { field: 'eth_dst', value: 2 }],
          instructions: [{ type: 'apply_actions', actions: [{ type: 'output', port: 2, maxLen: 0 }] }],
        }],
      },
    },
    { type: 'multipart_reply', xid: 8, flags: 0, body: { mp: 'aggregate', packetCount: 9n, byteCount: 900n, flowCount: 1 } },
    { type: 'multipart_reply', xid: 9, flags: 0, body: { mp: 'port_desc', ports: [port] } },
    {
      type: 'multipart_reply', xid: 10, flags: 0,
      body: { mp: 'port_stats', stats: [{ portNo: 1, durationSec: 1, durationNsec: 0, rxPackets: 1n, txPackets: 2n, rxBytes: 3n, txBytes: 4n, rxDropped: 5n, txDropped: 6n, rxErrors: 0n, txErrors: 0n, rxFrameErr: 0n, rxOverErr: 0n, rxCrcErr: 0n, collisions: 0n }] },
    },
    { type: 'multipart_reply', xid: 11, flags: 0, body: { mp: 'table', stats: [{ tableId: 0, activeCount: 2, lookupCount: 10n, matchedCount: 8n }] } },
    { type: 'multipart_reply', xid: 12, flags: 0, body: { mp: 'group_desc', groups: [{ groupType: 0, groupId: 1, buckets: [{ weight: 0, watchPort: 0xffffffff, watchGroup: 0xffffffff, actions: [{ type: 'output', port: 1, maxLen: 0 }] }] }] } },
    { type: 'multipart_reply', xid: 13, flags: 0, body: { mp: 'group', stats: [{ groupId: 1, refCount: 0, packetCount: 0n, byteCount: 0n, durationSec: 1, durationNsec: 0, bucketStats: [{ packetCount: 0n, byteCount: 0n }] }] } },
    { type: 'multipart_reply', xid: 14, flags: 0, body: { mp: 'meter', stats: [{ meterId: 1, flowCount: 0, packetInCount: 0n, byteInCount: 0n, durationSec: 1, durationNsec: 0, bandStats: [{ packetBandCount: 0n, byteBandCount: 0n }] }] } },
    { type: 'hello', xid: 1, versions: [4] },
    { type: 'echo_reply', xid: 2, data: new Uint8Array([1, 2]) },
  ];

  it('os-ken parses every message and reads the fields back', () => {
    const got = osken(msgs);
    expect(got.map((g) => Object.keys(g)[0])).toEqual([
      'OFPSwitchFeatures', 'OFPPacketIn', 'OFPPortStatus', 'OFPFlowRemoved', 'OFPErrorMsg', 'OFPGetConfigReply', 'OFPBarrierReply',
      'OFPRoleReply', 'OFPDescStatsReply', 'OFPFlowStatsReply', 'OFPAggregateStatsReply', 'OFPPortDescStatsReply', 'OFPPortStatsReply',
      'OFPTableStatsReply', 'OFPGroupDescStatsReply', 'OFPGroupStatsReply', 'OFPMeterStatsReply', 'OFPHello', 'OFPEchoReply',
    ]);
    const f = got[0]!['OFPSwitchFeatures']!;
    expect([f['datapath_id'], f['n_tables'], f['capabilities']]).toEqual([0xa1, 254, 0x4f]);
    const pi = got[1]!['OFPPacketIn']!;
    expect([pi['buffer_id'], pi['total_len'], pi['reason'], pi['table_id']]).toEqual([0xffffffff, 60, 0, 0]);
    expect(JSON.stringify(pi['match'])).toContain('"in_port","value":3');
    const ps = got[2]!['OFPPortStatus']! as { desc: { OFPPort: Record<string, unknown> }; reason: number };
    expect([ps.reason, ps.desc.OFPPort['name'], ps.desc.OFPPort['hw_addr'], ps.desc.OFPPort['curr_speed']]).toEqual([2, 'eth1', '02:00:00:00:00:01', 10_000_000]);
    const fr = got[3]!['OFPFlowRemoved']!;
    expect([fr['cookie'], fr['priority'], fr['idle_timeout'], fr['packet_count'], fr['byte_count']]).toEqual([7, 100, 10, 4, 400]);
    const fs = JSON.stringify(got[9]);
    expect(fs).toContain('"packet_count":9');
    expect(fs).toContain('"port":2');
    expect(JSON.stringify(got[12])).toContain('"tx_dropped":6');
  });
});
