/**
 * Live migration in the fabric (issue 7): the glue between the topology (`vms.*.memory`,
 * `vms.*.dirty_rate`, scenario `migrate:` steps, interfaces' `standby`) and `src/migration/`.
 *
 * - `validateMigration(model)`: every user error, positioned (unknown or same destination host,
 *   a destination without the VM's bridge, a VF interface without a virtio standby, missing memory
 *   size, announce parameter ranges).
 * - `scheduleMigration(ctx, step)`: at `step.atNs` builds a `LiveMigration` over the VM's current
 *   virtio NICs and runs it. Switchover = `ctx.unplugNic` + `ctx.plugNic` onto the bridge of the
 *   same name on the destination host (`unplugNic` also makes the source bridge forget the MACs
 *   learned on the tap, as OVS does when a port goes away); the source bridge port is then turned
 *   into a dead end (up, peer = a sink) so that frames still switched there are counted: frames
 *   for the VM's MACs as `migration` drops, anything else (flooded broadcasts) as `unplugged`.
 *   Real life: the source tap lingers until libvirt tears the source QEMU down.
 * - VFs paired with a virtio standby (`failover.ts`): the migration's failover hooks unplug the VF
 *   before pre-copy (traffic fails over to the standby) and plug a free VF of the same-named PF on
 *   the destination after resume; the record's `failover` list and the timeline show both steps.
 * - `packets_lost`: frames the other VMs' NICs send to the migrating VM from the pause on that
 *   never arrive (`migration/loss.ts`).
 * - Summary section `migrations`: the records (JSON) and a short timeline (text).
 */
import { UserError } from '../errors.js';
import type { FabricEvent } from '../port/nic.js';
import type { Port } from '../port/port.js';
import type { MigrateAction, ScenarioStep, TopologyModel } from '../topology/model.js';
import { nearest } from '../util/yaml-source.js';
import { formatTime } from '../sim/time.js';
import type { Bridge } from '../vswitch/index.js';
import {
  checkAnnounceParams,
  LiveMigration,
  QEMU_ANNOUNCE_DEFAULTS,
  type AnnounceParams,
  type MacTableView,
  type MigratableNic,
  type MigrationRecord,
  type StorageMigration,
  type SwitchoverResult,
  type VmVf,
} from '../migration/index.js';
import type { BuildContext, VmNicRuntime } from './context.js';
import { failoverHooks, failoverNic } from './failover.js';
import { streamDeps, validateStream } from './migration-stream.js';
import { blockMirror } from './block-mirror.js';
import { nbdDiskMigration } from './nbd-migration.js';
import type { NbdMove } from './nbd-disk-client.js';
import type { FabricFeature } from './feature.js';

/**
 * QEMU's default migration bandwidth cap (`migration/options.c` `MAX_THROTTLE` = 128 MiB/s,
 * `max-bandwidth`), in bit/s.
 */
export const DEFAULT_MIGRATION_BANDWIDTH_BPS = 128 * 1024 * 1024 * 8;

type MigrateStep = ScenarioStep & { action: MigrateAction };

function announceParams(doc: MigrateAction['doc']): AnnounceParams {
  return {
    initialNs: doc.announce_initial ?? QEMU_ANNOUNCE_DEFAULTS.initialNs,
    maxNs: doc.announce_max ?? QEMU_ANNOUNCE_DEFAULTS.maxNs,
    rounds: doc.announce_rounds ?? QEMU_ANNOUNCE_DEFAULTS.rounds,
    stepNs: doc.announce_step ?? QEMU_ANNOUNCE_DEFAULTS.stepNs,
  };
}

