export { VirtioNet, type VirtioNetOptions, type CtrlCompletion } from './device.js';
export * from './control.js';
export {
  FEATURE_BITS, FEATURE_NAMES, type FeatureName, defaultOfferedFeatures, featureBits, missingDependencies,
  negotiateFeatures, parseFeatureNames, isFeatureName, type Negotiation,
} from './features.js';
export { symmetricFlowHash, reciprocalScale } from './flow-hash.js';
export { Virtqueue, MAX_QUEUE_SIZE, validateQueueSize, type QueueCounters, type QueueKind } from './virtqueue.js';
export type { VnicMetrics, QueueMetrics } from './metrics.js';
