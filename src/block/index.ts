/** The block layer's public surface (see docs/disks.md). */
export * from './api.js';
export { Chain, MemoryProvider, MAX_CHAIN_DEPTH, type BackendProvider, type ChainOpenOptions } from './chain.js';
export { MemoryBackend, type BlockBackend } from './backend.js';
export { FileBackend, FileProvider } from './file-backend.adapter.js';
export type { BlockImage, MapExtent, Layer } from './image.js';
export { runIoCommands, type IoResult } from './qemu-io.js';
export { formatMapHuman } from './map-format.js';
