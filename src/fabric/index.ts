export { Fabric, checkTopology, type FabricOptions, type CaptureOptions } from './fabric.js';
export { runTopology, runTopologyAsync, toModel, type RunTopologyOptions, type RunResult, type TopologyInputSource } from './run.js';
export { renderSummary, portCounters, type RunSummary, type LinkSummary, type AppSummary } from './summary.js';
export type { BuildContext, HostRuntime, VmRuntime, VmNicRuntime, SummarySection, BuildOptions } from './context.js';
export { portSelector, globToRegExp } from './glob.js';
export type { FabricFeature, FeatureBuild, ActionScheduler } from './feature.js';
export { FABRIC_FEATURES } from './features.js';
export { storageResult, storageVerdicts, storageModel } from './disk-io.js';
