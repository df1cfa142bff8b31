/**
 * Acceptance (issue 15): real controllers drive topologies/sdn-controller.yaml. Every VM pings
 * every other, the controller's flows are in the bridges' tables (dump-flows form), a second run
 * with a fresh controller process gives the same pcapng bytes, and tshark's openflow_v4 dissector
 * reads every captured message with no malformed frame or expert error.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runTopologyAsync } from '../../src/fabric/run.js';
import { describeWithTools } from '../helpers/tools.js';
import { startController, sdnTopology } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'openflow-'));
afterAll(() => { if (!process.env['OFKEEP']) rmSync(dir, { recursive: true, force: true }); else console.log('kept', dir); });

async function runWith(kind: 'ovs-testcontroller' | 'os-ken', tag: string) {
  const ctl = await startController(kind, dir);
  try {
    const pcapng = join(dir, `${tag}.pcapng`);
    const r = await runTopologyAsync(sdnTopology(ctl.port), { pcapng });
    return { r, pcapng };
  } finally {
    await ctl.stop();
  }
}

function checkRun(res: Awaited<ReturnType<typeof runWith>>): void {
  const { r } = res;
  const pings = r.summary.apps.filter((a) => a['app'] === 'ping') as unknown as { sent: number; received: number }[];
  expect(pings).toHaveLength(12);
  for (const p of pings) expect(p.received).toBe(p.sent);
  for (const b of ['hv0.br0', 'hv1.br0', 'hv2.br0', 'hv3.br0']) {
    const dump = r.fabric.ctx.bridges.get(b)!.dumpFlows();
    // Flows the controller installed, in ovs-ofctl dump-flows form, forwarding to a port.
    expect(dump).toMatch(/priority=\d+.*actions=output:\d+/);
  }
  const events = r.summary.events.map((e) => e.type);
  expect(events.filter((t) => t === 'openflow_connected')).toHaveLength(4);
  expect(events).not.toContain('openflow_error_sent');
  expect(events).not.toContain('openflow_error_received');
}

function tsharkClean(pcapng: string): void {
  const lines = execFileSync('tshark', ['-r', pcapng, '-o', 'tcp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE', '-Y', 'openflow_v4 || _ws.malformed || _ws.expert.severity >= 8388608', '-T', 'fields', '-e', 'frame.interface_name', '-e', 'openflow_v4.type', '-e', '_ws.malformed', '-e', '_ws.expert.severity'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  })
    .trim()
    .split('\n');
  expect(lines.length).toBeGreaterThan(50);
  const types = new Set<string>();
  for (const l of lines) {
    const [iface, type, malformed, sev] = l.split('\t');
    expect(iface).toMatch(/^hv[0-3]\.br0\.openflow$/);
    expect(malformed ?? '').toBe('');
    expect(Number((sev ?? '0').split(',')[0] || 0)).toBeLessThan(8388608); // below PI_ERROR
    for (const t of (type ?? '').split(',')) types.add(t);
  }
  // HELLO, FEATURES_REQUEST/REPLY, PACKET_IN, FLOW_MOD, PACKET_OUT, PORT_STATUS (the link_down/up) at least.
  for (const t of ['0', '5', '6', '10', '14', '13', '12']) expect(types).toContain(t);
}

describeWithTools(['ovs-testcontroller', 'tshark'], 'ovs-testcontroller drives the sdn-controller example', () => {
  it('every VM pings every other, flows are installed, two runs give the same pcapng bytes, tshark reads it cleanly', async () => {
    const a = await runWith('ovs-testcontroller', 'tc1');
    checkRun(a);
    const b = await runWith('ovs-testcontroller', 'tc2');
    checkRun(b);
    expect(Buffer.compare(readFileSync(a.pcapng), readFileSync(b.pcapng))).toBe(0);
    expect(a.r.fabric.ctx.bridges.get('hv1.br0')!.dumpFlows()).toBe(b.r.fabric.ctx.bridges.get('hv1.br0')!.dumpFlows());
    tsharkClean(a.pcapng);
  }, 120_000);
});

describeWithTools(['osken-manager', 'tshark'], 'an os-ken learning switch drives the sdn-controller example', () => {
  it('every VM pings every other, flows are installed, two runs give the same pcapng bytes', async () => {
    const a = await runWith('os-ken', 'ok1');
    checkRun(a);
    const b = await runWith('os-ken', 'ok2');
    checkRun(b);
    expect(Buffer.compare(readFileSync(a.pcapng), readFileSync(b.pcapng))).toBe(0);
    tsharkClean(a.pcapng);
  }, 120_000);
});
