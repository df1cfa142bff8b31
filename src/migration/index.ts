/** Live migration: pre-copy model, announce (RARP + virtio GUEST_ANNOUNCE), orchestrator, re-convergence. */
export {
  planPrecopy,
  transferNs,
  DEFAULT_MAX_DOWNTIME_NS,
  DEFAULT_MAX_ITERATIONS,
  type PrecopyParams,
  type PrecopyPlan,
  type PrecopyRound,
} from './precopy.js';
export {
  Announcer,
  announceOffsets,
  announceStepNs,
  checkAnnounceParams,
  classifyAnnounce,
  ANNOUNCE_MODES,
  QEMU_ANNOUNCE_DEFAULTS,
  type AnnounceMode,
  type AnnounceParams,
  type AnnounceNic,
  type AnnounceKind,
  type AnnounceReport,
  type AnnounceFrameRecord,
  type AnnouncerOptions,
} from './announce.js';
export { LossMeter, frameKey, type LossMeterOptions } from './loss.js';
export { ReconvergenceTracker, type MacTableView, type TrackedMac, type TableConvergence } from './reconverge.js';
export {
  LiveMigration,
  type MigratableNic,
  type MigrationSpec,
  type MigrationDeps,
  type MigrationRecord,
  type MigrationStatus,
  type StorageMigration,
  type SwitchoverResult,
  type FailoverHooks,
  type FailoverStep,
  type VfPlugResult,
  type VmVf,
  type TimelineEntry,
} from './migration.js';
export { FailoverNic } from './failover.js';
export {
  MigrationStream,
  BUFFER_DELAY_NS,
  DEFAULT_MAX_BANDWIDTH_BPS,
  MIGRATION_PORT,
  type StreamParams,
  type StreamTransport,
  type StreamEvents,
  type StreamRound,
  type StreamStats,
  type StreamPhase,
} from './stream.js';
