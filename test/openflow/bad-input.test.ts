/**
 * Bad input on the control channel (issue 15): a controller address that refuses connections, a
 * controller that sends garbage, flow-mods the bridge cannot hold. Scripted controllers in this
 * process stand in for broken real ones.
 */
import { describe, expect, it } from 'vitest';
import { runTopologyAsync } from '../../src/fabric/run.js';
import { OFPBMC, OFPBRC, OFPET, OFPFMFC, OFPGMFC, OFPMMFC, OFPBIC, type MessageOf, type OfpMessage } from '../../src/openflow/index.js';
import { FakeController, freePort, sdnTopology } from './helpers.js';

const FM = {
  type: 'flow_mod' as const, xid: 0, cookie: 0n, cookieMask: 0n, tableId: 0, command: 0, idleTimeout: 0, hardTimeout: 0, priority: 10,
  bufferId: 0xffffffff, outPort: 0xffffffff, outGroup: 0xffffffff, flags: 0,
};
const outTo = (port: number) => [{ type: 'apply_actions' as const, actions: [{ type: 'output' as const, port, maxLen: 0 }] }];

function pings(r: Awaited<ReturnType<typeof runTopologyAsync>>): { sent: number; received: number }[] {
  return r.summary.apps.filter((a) => a['app'] === 'ping') as unknown as { sent: number; received: number }[];
}