/** All migration configuration errors in `model` (empty when fine). */
export function validateMigration(model: TopologyModel): UserError[] {
  const errors: UserError[] = [];
  const hosts = model.hosts.map((h) => h.name);
  // Where each VM is, following the migrate steps in time order (a VM may migrate back).
  const where = new Map(model.vms.map((v) => [v.name, v.host]));
  const steps = model.scenario.filter((s): s is MigrateStep => s.action.kind === 'migrate');
  const ordered = [...steps].sort((a, b) => a.atNs - b.atNs || a.index - b.index);
  for (const step of ordered) {
    const doc = step.action.doc;
    const y = [...step.yaml, 'migrate'];
    const vm = model.vms.find((v) => v.name === doc.vm);
    if (!vm) continue; // the resolver already reported an unknown VM
    const destHost = model.hosts.find((h) => h.name === doc.to);
    if (!destHost) {
      const guess = nearest(doc.to, hosts);
      errors.push(
        model.source.error('MIGRATION_UNKNOWN_HOST', [...y, 'to'], `unknown host "${doc.to}"${guess ? `; did you mean "${guess}"?` : ''}`, {
          ...(guess ? {} : { hint: `hosts: ${hosts.join(', ')}` }),
        }),
      );
      continue;
    }
    const from = where.get(vm.name)!;
    if (from === doc.to) {
      errors.push(model.source.error('MIGRATION_SAME_HOST', [...y, 'to'], `${vm.name} is already on ${doc.to} at this point; migrate it to another host`));
      continue;
    }
    if (vm.memoryBytes === undefined) {
      errors.push(
        model.source.error('MIGRATION_NO_MEMORY', [...y, 'vm'], `${vm.name} has no memory size; live migration needs it to model pre-copy`, {
          hint: `add "memory: 2GiB" (and optionally "dirty_rate: 100MiB") under vms.${vm.name}`,
        }),
      );
    }
    for (const i of vm.interfaces) {
      if (i.model === 'vf') {
        // With a standby the VF is unplugged for the migration (failover.ts); without one, refuse.
        if (i.standby !== undefined) continue;
        errors.push(
          model.source.error(
            'MIGRATION_VF',
            [...y, 'vm'],
            `${vm.name} holds SR-IOV VF interface ${i.name}: a passed-through VF cannot be live-migrated (QEMU refuses: the VFIO device blocks migration)`,
            { hint: `pair it with a virtio standby interface (standby: <virtio iface> on ${i.name}, VIRTIO_NET_F_STANDBY failover) or remove it` },
          ),
        );
      } else if (i.bridge !== undefined && !destHost.bridges.some((b) => b.name === i.bridge)) {
        errors.push(
          model.source.error(
            'MIGRATION_NO_BRIDGE',
            [...y, 'to'],
            `${vm.name}.${i.name} is on bridge ${i.bridge}, but ${doc.to} has no bridge "${i.bridge}" to plug it into`,
            { hint: `bridges on ${doc.to}: ${destHost.bridges.map((b) => b.name).join(', ') || 'none'}` },
          ),
        );
      }
    }
    errors.push(...validateStream(model, step, from));
    try {
      checkAnnounceParams(announceParams(doc), 'announce');
    } catch (e) {
      // only a user error (a bad announce parameter) becomes a located error; anything else is
      // an internal fault and must surface as one (exit 1), not be dressed up as the user's
      if (!(e instanceof UserError)) throw e;
      const ue = e;
      const field = ue.where ?? 'announce';
      errors.push(model.source.error('MIGRATION_BAD_ANNOUNCE', doc[field as keyof typeof doc] !== undefined ? [...y, field] : y, ue.message));
    }
    where.set(vm.name, doc.to);
  }
  return errors;
}

/** Per-context list of migrations, in scenario order (the summary section). */
const byCtx = new WeakMap<BuildContext, Array<{ step: MigrateStep; m: LiveMigration | null }>>();

