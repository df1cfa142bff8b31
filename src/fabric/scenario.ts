/**
 * The scenario: timed actions from the topology, scheduled on the simulation clock.
 *
 * Built-in actions: `ping` and `udp` (guest apps), `link_down` / `link_up` (a link end takes the
 * whole cable down; a VM interface loses carrier as `ip link set down` on the host tap would; any
 * other port is set administratively down). Every other action kind belongs to a fabric feature
 * (`features.ts`: `vf`/`sriov` to SR-IOV, `migrate` to migration …). App results are collected in scenario order for the summary's `apps`.
 */
import { BugError, UserError } from '../errors.js';
import { startIperf, startPing, startRpc, startUdpCbr, type IperfApp, type PingApp, type RpcApp, type UdpApp } from '../guest/index.js';
import type { ScenarioStep } from '../topology/model.js';
import type { FabricContext } from './build.js';
import type { AppSummary } from './summary.js';
import { featureForAction } from './features.js';
import { scheduleTraceroute } from './routers.js';

export interface ScheduledApp {
  step: ScenarioStep;
  startNs: number;
  app: PingApp | UdpApp | IperfApp | RpcApp | null;
}

/** App results as they appear in the summary: the guest app's result plus where and when. */
export function appResult(a: ScheduledApp): AppSummary {
  const act = a.step.action;
  if (act.kind !== 'ping' && act.kind !== 'udp' && act.kind !== 'iperf' && act.kind !== 'rpc') throw new Error('not an app step');
  const head: AppSummary = { app: act.kind, name: act.name, from: act.from, to: act.dstText, start_ns: a.startNs };
  const extra: Record<string, unknown> =
    act.kind === 'udp'
      ? { rate_bps: act.rateBps, size: act.size, duration_ns: act.durationNs }
      : act.kind === 'ping'
        ? { count: act.count, size: act.size, interval_ns: act.intervalNs }
        : {};
  if (!a.app) return { ...head, ...extra, started: false };
  const r = a.app.result() as unknown as Record<string, unknown>;
  const out: AppSummary = { ...head, ...extra };
  for (const [k, v] of Object.entries(r)) if (k !== 'app' && k !== 'src' && k !== 'dst') out[k] = v;
  if (act.kind === 'udp') {
    const rb = r['received_bytes'];
    out['throughput_bps'] = typeof rb === 'number' ? Math.round((rb * 8 * 1e9) / act.durationNs) : null;
  }
  return out;
}

