/**
 * Child process for the Ctrl-C test: opens a pcap and a pcapng file sink, writes some packets
 * (still buffered, never closed explicitly), installs closeAllOnExit and sends itself SIGINT.
 * Usage: vite-node test/pcap/fixtures-interrupt.ts -- DIR
 */
import { join } from 'node:path';
import { closeAllOnExit, FileSink } from '../../src/pcap/file-sink.adapter.js';
import { PcapWriter } from '../../src/pcap/pcap.js';
import { PcapngWriter } from '../../src/pcap/pcapng.js';
import { buildArpRequest } from '../../src/wire/build.js';

const dir = process.argv[process.argv.length - 1]!;
closeAllOnExit();
const ng = new PcapngWriter(new FileSink(join(dir, 'sub', 'run.pcapng')));
const pc = new PcapWriter(new FileSink(join(dir, 'vm1.eth0.pcap')));
const a = ng.addInterface({ name: 'vm1.eth0' });
for (let i = 0; i < 5; i++) {
  const f = buildArpRequest({ srcMac: 0x020000000001, srcIp: 0x0a000001, dstIp: 0x0a000002 + i });
  ng.writePacket(a, i * 1000, f, { direction: 'out' });
  pc.writePacket(i * 1000, f);
}
process.stdout.write('ready\n');
process.kill(process.pid, 'SIGINT');
// Keep the event loop alive until the signal handler exits the process.
setInterval(() => undefined, 1000);