/** Schedules one `migrate:` step on `ctx.sim` (called once per step, at build time). */
export function scheduleMigration(ctx: BuildContext, step: MigrateStep): void {
  let list = byCtx.get(ctx);
  if (!list) byCtx.set(ctx, (list = []));
  const entry: { step: MigrateStep; m: LiveMigration | null } = { step, m: null };
  list.push(entry);
  list.sort((a, b) => a.step.index - b.step.index);
  const all = list;
  ctx.sim.scheduleAt(step.atNs, () => {
    const vm = step.action.doc.vm;
    const busy = all.find((e) => e.m !== null && e.m.spec.vm === vm && e.m.active);
    if (busy) {
      // QEMU: "There's a migration process in progress" (migrate_prepare).
      entry.m = startMigration(ctx, step, `a migration of ${vm} to ${busy.m!.spec.to} is already in progress`);
      return;
    }
    // A VM migrating again: the previous record stops observing (its loss, drops, announces and
    // MAC tables are about that migration only).
    for (const e of all) if (e.m !== null && e.m.spec.vm === vm) e.m.finish();
    entry.m = startMigration(ctx, step);
  });
}

function startMigration(ctx: BuildContext, step: MigrateStep, refusal?: string): LiveMigration {
  const doc = step.action.doc;
  const vm = ctx.vms.get(doc.vm)!;
  const from = vm.host;
  const nics: Array<{ rt: VmNicRuntime; nic: MigratableNic }> = [];
  for (const rt of vm.nics.values()) {
    const v = rt.virtio;
    if (!v || rt.bridgePort === undefined) continue;
    const nic: MigratableNic = {
      path: v.path,
      mac: v.mac,
      port: v.port,
      vlan: rt.iface.vlan.tag ?? 0,
      pause: () => v.pause(),
      resume: () => v.resume(),
      requestAnnounce: () => v.requestAnnounce(),
      onAnnounceAck: (cb) => v.onAnnounceAck(cb),
    };
    nics.push({ rt, nic });
  }
  // VFs with a virtio standby (refused by validateMigration otherwise). `vf` is the VF held now.
  const vfs: VmVf[] = [];
  for (const rt of vm.nics.values()) {
    if (rt.iface.model !== 'vf') continue;
    const fo = failoverNic(ctx, rt.iface.path);
    vfs.push({ path: rt.iface.path, vf: fo?.primary?.path ?? rt.nic.path, standby: fo ? (rt.iface.standby ?? null) : null });
  }
  const switchover = (nic: MigratableNic): SwitchoverResult => {
    const e = nics.find((n) => n.nic === nic)!;
    const ifName = e.rt.iface.name;
    const old = e.rt.bridgePort!;
    const dest = `${doc.to}.${e.rt.iface.bridge ?? e.rt.bridgePath!.split('.').slice(1).join('.')}`;
    ctx.unplugNic(vm.name, ifName);
    const fresh = ctx.plugNic(vm.name, ifName, dest);
    deadEnd(old, new Set(nics.map((n) => n.nic.mac)));
    return { newPort: fresh.path, oldPort: old };
  };
  const m = new LiveMigration(
    ctx.sim,
    {
      vm: vm.name,
      from,
      to: doc.to,
      memoryBytes: vm.model.memoryBytes ?? 0,
      dirtyRateBytesPerS: vm.model.dirtyRateBytesPerS ?? 0,
      bandwidthBitPerS: doc.bandwidth ?? DEFAULT_MIGRATION_BANDWIDTH_BPS,
      ...(doc.max_downtime !== undefined ? { maxDowntimeNs: doc.max_downtime } : {}),
      ...(doc.max_iterations !== undefined ? { maxIterations: doc.max_iterations } : {}),
      announce: doc.announce ?? 'both',
      announceParams: announceParams(doc),
      nics: nics.map((n) => n.nic),
      ...(vfs.length > 0 ? { vfs } : {}),
    },
    {
      switchover: (nic) => {
        const r = switchover(nic);
        if (nics.every((n) => n.rt.bridgePath?.startsWith(`${doc.to}.`))) vm.host = doc.to;
        return r;
      },
      macTables: () => [...ctx.bridges.values()].map(tableView),
      emit: (ev: FabricEvent) => ctx.events(ev),
      failover: failoverHooks(ctx, vm),
      senders: () => {
        const out: Port[] = [];
        for (const other of ctx.vms.values()) if (other !== vm) for (const n of other.nics.values()) out.push(n.nic.port);
        return out;
      },
      allPorts: () => ctx.ports.all(),
      ...(doc.via !== undefined ? streamDeps(ctx, step, from, vm) : {}),
      ...storageDeps(ctx, step, from, vm.name),
      ...sharedDiskDeps(ctx, step, vm.name),
    },
  );
  if (refusal !== undefined) m.refuse(refusal);
  else m.start();
  return m;
}

