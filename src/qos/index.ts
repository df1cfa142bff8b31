/**
 * Storage QoS: QEMU-faithful throttling (per disk or round-robin groups), Firecracker token
 * buckets, cgroup io.max and mClock as other policy kinds, a shared-backend model, fio-style
 * workloads in virtual time, fio-shaped results, timelines, SVG charts and policy tests.
 */
export { QosEngine, DiskRun, JobRun, WindowStat, meterFor, type WindowSpec, type EngineOptions, type GroupRun } from './engine.js';
export { runQos, qosResult, expectationWindows, evaluateQosExpectation, jobKey, policyLines, formatNs, type QosResult, type DiskSummary, type ExpectationResult, type RunQosOptions } from './run.js';
export { loadQosText, qosFileSchema, type QosFile, type LoadQosOptions, type TopologyDisks } from './file.js';
export { parseExpectation, ExpectParseError, compare, type Expectation, type Metric, type Op } from './expect.js';
export { StorageDevice, type StorageDeviceSpec, type MclockSpec } from './storage-device.js';
export { ServiceTime, normalQuantile, type ServiceTimeSpec } from './service-time.js';
export { LogHistogram, FIO_PERCENTILES, fioPercentileKey } from './histogram.js';
export { Timeline, type TimelineRow } from './timeline.js';
export { defaultJob, parseBs, parseBssplit, parseRateIops, RW_MODES, type JobSpec, type RwMode, type BsChoice } from './workload.js';
export { fioJobJson, type FioJson, type FioJob, type FioDir, type FioLat } from './report.js';
export { qosCharts } from './svg.js';
export { renderRun, renderTest } from './render.js';
export { replayQemu, type ReplayCase, type ReplayRequest } from './qemu-replay.js';
export { NULL_DEVICE, type QosModel, type DiskSpec, type GroupSpec, type PolicySpec } from './model.js';
export { ThrottleGroup, type Meter, type GateHost, type GateRequest, type MemberThrottleStats } from '../block/throttle/group.js';
export { LeakyBuckets, READ, WRITE, type Direction as IoDirection } from '../block/throttle/leaky-bucket.js';
export {
  readQemuLimits, validateQemuLimits, emptyLimits, qemuLimitKeys, hasLimits, BUCKETS, THROTTLE_VALUE_MAX,
  type QemuLimits, type BucketLimits, type BucketName, type LimitProblem,
} from '../block/throttle/qemu-config.js';
export { QemuMeter, FirecrackerMeter, IoMaxMeter, parseIoMax, type IoMaxLimits } from '../block/throttle/meters.js';
export { TokenBucket, FirecrackerRateLimiter, REFILL_TIMER_NS, type TokenBucketConfig } from '../block/throttle/token-bucket.js';
export { parseFioIni, substEnv, type FioSection, type FioOption, type FioIniOptions } from './fio/ini.js';
export { importFio, type FioImport, type ImportOptions as FioImportOptions } from './fio/import.js';
export { fioBytes, fioTime } from './fio/values.js';
export { FioLogs, platIndex, platValue, type JobLogSpec } from './fio-logs.js';
