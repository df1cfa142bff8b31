/**
 * `migrate: { via: mgmt }` (issue 13): the migration stream as TCP connections between the two
 * hypervisors' own stacks (`host-interfaces.ts`), over whatever bridges, links and queues lie
 * between them. The model of the stream is `migration/stream.ts`; this file validates the step
 * against the topology and hands `LiveMigration` the stream, the transport and the vCPU stall hook.
 *
 * Transport: the source host's stack connects from its `via` interface's address to the
 * destination host's address on the same subnet (or its same-named interface through the
 * gateway), port 49152 (libvirt's `migration_port_min`; the next free one up to 49215 when a
 * migration to that host is already listening, as libvirt allocates).
 */
import type { UserError } from '../errors.js';
import type { MigrationDeps } from '../migration/index.js';
import { DEFAULT_MAX_BANDWIDTH_BPS, MIGRATION_PORT, MigrationStream, type StreamParams } from '../migration/stream.js';
import { DEFAULT_MAX_DOWNTIME_NS, DEFAULT_MAX_ITERATIONS } from '../migration/precopy.js';
import type { MigrateAction, ScenarioStep, TopologyModel } from '../topology/model.js';
import { formatIpv4 } from '../wire/ip.js';
import type { BuildContext, VmRuntime } from './context.js';
import { hostInterface, routeBetween } from './host-interfaces.js';

type MigrateStep = ScenarioStep & { action: MigrateAction };

/** libvirt `migration_port_max`. */
const MIGRATION_PORT_MAX = 49215;
/** QEMU `cpu-throttle-initial` / `cpu-throttle-increment` defaults (migration/options.c). */
export const CPU_THROTTLE_INITIAL = 20;
export const CPU_THROTTLE_INCREMENT = 10;

/** Stream-only keys: without `via:` they would be silently ignored, so they are errors. */
const STREAM_KEYS = ['multifd_channels', 'max_bandwidth', 'working_set', 'auto_converge', 'cpu_throttle_initial', 'cpu_throttle_increment', 'postcopy'] as const;

/** Located errors of one `migrate:` step's stream settings; `from` is where the VM is then. */
export function validateStream(model: TopologyModel, step: MigrateStep, from: string): UserError[] {
  const doc = step.action.doc;
  const y = [...step.yaml, 'migrate'];
  const out: UserError[] = [];
  if (doc.via === undefined) {
    for (const k of STREAM_KEYS) {
      if (doc[k] !== undefined) {
        out.push(model.source.error('MIGRATION_NEEDS_VIA', [...y, k], `"${k}" applies to a migration stream over the fabric; add "via: <host interface>" (e.g. via: mgmt)`));
      }
    }
    return out;
  }
  const host = model.hosts.find((h) => h.name === from);
  const names = (host?.interfaces ?? []).map((i) => i.name);
  if (!names.includes(doc.via)) {
    out.push(
      model.source.error('MIGRATION_UNKNOWN_VIA', [...y, 'via'], `host ${from} has no interface "${doc.via}" for the migration stream`, {
        hint: names.length > 0 ? `interfaces on ${from}: ${names.join(', ')}` : `add hosts.${from}.interfaces.${doc.via}: { bridge: …, ipv4: … }`,
      }),
    );
    return out;
  }
  const r = routeBetween(model, from, doc.via, doc.to);
  if (!r.ok) out.push(model.source.error('MIGRATION_NO_ROUTE', [...y, 'via'], `migration stream via ${from}.${doc.via}: ${r.why}`));
  if (doc.working_set !== undefined) {
    const vm = model.vms.find((v) => v.name === doc.vm);
    if (vm?.memoryBytes !== undefined && doc.working_set > vm.memoryBytes) {
      out.push(model.source.error('MIGRATION_BAD_PARAMETER', [...y, 'working_set'], `working_set ${doc.working_set} bytes is larger than ${vm.name}'s memory (${vm.memoryBytes} bytes)`));
    }
  }
  return out;
}

/** The stream parameters of a step (QEMU defaults filled in). */
export function streamParams(step: MigrateStep, vm: VmRuntime): StreamParams {
  const doc = step.action.doc;
  return {
    memoryBytes: vm.model.memoryBytes ?? 0,
    dirtyRateBytesPerS: vm.model.dirtyRateBytesPerS ?? 0,
    ...(doc.working_set !== undefined ? { workingSetBytes: doc.working_set } : {}),
    maxBandwidthBitPerS: doc.max_bandwidth ?? doc.bandwidth ?? DEFAULT_MAX_BANDWIDTH_BPS,
    maxDowntimeNs: doc.max_downtime ?? DEFAULT_MAX_DOWNTIME_NS,
    maxIterations: doc.max_iterations ?? DEFAULT_MAX_ITERATIONS,
    channels: doc.multifd_channels ?? 1,
    autoConverge: doc.auto_converge
      ? { initialPct: doc.cpu_throttle_initial ?? CPU_THROTTLE_INITIAL, incrementPct: doc.cpu_throttle_increment ?? CPU_THROTTLE_INCREMENT }
      : null,
    postcopy: doc.postcopy === true,
  };
}

/** `LiveMigration` dependencies for a step with `via:` (validated: the route exists). */
export function streamDeps(ctx: BuildContext, step: MigrateStep, from: string, vm: VmRuntime): Pick<MigrationDeps, 'stream' | 'stall' | 'streamInfo'> {
  const doc = step.action.doc;
  const via = doc.via!;
  const r = routeBetween(ctx.model, from, via, doc.to);
  const src = hostInterface(ctx, from, via);
  if (!r.ok || !src) return {};
  const dst = hostInterface(ctx, doc.to, r.iface.name)!;
  const params = streamParams(step, vm);
  let port = MIGRATION_PORT;
  while (port < MIGRATION_PORT_MAX && dst.stack.tcp.isListening(port)) port++;
  return {
    streamInfo: { via: src.model.path, src_ip: formatIpv4(src.model.ipv4.address), dst_ip: formatIpv4(r.dst), port },
    stream: (events) =>
      new MigrationStream(
        ctx.sim,
        params,
        {
          connect: (_i, onError) => {
            const c = src.stack.tcp.connect(r.dst, port);
            c.onClose = (err) => {
              if (err !== null) onError(err);
            };
            return c;
          },
          listen: (accept) => {
            const l = dst.stack.tcp.listen(port, accept);
            return () => l.close();
          },
        },
        events,
      ),
    stall: (on) => {
      for (const n of vm.nics.values()) n.virtio?.stallGuest(on);
    },
  };
}