/** `storage: mirror` (block-mirror.ts): the disks go first, over NBD. */
function storageDeps(ctx: BuildContext, step: MigrateStep, from: string, vm: string): { storage?: StorageMigration } {
  if (step.action.doc.storage !== 'mirror' || step.action.doc.via === undefined) return {};
  const st = blockMirror(ctx, step, from, vm);
  return st ? { storage: st } : {};
}

/** Network disks (nbd-migration.ts): the destination opens its own NBD connections, the source drains. */
function sharedDiskDeps(ctx: BuildContext, step: MigrateStep, vm: string): { sharedDisks?: StorageMigration } {
  const sd = nbdDiskMigration(ctx, step, vm);
  return sd ? { sharedDisks: sd } : {};
}

/** The source bridge port after switchover: up, but leading nowhere (see the file comment). */
function deadEnd(old: Port, macs: ReadonlySet<number>): void {
  old.up = true;
  old.peer = {
    receive: (frame) => {
      let dst = 0;
      for (let i = 0; i < 6; i++) dst = dst * 256 + (frame[i] ?? 0);
      old.drop(macs.has(dst) ? 'migration' : 'unplugged', frame);
    },
  };
}

function tableView(b: Bridge): MacTableView {
  return {
    name: b.path,
    ports: b.ports(),
    lookup: (mac, vlan) => {
      const ofport = b.mac.lookup(mac, vlan, b.nowNs());
      if (ofport < 0) return null;
      const name = b.portNameOf(ofport);
      return name === undefined ? null : `${b.path}.${name}`;
    },
    expiresAt: (mac, vlan) => b.mac.entries(b.nowNs()).find((e) => e.mac === mac && e.vlan === vlan)?.expiresNs ?? null,
  };
}

/** `` (no other losses) or ` (+ 30 lost to link_down, 2 to queue in the same window)`. */
function otherLosses(r: MigrationRecord): string {
  const parts = Object.entries(r.losses)
    .filter(([c, n]) => c !== 'migration' && n > 0)
    .map(([c, n]) => `${n} to ${c}`);
  return parts.length === 0 ? '' : ` (+ lost in the same window: ${parts.join(', ')})`;
}

function fmtBps(bps: number): string {
  return bps >= 1e9 ? `${(bps / 1e9).toFixed(2)} Gbit/s` : `${(bps / 1e6).toFixed(1)} Mbit/s`;
}

