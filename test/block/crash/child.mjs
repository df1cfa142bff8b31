// Crash-test writer: runs the seeded ops on IMAGE and SIGKILLs itself right before its Nth
// pwrite (N = KILL_AT; 0 = never, the parent kills it on a timer instead). Progress goes to
// stdout synchronously: "D i" after op i completed, "F i" after the flush that ends op i.
// argv: BUILD_DIR IMAGE SEED KILL_AT OVERLAY(0|1)
import { writeSync } from 'node:fs';
import { makeOps } from './ops.mjs';

const [buildDir, image, seedText, killText, overlayText] = process.argv.slice(2);
const { openImage, snapshotImage, commitImage, rebaseImage } = await import(`${buildDir}/block/api.js`);
const { FileProvider } = await import(`${buildDir}/block/file-backend.adapter.js`);
const killAt = Number(killText);
let writes = 0;

class KillingProvider extends FileProvider {
  open(name, opts) {
    return this.wrap(super.open(name, opts));
  }
  wrap(b) {
    const pwrite = b.pwrite.bind(b);
    b.pwrite = (data, off) => {
      if (++writes === killAt) process.kill(process.pid, 'SIGKILL');
      pwrite(data, off);
    };
    return b;
  }
}
const provider = new KillingProvider();
const ops = makeOps(Number(seedText), overlayText === '1');
let disk = openImage(image, {}, provider);
writeSync(1, 'R\n');
for (let i = 0; i < ops.length; i++) {
  const op = ops[i];
  if (op.t === 'write') disk.write(op.off, new Uint8Array(op.len).fill(op.v));
  else if (op.t === 'discard') disk.discard(op.off, op.len);
  else if (op.t === 'zero') disk.writeZeroes(op.off, op.len);
  else if (op.t === 'flush') {
    disk.flush();
    writeSync(1, `F ${i}\n`);
  } else {
    disk.close();
    if (op.t === 'commit') commitImage(image, provider);
    else if (op.t === 'rebase') rebaseImage(image, undefined, {}, provider);
    else snapshotImage(image, op.t === 'snap' ? { create: op.name } : { delete: op.name }, provider);
    disk = openImage(image, {}, provider);
    // Commit, rebase and snapshot operations end with a flush: everything before is durable.
    writeSync(1, `F ${i}\n`);
  }
  writeSync(1, `D ${i}\n`);
}
disk.close();
writeSync(1, 'END\n');
