/**
 * Live migration of a VM with network disks (`nbd:`): the disks are shared storage, so nothing is
 * copied; what moves is the NBD connection. As QEMU does it:
 *
 *   1. the destination QEMU opens the VM's drives when it starts (`-incoming`): for an NBD drive
 *      that is its own TCP connection from the destination host and a full handshake
 *      (block/nbd.c `nbd_open`), from the interface of the same name as the disk's `via:`;
 *   2. at stop-and-copy the source stops the VM, and `do_vm_stop` drains every block device
 *      (`bdrv_drain_all`: the requests in flight and those waiting for a slot complete) and
 *      flushes them (`bdrv_flush_all`: an NBD_CMD_FLUSH); what the paused guest issues meanwhile
 *      waits, and the switchover waits for the drain as it waits for RAM;
 *   3. after the switchover the guest's I/Os travel from the destination host; the source QEMU
 *      quits and its client disconnects (NBD_CMD_DISC).
 *
 * The hooks have `StorageMigration`'s shape (`src/migration`, dep `sharedDisks`); the record is
 * the migration's `nbd_disks` object. A destination that cannot open the disk (no such interface
 * or no route: refused by `validateNbdMigration`; a handshake that fails at run time) fails the
 * migration at switch-over, and the VM stays on the source.
 */
import type { UserError } from '../errors.js';
import type { StorageMigration } from '../migration/index.js';
import { NBD_PORT } from '../nbd/constants.js';
import type { MigrateAction, ScenarioStep, TopologyModel } from '../topology/model.js';
import { formatIpv4 } from '../wire/ip.js';
import type { BuildContext } from './context.js';
import { hostInterface, routeBetween } from './host-interfaces.js';
import type { NbdDiskTarget, NbdMove } from './nbd-disk-client.js';
import { nbdTargets } from './nbd-disks.js';

type MigrateStep = ScenarioStep & { action: MigrateAction };

function storageHostOf(ref: string): string {
  return ref.split('/')[0]!;
}

/** Located errors: a migration whose destination cannot reach the storage host of one of the VM's network disks. */
export function validateNbdMigration(model: TopologyModel): UserError[] {
  const out: UserError[] = [];
  for (const step of model.scenario) {
    if (step.action.kind !== 'migrate') continue;
    const doc = step.action.doc;
    const vm = model.vms.find((v) => v.name === doc.vm);
    if (!vm || !model.hosts.some((h) => h.name === doc.to)) continue;
    for (const d of vm.disks) {
      const ref = d.doc.nbd;
      const via = d.doc.via;
      if (ref === undefined || via === undefined || !/^[^/\s]+\/[^/\s]+$/.test(ref)) continue;
      const st = storageHostOf(ref);
      const y = [...step.yaml, 'migrate', 'to'];
      if (st === doc.to) {
        out.push(model.source.error('NBD_SAME_HOST', y, `${vm.name} migrates to ${doc.to}, the storage host of its network disk ${d.name} (${ref}); NBD here runs host to host`));
        continue;
      }
      const r = routeBetween(model, doc.to, via, st);
      if (!r.ok) {
        out.push(
          model.source.error('NBD_MIGRATE_VIA', y, `${vm.name}'s network disk ${d.name} (${ref}, via ${via}) cannot be opened on ${doc.to}: ${r.why}`, {
            hint: `the destination opens the disk from its interface of the same name: give ${doc.to} an interface "${via}" that reaches ${st}`,
          }),
        );
      }
    }
  }
  return out;
}

/** The `sharedDisks` dep of a migration of `vm` to `to`, or undefined when the VM has no open network disk. */
export function nbdDiskMigration(ctx: BuildContext, step: MigrateStep, vm: string): StorageMigration | undefined {
  const all = nbdTargets(ctx);
  const targets: NbdDiskTarget[] = [];
  for (const [k, t] of all) if (k.startsWith(`${vm}.`)) targets.push(t);
  if (targets.length === 0) return undefined;
  const to = step.action.doc.to;
  let opened = 0;
  let failure: string | null = null;
  let drained = 0;
  const moves = new Map<NbdDiskTarget, NbdMove>();
  let pendingComplete: ((error: string | null) => void) | undefined;
  const settle = (): void => {
    const done = pendingComplete;
    if (!done) return;
    if (failure !== null) {
      pendingComplete = undefined;
      done(failure);
    } else if (drained === targets.length && opened === targets.length) {
      pendingComplete = undefined;
      done(null);
    }
  };
  return {
    start(events) {
      for (const t of targets) {
        const via = t.o.viaIf;
        const r = routeBetween(ctx.model, to, via, storageHostOf(t.exportRef));
        const src = hostInterface(ctx, to, via);
        if (!r.ok || !src) {
          failure ??= `${t.disk}: ${to} has no interface "${via}" reaching ${storageHostOf(t.exportRef)}`;
          events.fail(failure);
          continue;
        }
        const dst = r.dst;
        const move = t.openOnDestination(() => src.stack.tcp.connect(dst, NBD_PORT, { config: { nagle: false } }), src.model.path, formatIpv4(src.model.ipv4.address), {
          ready: () => {
            opened++;
            if (opened === targets.length) events.ready();
            settle();
          },
          fail: (reason) => {
            failure ??= `${t.disk}: the destination's NBD connection failed (${reason})`;
            events.fail(failure);
            settle();
          },
        });
        moves.set(t, move);
      }
    },
    complete(done) {
      pendingComplete = done;
      for (const t of targets) {
        t.drain(() => {
          drained++;
          settle();
        });
      }
      settle();
    },
    pivot() {
      for (const t of targets) t.switchOver();
    },
    cancel() {
      pendingComplete = undefined;
      for (const t of targets) t.cancelMove();
    },
    record() {
      const o: Record<string, unknown> = {};
      for (const t of targets) o[t.disk] = moves.get(t) ?? null;
      return o;
    },
  };
}