function timelineText(r: MigrationRecord): string[] {
  const head =
    r.status === 'completed'
      ? `${r.vm} ${r.from} -> ${r.to}: ${r.rounds} round${r.rounds === 1 ? '' : 's'}, ${r.transferred_bytes} bytes, downtime ${formatTime(r.downtime_ns)}, ` +
        `announce ${r.announce.mode} (${r.announce.frames} frames), ${r.packets_lost} packets lost${otherLosses(r)}, ` +
        (r.reconverged_ns === null ? 'MAC tables not reconverged by the end of the run' : `reconverged at ${formatTime(r.reconverged_ns)}`)
      : `${r.vm} ${r.from} -> ${r.to}: ${r.status}${r.message ? ` — ${r.message}` : ''}`;
  const lines = [head];
  const st = r.stream;
  if (st) {
    const cap = st.max_bandwidth_bps === 0 ? 'unlimited' : fmtBps(st.max_bandwidth_bps);
    lines.push(
      `stream via ${String(st['via'])} -> ${String(st['dst_ip'])}:${String(st['port'])}: ${st.channels} channel${st.channels === 1 ? '' : 's'}, ` +
        `max-bandwidth ${cap}, measured ${fmtBps(st.bandwidth_bps)} (threshold ${st.threshold_bytes} bytes), ${st.written_bytes} bytes sent` +
        (st.throttle_pct > 0 ? `, guest CPU throttled to ${100 - st.throttle_pct}% (auto-converge)` : '') +
        (st.postcopy ? `, post-copy: ${st.postcopy.faults} page faults (longest ${formatTime(st.postcopy.max_fault_ns)}), ${st.postcopy.missing_bytes} bytes missing` : ''),
    );
  }
  const sto = r.storage;
  if (sto) {
    const n = (k: string): number => Number(sto[k] ?? 0);
    const t = (k: string): string => (sto[k] === null || sto[k] === undefined ? 'never' : formatTime(n(k)));
    lines.push(
      `block mirror via ${String(sto['via'])} -> ${String(sto['dst_ip'])}:${String(sto['port'])} (NBD): ${String(sto['status'])}, ` +
        `${n('data_bytes')} data bytes in ${n('clusters_copied')} clusters (${n('dirty_resends')} re-sent after guest writes), ${n('bytes_sent')} bytes sent, ` +
        `ready at ${t('ready_ns')}, done at ${t('completed_ns')}`,
    );
  }
  for (const [disk, v] of Object.entries(r.nbd_disks ?? {})) {
    const mv = v as NbdMove | null;
    if (!mv) continue;
    const at = (ns: number | null): string => (ns === null ? 'never' : formatTime(ns));
    lines.push(
      `network disk ${disk}: ${mv.from_via} -> ${mv.to_via} (${mv.to_src_ip}), ${mv.status}: destination handshake at ${at(mv.dest_connected_ns)}, ` +
        `${mv.drained_ios} requests drained on the source by ${at(mv.drained_ns)}, ${mv.held_ios} held while paused, switched at ${at(mv.switched_ns)}${mv.error ? ` (${mv.error})` : ''}`,
    );
  }
  for (const e of r.timeline) lines.push(`${formatTime(e.time_ns).padStart(11)}  ${e.what}`);
  for (const t of r.tables) {
    const what =
      t.how === 'moved' ? `${t.old_port} -> ${t.new_port}` : t.how === 'unchanged' ? `${t.old_port} (already right)` : t.how === 'stale' ? `still ${t.old_port}` : `${t.old_port} forgotten (${t.how})`;
    lines.push(`MAC table ${t.table}: ${what}${t.at_ns !== null && t.how !== 'unchanged' ? ` at ${formatTime(t.at_ns)}` : ''}`);
  }
  for (const f of r.failover ?? []) {
    lines.push(
      `failover ${f.interface}: ${f.source_vf} unplugged at ${formatTime(f.unplugged_ns)} (standby ${f.standby} carries the traffic), ` +
        (f.dest_vf !== null ? `${f.dest_vf} plugged at ${formatTime(f.plugged_ns!)}` : f.message ?? 'no VF plugged'),
    );
  }
  for (const w of r.announce.warnings ?? []) lines.push(`warning: ${w}`);
  return lines;
}

/** Live migration as a fabric feature (`feature.ts`): `migrate:` steps and the `migrations` block. */
export const migrationFeature: FabricFeature = {
  name: 'migration',
  summaryKey: 'migrations',
  validate: validateMigration,
  actions: { migrate: (ctx, step) => scheduleMigration(ctx, step as MigrateStep) },
  summary: (ctx) => {
    const l = byCtx.get(ctx);
    if (!l) return undefined;
    return {
      json: () => l.filter((e) => e.m !== null).map((e) => e.m!.record()),
      text: () => l.flatMap((e) => (e.m ? timelineText(e.m.record()) : [])),
    };
  },
};
