/** NBD (Network Block Device) protocol: codec, client and server state machines (docs/nbd.md). */
export * from './constants.js';
export * from './wire.js';
export { ClientStreamDecoder, ServerStreamDecoder, type Decoded, type DecoderLimits, type ServerStreamContext } from './decode.js';
export { NbdClient, NbdRefusedError, type NbdClientOptions, type NbdExportInfo, type NbdReply } from './client.js';
export { NbdServer, type NbdExport, type NbdImage, type NbdServerOptions, type NbdServerStats, type StatusRun } from './server.js';
export { chainImage, chainStatus } from './block-export.js';
export { TcpPipe, nbdClientOnTcp, nbdServerOnTcp } from './tcp.js';
export { MirrorJob, type MirrorOptions, type MirrorStats } from './mirror.js';
