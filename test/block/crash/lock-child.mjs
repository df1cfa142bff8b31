// Lock race writer: waits for "go IMAGE" on stdin, opens IMAGE read-write (taking vfab's writer
// lock) and answers "WON" or "LOST CODE"; a winner then waits for "write SEED", writes 16 seeded
// 4 KiB..64 KiB pieces, flushes, closes and answers "DONE". argv: BUILD_DIR
import { createInterface } from 'node:readline';

const { openImage } = await import(`${process.argv[2]}/block/api.js`);
let disk;
const rl = createInterface({ input: process.stdin });
process.stdout.write('READY\n');
for await (const line of rl) {
  const [cmd, arg] = line.split(' ');
  if (cmd === 'go') {
    try {
      disk = openImage(arg);
      process.stdout.write('WON\n');
    } catch (e) {
      disk = undefined;
      process.stdout.write(`LOST ${e.code ?? e.message}\n`);
    }
  } else if (cmd === 'write' && disk) {
    let s = Number(arg);
    for (let i = 0; i < 16; i++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      const len = 4096 * (1 + (s % 16));
      const off = (s % 60) * 65536 + (s % 7) * 512;
      disk.write(off, new Uint8Array(len).fill(1 + (s % 250)));
    }
    disk.flush();
    disk.close();
    disk = undefined;
    process.stdout.write('DONE\n');
  } else if (cmd === 'quit') break;
}
rl.close();
