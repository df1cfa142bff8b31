/**
 * Fabric feature: bridges with an OpenFlow controller (issue 15).
 *
 * At build time each such bridge gets a `SwitchAgent` (its OpenFlow behaviour over the bridge's
 * own tables), a control-channel capture port `hv1.br0.openflow` (the pcapng interface of its
 * OpenFlow connection) and a factory of `OfChannel`s, one per connection. Sockets are opened by
 * `openflow/controller.adapter.ts` when the run starts (`Fabric.runAsync`).
 *
 * Fail modes (OVS `vswitch.xml` Bridge fail_mode): `secure` never switches on its own: with no
 * controller its tables hold only the topology's flows (none by default: everything drops).
 * `standalone` falls back to NORMAL switching (a `priority=0,actions=NORMAL` flow) when no
 * controller can be reached or the connection is lost; OVS does so after three inactivity
 * probes, vfab at once (deliberate: virtual time does not wait for wall-clock probes).
 */
import { Port } from '../port/port.js';
import { connect } from '../port/port.js';
import type { OfChannel } from '../openflow/channel.js';
import { OfChannel as Channel } from '../openflow/channel.js';
import { OFP_TCP_PORT } from '../openflow/constants.js';
import type { OfpMessage } from '../openflow/messages.js';
import { SwitchAgent } from '../openflow/switch-agent.js';
import { TcpTrace } from '../openflow/tcp-trace.js';
import type { BridgeModel } from '../topology/model.js';
import type { OpenflowBridgeModel, OpenflowTarget } from '../topology/openflow.js';
import type { Bridge } from '../vswitch/bridge.js';
import type { FabricContext } from './build.js';

const LOOPBACK = 0x7f000001;

export interface OpenflowBridge {
  path: string;
  bridge: Bridge;
  agent: SwitchAgent;
  cfg: OpenflowBridgeModel;
  /** Connections made so far (a ptcp target may accept several). */
  channels: OfChannel[];
  /** A new connection on `target` (active: the switch connected). */
  open(target: OpenflowTarget, active: boolean, hooks: { wantSettle: () => void; onClose: (why: string) => void }): OfChannel;
  /** No controller reachable on `target` (refused, timed out): reported, fail mode applies. */
  unreachable(target: OpenflowTarget, why: string): void;
}

/** Flows a bridge starts with: secure or controlled bridges start empty unless the topology gives flows. */
export function initialFlows(m: BridgeModel): string | undefined {
  if (m.flows) return m.flows.text;
  const of = m.openflow;
  if (!of) return undefined;
  // OVS: passive (ptcp) connections are service connections and do not take a standalone bridge
  // out of NORMAL switching; only a configured active controller does.
  if (of.failMode === 'standalone' && !of.targets.some((t) => t.kind === 'tcp')) return undefined;
  return '';
}

function ipOf(host: string): number {
  const p = host.split('.').map(Number);
  return p.length === 4 ? ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0 : LOOPBACK;
}

/** Wires OpenFlow to `bridge` (called by the builder for bridges with `m.openflow`). */
export function buildOpenflowBridge(ctx: FabricContext, m: BridgeModel, bridge: Bridge, ordinal: number): OpenflowBridge {
  const cfg = m.openflow!;
  const agent = new SwitchAgent(bridge, {
    datapathId: cfg.datapathId ?? BigInt(ordinal),
    ...(cfg.maxFlows !== undefined ? { maxFlows: cfg.maxFlows } : {}),
    swDesc: 'vfab 0.1.0',
  });
  const ofb: OpenflowBridge = {
    path: m.path,
    bridge,
    agent,
    cfg,
    channels: [],
    open(target, active, hooks) {
      const n = ofb.channels.length;
      // The first connection is `hv1.br0.openflow`; later ones (ovs-ofctl on a ptcp port) `.openflow2` ….
      const port = new Port(`${m.path}.openflow${n === 0 ? '' : n + 1}`, () => undefined);
      connect(port, new Port(`${port.path}.peer`, () => undefined));
      ctx.registerPort(port);
      const swPort = active ? 49152 + ((ordinal * 16 + n) % 16384) : OFP_TCP_PORT;
      const ctlPort = active ? OFP_TCP_PORT : 49152 + ((ordinal * 16 + n) % 16384);
      const trace = new TcpTrace(port, { ip: LOOPBACK, port: swPort }, { ip: ipOf(target.host), port: ctlPort });
      const ch = new Channel({
        sim: ctx.sim,
        agent,
        trace,
        latencyNs: cfg.latencyNs,
        wantSettle: hooks.wantSettle,
        report: (e) => ctx.events({ ...e, time_ns: ctx.sim.now, bridge: m.path }),
        onClose: (why) => {
          if (!ofb.channels.some((c) => c !== ch && c.state !== 'closed')) fallBack(why);
          hooks.onClose(why);
        },
        name: `${m.path} ${target.text}`,
      });
      ofb.channels.push(ch);
      // The first connection carries packet-ins (OVS sends them to every controller in role
      // equal/master; vfab to the first connection, which is the configured controller).
      if (n === 0 || bridge.packetInHook === null) {
        bridge.packetInHook = (inPort, frame, rule) => {
          const live = ofb.channels.find((c) => c.state === 'up');
          live?.packetIn(inPort, frame, rule);
        };
      }
      ch.start(active);
      return ch;
    },
    unreachable(target, why) {
      ctx.events({ type: 'controller_unreachable', time_ns: ctx.sim.now, bridge: m.path, target: target.text, reason: why, fail_mode: cfg.failMode });
      fallBack(why);
    },
  };
  // Asynchronous messages (§7.4) go to every connection that is up (OVS: every primary
  // controller connection whose async config asks for them), in connection order.
  const broadcast = (msg: OfpMessage | null, skip: object | null = null): void => {
    if (msg === null) return;
    for (const c of ofb.channels) if (c !== skip) c.sendAsync(msg);
  };
  bridge.flowTables.onRemoved = (rule, reason) => broadcast(agent.flowRemoved(rule, reason));
  // PORT_STATUS on up/down (link_down/link_up, PORT_MOD) and on ports added or removed (migration).
  // OpenFlow before 1.5 sends no PORT_STATUS for a PORT_MOD to the controller that sent it
  // (ofproto/connmgr.c `connmgr_send_port_status`).
  const watching = new Map<string, () => void>();
  const watch = (name: string, ofport: number, port: Port): void => {
    watching.get(name)?.();
    watching.set(name, port.onState(() => broadcast(agent.portStatus('modify', ofport, name, port), agent.requester)));
  };
  for (const p of bridge.allPorts()) {
    const port = bridge.portByName(p.name);
    if (port && port !== bridge.local) watch(p.name, p.ofport, port);
  }
  bridge.portHook = (name, ofport, port, change) => {
    if (change === 'add') watch(name, ofport, port);
    else {
      watching.get(name)?.();
      watching.delete(name);
    }
    broadcast(agent.portStatus(change, ofport, name, port));
  };
  let fellBack = false;
  const fallBack = (why: string): void => {
    if (cfg.failMode !== 'standalone' || fellBack) return;
    fellBack = true;
    bridge.addFlows('priority=0,actions=NORMAL');
    ctx.events({ type: 'fail_open', time_ns: ctx.sim.now, bridge: m.path, reason: why });
  };
  return ofb;
}
