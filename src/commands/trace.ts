import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { UserError, formatLocation } from '../errors.js';
import { readUserText } from '../util/user-file.adapter.js';
import { parseProtocols } from '../vswitch/flow-syntax.js';
import { loadTopology } from '../topology/load.js';
import { renderTopologyTrace, traceTopology } from '../fabric/topology-trace.js';
import { BridgeTracer, formatTraceResult, parsePortSpec, type TraceResult } from '../vswitch/trace.js';
import { parseCtFlags } from '../vswitch/xlate-ct.js';

function readText(path: string, flag: string): string {
  return readUserText(path, { code: 'CLI_FILE', where: flag });
}

export default class Trace extends BaseCommand {
  static override summary = 'Trace packets through a flow table (bare bridge) or across a topology.';
  static override description =
    'Bare-bridge mode tests a flow table alone, like ovs-appctl ofproto/trace -generate: packets are\n' +
    'processed in order and MAC learning carries over, so learning and migration sequences replay.\n' +
    'Topology mode follows one packet from a VM interface hop by hop across the fabric.\n' +
    'FLOW is the ofproto/trace flow syntax (in_port=1,dl_src=…,dl_dst=…,arp,arp_op=1,…).';
  static override examples = [
    '<%= config.bin %> trace --flows br0.flows --port p1:1 --port p2:2:tag=10 --port p3:3:trunks=10,20 --packet in_port=1,dl_src=00:00:00:00:00:0a,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1',
    '<%= config.bin %> trace --flows br0.flows --port p1:1 --port p2:2 --packets migration.txt --json',
    '<%= config.bin %> trace -O OpenFlow13 --flows lb.flows --groups lb.groups --meters lb.meters --port p1:1 --port p2:2:down --port p3:3 --packet in_port=1,tcp,nw_src=10.0.0.1,nw_dst=10.0.0.9,tp_src=4242,tp_dst=80',
    '<%= config.bin %> trace topologies/two-hosts.yaml --from vm1.eth0 --packet dl_dst=02:00:00:00:0a:03,ip,nw_src=10.0.0.1,nw_dst=10.0.0.3,nw_ttl=64',
  ];
  static override args = { file: Args.string({ description: 'topology YAML file (topology mode)', required: false }) };
  static override flags = {
    flows: Flags.string({ description: 'ovs-ofctl add-flows file (bare-bridge mode)' }),
    groups: Flags.string({ description: 'ovs-ofctl add-groups file, loaded before the flows (bare-bridge mode)' }),
    meters: Flags.string({ description: 'ovs-ofctl add-meters file, loaded before the flows (bare-bridge mode; meters need -O OpenFlow13)' }),
    port: Flags.string({ description: 'bridge port NAME:OFPORT[:tag=VID][:trunks=VID,VID…][:vlan_mode=M][:down] (repeatable; :down = link down, for fast-failover groups)', multiple: true }),
    packet: Flags.string({ description: 'packet in ofproto/trace flow syntax (repeatable)', multiple: true }),
    packets: Flags.string({ description: 'file with one packet per line (# comments; "trace FLOW" = no MAC learning)' }),
    'local-no-flood': Flags.boolean({ description: 'leave LOCAL out of floods (ovs-ofctl mod-port br0 br0 no-flood)' }),
    'mac-table-size': Flags.integer({ description: 'MAC table entries (OVS other_config:mac-table-size, default 8192)', min: 1 }),
    from: Flags.string({ description: 'topology mode: VM interface the packet leaves from, e.g. vm1.eth0' }),
    detail: Flags.boolean({ description: "bare-bridge mode: also print vfab's step log and a one-line Outputs: summary after ofproto/trace's text" }),
    protocols: Flags.string({ char: 'O', description: 'OpenFlow versions of the flows, as ovs-ofctl -O (OpenFlow10 … OpenFlow15, comma-separated; default OpenFlow10)' }),
    strict: Flags.boolean({ description: 'reject a flow OVS would silently change (a match field without its prerequisite) instead of warning' }),
    json: Flags.boolean({ description: 'JSON: one object per packet per line (bare bridge: outputs, drop, rules, final_flow, megaflow, datapath_actions, passes when ct() recirculated), one object (topology)' }),
    'tlv-map': Flags.string({ description: 'bare-bridge mode: the bridge\'s TLV map, as ovs-ofctl add-tlv-map ({class=0xffff,type=0x80,len=4}->tun_metadata0,…): makes tun_metadataN fields' }),
    'ct-next': Flags.string({ multiple: true, description: 'ct_state of the next ct() recirculation, as ofproto/trace --ct-next (e.g. trk,est; repeatable: 1st, 2nd …; default trk,new)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Trace);
    const ctFlag = (flag: string[] | undefined): number[] =>
      (flag ?? []).map((f) => {
        const v = parseCtFlags(f);
        if (typeof v === 'string') throw new UserError('CLI_BAD_FLAG', `--ct-next ${f}: ${v}`, { where: '--ct-next' });
        return v;
      });
    const ctNext = ctFlag(flags['ct-next']);
    const packets: { flow: string; learn: boolean; where: string; line?: number; ctNext: number[] }[] = (flags.packet ?? []).map((p) => ({ flow: p, learn: true, where: '--packet', ctNext }));
    if (flags.packets !== undefined) {
      const file = flags.packets;
      readText(file, '--packets')
        .split('\n')
        .forEach((raw, i) => {
          const line = raw.replace(/(^|\s)#.*$/, '').trim();
          // The OVS oracle's packets files also hold echo/fdb/flows lines: skip them.
          if (!line || /^(echo|fdb|flows)(\s|$)/.test(line)) return;
          const m = /^(trace|packet)\s+(.*)$/.exec(line);
          // Trailing ` ct=FLAGS` annotations: the ct_state of the 1st, 2nd … recirculation.
          let flow = m ? m[2]! : line;
          const cts: number[] = [];
          for (let a = /\s+ct=(\S+)$/.exec(flow); a; a = /\s+ct=(\S+)$/.exec(flow)) {
            const v = parseCtFlags(a[1]!);
            if (typeof v === 'string') throw new UserError('TRACE_BAD_CT', `ct=${a[1]}: ${v}`, { where: `${file}:${i + 1}` });
            cts.unshift(v);
            flow = flow.slice(0, a.index);
          }
          packets.push({ flow, learn: m?.[1] !== 'trace', where: file, line: i + 1, ctNext: [...cts, ...ctNext] });
        });
    }
    if (packets.length === 0) throw new UserError('CLI_MISSING_FLAG', 'give at least one --packet FLOW (or --packets FILE)', { where: '--packet' });

    if (args.file !== undefined) {
      if (flags.from === undefined) throw new UserError('CLI_MISSING_FLAG', 'topology mode needs --from VM.IFACE', { where: '--from' });
      if (flags.flows !== undefined || flags.port !== undefined || flags.groups !== undefined || flags.meters !== undefined) {
        throw new UserError('CLI_BAD_FLAG', '--flows/--port/--groups/--meters are for bare-bridge mode (no topology file)', { where: '--flows' });
      }
      const model = loadTopology(args.file);
      const results = packets.map((p) => traceTopology(model, { from: flags.from!, packet: p.flow }));
      if (flags.json) this.printJson(results.length === 1 ? results[0] : results);
      else for (const r of results) process.stdout.write(renderTopologyTrace(r));
      return;
    }

    if (flags.flows === undefined) throw new UserError('CLI_MISSING_FLAG', 'give a topology FILE with --from, or --flows FILE with --port', { where: '--flows' });
    if (!flags.port || flags.port.length === 0) throw new UserError('CLI_MISSING_FLAG', 'bare-bridge mode needs at least one --port NAME:OFPORT', { where: '--port' });
    const protocols = flags.protocols === undefined ? undefined : parseProtocols(flags.protocols);
    if (protocols === null) throw new UserError('CLI_BAD_FLAG', `-O ${flags.protocols}: expected OpenFlow10 … OpenFlow15, comma-separated`, { where: '--protocols' });
    const tracer = new BridgeTracer({
      ...(protocols !== undefined ? { protocols } : {}),
      strict: flags.strict,
      flows: readText(flags.flows, '--flows'),
      flowsFile: flags.flows,
      ...(flags.groups !== undefined ? { groups: readText(flags.groups, '--groups'), groupsFile: flags.groups } : {}),
      ...(flags.meters !== undefined ? { meters: readText(flags.meters, '--meters'), metersFile: flags.meters } : {}),
      ports: flags.port.map((p) => parsePortSpec(p)),
      ...(flags['tlv-map'] !== undefined ? { tlvMap: flags['tlv-map'] } : {}),
      localNoFlood: flags['local-no-flood'],
      ...(flags['mac-table-size'] !== undefined ? { macTableSize: flags['mac-table-size'] } : {}),
    });
    for (const w of tracer.bridge.flowWarnings) process.stderr.write(`${formatLocation(w.location)}: warning: ${w.message}\n`);
    packets.forEach((p, i) => {
      const r: TraceResult = tracer.trace(p.flow, { mayLearn: p.learn, log: flags.detail, ovs: true, where: p.where, ...(p.line !== undefined ? { line: p.line } : {}), ctNext: p.ctNext });
      const o = r.ovs!;
      if (flags.json) {
        // Today's per-packet object (with the conntrack passes), plus what ofproto/trace shows.
        const extra = { rules: o.rules, final_flow: o.final_flow, megaflow: o.megaflow, datapath_actions: o.datapath_actions };
        process.stdout.write(`${JSON.stringify({ packet: r.packet, outputs: r.outputs, drop: r.drop, ...(r.passes ? { passes: r.passes } : {}), ...(r.log ? { log: r.log } : {}), ...extra })}\n`);
      } else {
        // ofproto/trace's own text; packets after the first are set apart as the oracle's log does.
        if (i > 0) process.stdout.write(`\n${'='.repeat(78)}\n`);
        process.stdout.write(o.text);
        if (r.log) for (const l of r.log) process.stdout.write(`    ${l}\n`);
        if (flags.detail) process.stdout.write(`Outputs: ${formatTraceResult(r)}\n`);
      }
    });
  }
}