describe('openflow bad input', () => {
  it('a refused controller address: secure drops everything, reported; standalone falls back to NORMAL', async () => {
    const port = await freePort(); // nothing listens there
    const secure = await runTopologyAsync(sdnTopology(port), { untilNs: 1e9 });
    const ev = secure.summary.events.filter((e) => e.type === 'controller_unreachable');
    expect(ev).toHaveLength(4);
    expect(String(ev[0]!['reason'])).toMatch(/ECONNREFUSED/);
    expect(pings(secure).filter((p) => p.sent > 0).every((p) => p.received === 0)).toBe(true);

    const standalone = await runTopologyAsync(sdnTopology(port, (y) => y.replaceAll('fail_mode: secure', 'fail_mode: standalone')), { untilNs: 1e9 });
    expect(standalone.summary.events.filter((e) => e.type === 'fail_open')).toHaveLength(4);
    expect(pings(standalone).filter((p) => p.sent > 0).every((p) => p.received === p.sent)).toBe(true);
    expect(pings(standalone).filter((p) => p.sent > 0).length).toBeGreaterThan(0);
    expect(standalone.fabric.ctx.bridges.get('hv0.br0')!.dumpFlows()).toMatch(/priority=0 actions=NORMAL/);
  }, 60_000);

  it('garbage from the controller: ERROR OFPBRC_BAD_LEN, connection reset, reported, the run continues', async () => {
    const ctl = new FakeController((send) => {
      send({ type: 'features_request', xid: 2 });
      // A header whose length (4) is under 8: the stream cannot be resynchronised.
      send(new Uint8Array([4, 14, 0, 4, 0, 0, 0, 9, 0xde, 0xad]));
    });
    const port = await ctl.start();
    try {
      const r = await runTopologyAsync(sdnTopology(port), { untilNs: 1e9 });
      await new Promise((resolve) => setTimeout(resolve, 300)); // let the fake controller read the last bytes
      const sent = r.summary.events.filter((e) => e.type === 'openflow_error_sent');
      expect(sent.length).toBeGreaterThanOrEqual(4);
      expect(String(sent[0]!['error'])).toBe('OFPET_BAD_REQUEST/BAD_LEN');
      const gone = r.summary.events.filter((e) => e.type === 'openflow_disconnected');
      expect(gone).toHaveLength(4);
      // The switch reset each connection because of the garbage (not because the run ended).
      for (const e of gone) expect(String(e['reason'])).toMatch(/^garbage from the controller: .*declares length 4 \(< 8\)/);
      expect(gone.every((e) => e.time_ns < 1e9)).toBe(true);
      expect(r.summary.simulated_ns).toBe(1e9);
      // The switch answered the FEATURES_REQUEST before the garbage, and sent the ERROR after it.
      const features = ctl.received.filter((m): m is MessageOf<'features_reply'> => m.type === 'features_reply');
      expect(features.map((f) => f.datapathId).sort()).toEqual([1n, 2n, 3n, 4n]);
      const errs = ctl.received.filter((m): m is MessageOf<'error'> => m.type === 'error');
      expect(errs.map((e) => [e.errType, e.code])).toContainEqual([OFPET.BAD_REQUEST, OFPBRC.BAD_LEN]);
    } finally {
      await ctl.stop();
    }
  }, 60_000);

  it('flow-mods the bridge cannot hold get the right OpenFlow errors', async () => {
    const script: OfpMessage[] = [
      { ...FM, xid: 10, match: [{ field: 'in_port', value: 1 }], instructions: outTo(2) }, // fits (max_flows: 1)
      { ...FM, xid: 11, match: [{ field: 'in_port', value: 2 }], instructions: outTo(1) }, // table full
      { ...FM, xid: 12, match: [{ field: 'metadata', value: 5n }], instructions: outTo(1) }, // no such field in vfab
      { ...FM, xid: 13, match: [{ field: 'tcp_dst', value: 80 }], instructions: outTo(1) }, // prerequisite missing
      { ...FM, xid: 14, match: [], instructions: [{ type: 'write_metadata', metadata: 1n, metadataMask: 1n }] },
      { ...FM, xid: 15, match: [], instructions: [{ type: 'meter', meterId: 1 }] },
      { ...FM, xid: 16, tableId: 255, match: [], instructions: outTo(1) },
      { ...FM, xid: 17, match: [], instructions: [{ type: 'apply_actions', actions: [{ type: 'group', groupId: 7 }] }] },
      { type: 'group_mod', xid: 18, command: 0, groupType: 0, groupId: 1, buckets: [] },
      { type: 'meter_mod', xid: 19, command: 0, flags: 1, meterId: 1, bands: [{ type: 1, rate: 1000, burstSize: 0 }] },
      { type: 'group_mod', xid: 21, command: 0, groupType: 0, groupId: 1, buckets: [] }, // exists now
      { type: 'meter_mod', xid: 22, command: 0, flags: 1, meterId: 1, bands: [{ type: 1, rate: 1000, burstSize: 0 }] },
      { type: 'group_mod', xid: 23, command: 1, groupType: 0, groupId: 99, buckets: [] }, // no such group
      { type: 'meter_mod', xid: 24, command: 0, flags: 1, meterId: 2, bands: [{ type: 2, rate: 1000, burstSize: 0, precLevel: 1 }] },
      { type: 'barrier_request', xid: 20 },
    ];
    const ctl = new FakeController((send) => script.forEach(send));
    const port = await ctl.start();
    try {
      const r = await runTopologyAsync(sdnTopology(port, (y) => y.replace('datapath_id: "0000000000000001"', 'datapath_id: "0000000000000001"\n        max_flows: 1')), { untilNs: 2e8 });
      await new Promise((resolve) => setTimeout(resolve, 300)); // let the fake controller read the last bytes
      const errs = ctl.received.filter((m): m is MessageOf<'error'> => m.type === 'error').map((e) => [e.xid, e.errType, e.code]);
      // hv0.br0 (max_flows 1) answers every one; xid 11 only there.
      expect(errs).toContainEqual([11, OFPET.FLOW_MOD_FAILED, OFPFMFC.TABLE_FULL]);
      expect(errs).toContainEqual([12, OFPET.BAD_MATCH, OFPBMC.BAD_FIELD]);
      expect(errs).toContainEqual([13, OFPET.BAD_MATCH, OFPBMC.BAD_PREREQ]);
      expect(errs).toContainEqual([14, OFPET.BAD_INSTRUCTION, OFPBIC.UNSUP_INST]);
      expect(errs).toContainEqual([15, OFPET.METER_MOD_FAILED, OFPMMFC.INVALID_METER]);
      expect(errs).toContainEqual([16, OFPET.FLOW_MOD_FAILED, OFPFMFC.BAD_TABLE_ID]);
      expect(errs).toContainEqual([17, OFPET.BAD_ACTION, 9]); // OFPBAC_BAD_OUT_GROUP
      // Groups and meters are held (issue 11): the adds succeed, a second add of the same id fails.
      expect(errs.filter((e) => e[0] === 18 || e[0] === 19)).toEqual([]);
      expect(errs).toContainEqual([21, OFPET.GROUP_MOD_FAILED, OFPGMFC.GROUP_EXISTS]);
      expect(errs).toContainEqual([22, OFPET.METER_MOD_FAILED, OFPMMFC.METER_EXISTS]);
      expect(errs).toContainEqual([23, OFPET.GROUP_MOD_FAILED, OFPGMFC.UNKNOWN_GROUP]);
      expect(errs).toContainEqual([24, OFPET.METER_MOD_FAILED, OFPMMFC.BAD_BAND]);
      expect(errs.filter((e) => e[0] === 10)).toEqual([]);
      expect(errs.filter((e) => e[0] === 11)).toHaveLength(1);
      expect(ctl.received.filter((m) => m.type === 'barrier_reply')).toHaveLength(4);
      // The flow that fit is in the table, in dump-flows form.
      expect(r.fabric.ctx.bridges.get('hv0.br0')!.dumpFlows()).toMatch(/priority=10,in_port=1 actions=output:2/);
    } finally {
      await ctl.stop();
    }
  }, 60_000);

  it('MODIFY and DELETE follow §6.4 (strict and non-strict, cookie mask), flow stats read back', async () => {
    const script: OfpMessage[] = [
      { ...FM, xid: 1, cookie: 0x11n, match: [{ field: 'in_port', value: 1 }], instructions: outTo(2) },
      { ...FM, xid: 2, cookie: 0x22n, match: [{ field: 'in_port', value: 2 }], instructions: outTo(1) },
      { ...FM, xid: 3, cookie: 0x33n, priority: 20, match: [{ field: 'in_port', value: 2 }, { field: 'eth_dst', value: 0x020000000010 }], instructions: outTo(3) },
      { ...FM, xid: 4, command: 2, priority: 10, match: [{ field: 'in_port', value: 1 }], instructions: outTo(3) }, // modify_strict
      { ...FM, xid: 5, command: 3, tableId: 255, cookie: 0x22n, cookieMask: 0xffn, match: [], instructions: [] }, // delete by cookie
      { type: 'multipart_request', xid: 6, flags: 0, body: { mp: 'flow', tableId: 255, outPort: 0xffffffff, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: [] } },
      { type: 'multipart_request', xid: 7, flags: 0, body: { mp: 'aggregate', tableId: 255, outPort: 0xffffffff, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: [{ field: 'in_port', value: 2 }] } },
      { type: 'multipart_request', xid: 8, flags: 0, body: { mp: 'port_desc' } },
    ];
    const ctl = new FakeController((send) => script.forEach(send));
    const port = await ctl.start();
    try {
      const r = await runTopologyAsync(sdnTopology(port), { untilNs: 2e8 });
      await new Promise((resolve) => setTimeout(resolve, 300)); // let the fake controller read the last bytes
      const dump = r.fabric.ctx.bridges.get('hv0.br0')!.dumpFlows();
      expect(dump).toMatch(/cookie=0x11,.*priority=10,in_port=1 actions=output:3/);
      expect(dump).not.toMatch(/cookie=0x22/);
      expect(dump).toMatch(/cookie=0x33,.*priority=20,in_port=2,dl_dst=02:00:00:00:00:10 actions=output:3/);
      const replies = ctl.received.filter((m): m is MessageOf<'multipart_reply'> => m.type === 'multipart_reply');
      const flow = replies.find((m) => m.xid === 6 && m.body.mp === 'flow')!.body as { stats: { cookie: bigint; instructions: unknown[] }[] };
      expect(flow.stats.map((s) => s.cookie).sort()).toEqual([0x11n, 0x33n]);
      expect(flow.stats.find((s) => s.cookie === 0x11n)!.instructions).toEqual(outTo(3));
      const agg = replies.find((m) => m.xid === 7)!.body as { flowCount: number };
      expect(agg.flowCount).toBe(1);
      const pd = replies.find((m) => m.xid === 8)!.body as { ports: { name: string }[] };
      expect(pd.ports.map((p) => p.name)).toEqual(expect.arrayContaining(['down1', 'down2', 'down3', 'vm0-eth0']));
    } finally {
      await ctl.stop();
    }
  }, 60_000);
});
