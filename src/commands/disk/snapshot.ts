import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { UserError } from '../../errors.js';
import { snapshotImage } from '../../block/api.js';
import { snapshotLine } from './info.js';

export default class DiskSnapshot extends BaseCommand {
  static override summary = 'Internal snapshots: create, list, apply, delete (qemu-img snapshot).';
  static override description =
    'Snapshots live inside the qcow2 file (its snapshot table) and form a tree of states: apply switches the\n' +
    'active state to one, writes after that diverge. External snapshots are overlays: disk create -b.';
  static override examples = [
    '<%= config.bin %> disk snapshot -c before-upgrade vm.qcow2',
    '<%= config.bin %> disk snapshot -l vm.qcow2',
    '<%= config.bin %> disk snapshot -a before-upgrade vm.qcow2',
    '<%= config.bin %> disk snapshot -d before-upgrade vm.qcow2',
  ];
  static override args = { file: Args.string({ description: 'qcow2 image', required: true }) };
  static override flags = {
    create: Flags.string({ char: 'c', description: 'create a snapshot with this name' }),
    list: Flags.boolean({ char: 'l', description: 'list snapshots' }),
    apply: Flags.string({ char: 'a', description: 'revert to this snapshot (id or name)' }),
    delete: Flags.string({ char: 'd', description: 'delete this snapshot (id or name)' }),
    json: Flags.boolean({ description: 'print the snapshot list as JSON' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskSnapshot);
    const ops = [flags.create !== undefined, flags.list, flags.apply !== undefined, flags.delete !== undefined].filter(Boolean).length;
    if (ops !== 1) throw new UserError('CLI_BAD_FLAG', 'give exactly one of -c NAME, -l, -a NAME, -d NAME', { where: '-c|-l|-a|-d' });
    const now = Date.now();
    const list = snapshotImage(
      args.file,
      flags.create !== undefined
        ? { create: flags.create, times: { dateSec: Math.floor(now / 1000), dateNsec: (now % 1000) * 1e6 } }
        : flags.apply !== undefined
          ? { apply: flags.apply }
          : flags.delete !== undefined
            ? { delete: flags.delete }
            : { list: true },
    );
    if (flags.json) this.printJson(list);
    else if (flags.list) {
      // qemu-img.c dump_snapshots: nothing at all (not even the header) when there are none.
      if (list.length === 0) return;
      const lines = ['Snapshot list:', 'ID        TAG               VM SIZE                DATE     VM CLOCK     ICOUNT'];
      for (const s of list) {
        lines.push(snapshotLine({ id: s.id, name: s.name, 'vm-state-size': s.vmStateSize, 'date-sec': s.dateSec, 'vm-clock-sec': Math.floor(s.vmClockNsec / 1e9), 'vm-clock-nsec': s.vmClockNsec % 1e9 }));
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    }
  }
}