export function scheduleScenario(ctx: FabricContext): ScheduledApp[] {
  const apps: ScheduledApp[] = [];
  const guard = (step: ScenarioStep, fn: () => void) => () => {
    try {
      fn();
    } catch (e) {
      // A guest-side user error (e.g. no route) is reported at the scenario step.
      if (e instanceof UserError && !e.location) throw ctx.source.error(e.code, [...step.yaml, step.action.kind], e.message);
      throw e;
    }
  };
  for (const step of ctx.model.scenario) {
    const act = step.action;
    switch (act.kind) {
      case 'ping': {
        const entry: ScheduledApp = { step, startNs: step.atNs, app: null };
        apps.push(entry);
        ctx.sim.scheduleAt(step.atNs, guard(step, () => {
          const vm = ctx.vms.get(act.from)!;
          entry.app = startPing(vm.stack, { dst: act.dstText, count: act.count, intervalNs: act.intervalNs, size: act.size });
        }));
        break;
      }
      case 'udp': {
        const entry: ScheduledApp = { step, startNs: step.atNs, app: null };
        apps.push(entry);
        ctx.sim.scheduleAt(step.atNs, guard(step, () => {
          const vm = ctx.vms.get(act.from)!;
          entry.app = startUdpCbr(vm.stack, {
            dst: act.dstText,
            port: act.port,
            rateBps: act.rateBps,
            size: act.size,
            durationNs: act.durationNs,
            ...(act.srcPort !== undefined ? { srcPort: act.srcPort } : {}),
          });
        }));
        break;
      }
      case 'iperf': {
        const entry: ScheduledApp = { step, startNs: step.atNs, app: null };
        apps.push(entry);
        const d = act.doc;
        ctx.sim.scheduleAt(step.atNs, guard(step, () => {
          const vm = ctx.vms.get(act.from)!;
          entry.app = startIperf(vm.stack, {
            dst: act.dstText,
            ...(d.port !== undefined ? { port: d.port } : {}),
            ...(d.duration !== undefined ? { durationNs: d.duration } : {}),
            ...(d.bytes !== undefined ? { bytes: d.bytes } : {}),
            ...(d.parallel !== undefined ? { parallel: d.parallel } : {}),
            ...(d.reverse !== undefined ? { reverse: d.reverse } : {}),
            ...(d.cc !== undefined ? { cc: d.cc } : {}),
            ...(d.interval !== undefined ? { intervalNs: d.interval } : {}),
            ...(d.window !== undefined ? { windowBytes: d.window } : {}),
            ...(d.server !== undefined ? { server: d.server } : {}),
            ...(d.hystart !== undefined ? { hystart: d.hystart } : {}),
            ...(d.mss !== undefined ? { mss: d.mss } : {}),
          });
        }));
        break;
      }
      case 'rpc': {
        const entry: ScheduledApp = { step, startNs: step.atNs, app: null };
        apps.push(entry);
        const d = act.doc;
        ctx.sim.scheduleAt(step.atNs, guard(step, () => {
          const vm = ctx.vms.get(act.from)!;
          entry.app = startRpc(vm.stack, {
            dst: act.dstText,
            durationNs: d.duration,
            ...(d.port !== undefined ? { port: d.port } : {}),
            ...(d.request !== undefined ? { request: d.request } : {}),
            ...(d.response !== undefined ? { response: d.response } : {}),
            ...(d.rate !== undefined ? { rate: d.rate } : {}),
            ...(d.concurrency !== undefined ? { concurrency: d.concurrency } : {}),
            ...(d.per_request !== undefined ? { perRequest: d.per_request } : {}),
            ...(d.interval !== undefined ? { intervalNs: d.interval } : {}),
            ...(d.nodelay !== undefined ? { nodelay: d.nodelay } : {}),
            ...(d.server !== undefined ? { server: d.server } : {}),
          });
        }));
        break;
      }
      case 'flow_mod':
      case 'group_mod':
      case 'meter_mod': {
        const br = ctx.bridges.get(act.bridge);
        if (!br) throw ctx.source.error('UNKNOWN_BRIDGE', [...step.yaml, act.kind, 'bridge'], `no bridge "${act.bridge}" (bridges: ${[...ctx.bridges.keys()].join(', ')})`);
        // The text's places are within the scenario step (file:line:col of the step's key).
        const origin = { file: `scenario[${step.index}].${act.kind}`, line: 1, col: 1 };
        ctx.sim.scheduleAt(step.atNs, () => {
          try {
            if (act.kind === 'flow_mod') br.flowMod(act.command as Parameters<typeof br.flowMod>[0], act.text, origin);
            else if (act.kind === 'group_mod') br.groupMod(act.command as Parameters<typeof br.groupMod>[0], act.text, origin);
            else br.meterMod(act.command as Parameters<typeof br.meterMod>[0], act.text, origin);
          } catch (e) {
            if (!(e instanceof UserError)) throw e;
            const col = e.location?.file === origin.file ? ` (column ${e.location.col} of the ${act.kind} text)` : '';
            throw ctx.source.error(e.code, [...step.yaml, act.kind], `${e.message}${col}`);
          }
        });
        break;
      }
      case 'link_down':
      case 'link_up': {
        const up = act.kind === 'link_up';
        ctx.sim.scheduleAt(step.atNs, () => setPortState(ctx, act.target, up));
        break;
      }
      case 'traceroute':
        scheduleTraceroute(ctx, step, act);
        break;
      default: {
        const f = featureForAction(act.kind);
        if (!f) throw new BugError('SCENARIO_NO_FEATURE', `no fabric feature handles scenario action "${act.kind}"`);
        f.actions![act.kind]!(ctx, step);
        ctx.featureSummaries.ran(f);
      }
    }
  }
  return apps;
}

/** link_down / link_up on a port path. */
export function setPortState(ctx: FabricContext, path: string, up: boolean): void {
  const link = ctx.linkAt(path);
  if (link) {
    link.setUp(up);
    return;
  }
  for (const vm of ctx.vms.values()) {
    for (const nic of vm.nics.values()) {
      if (nic.iface.path === path && nic.virtio) {
        nic.virtio.setLinkUp(up);
        ctx.events({ type: up ? 'link-up' : 'link-down', time_ns: ctx.sim.now, port: path });
        return;
      }
    }
  }
  const port = ctx.ports.get(path);
  if (port) {
    port.up = up;
    ctx.events({ type: up ? 'link-up' : 'link-down', time_ns: ctx.sim.now, port: path });
  }
}
