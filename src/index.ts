/**
 * vfab's library entry. Import what you need to load and run a topology from TypeScript:
 *
 *   import { loadTopology, Fabric, runTopology } from 'vfab';
 *   const { summary } = runTopology('topologies/quickstart.yaml', { pcapng: 'out/q.pcapng' });
 *
 *   const fabric = new Fabric(loadTopology('my.yaml'), { seed: 7 });
 *   fabric.capturePcapng(new MemorySink());
 *   const s = fabric.run({ untilNs: seconds(2) });
 */
export * from './sim/index.js';
export type { RunResult as SimRunResult } from './sim/index.js';
export * from './port/index.js';
export * from './errors.js';
export * from './util/units.js';

// Topology files: load, validate, JSON Schema.
export {
  loadTopology, loadTopologyText, topologySchema, topologyJsonSchema, type LoadOptions, type TopologyDoc, type TopologyInput,
  type TopologyModel, type HostModel, type BridgeModel, type BridgePortModel, type VmModel, type InterfaceModel, type LinkModel,
  type ScenarioStep, type ScenarioAction, type CaptureModel, type VlanConfig, type PfModel,
} from './topology/index.js';

// The fabric: build, run, summarize.
export {
  Fabric, runTopology, runTopologyAsync, checkTopology, renderSummary, type FabricOptions, type CaptureOptions, type RunTopologyOptions,
  type RunResult, type RunSummary, type AppSummary, type LinkSummary, type TopologyInputSource, type BuildContext,
} from './fabric/index.js';

// Links, traces.
export { Link, serializationNs, type LinkOptions } from './link/index.js';
export { PcapngWriter, PcapWriter, MemorySink, type ByteSink } from './pcap/index.js';

// virtio-net NICs and the guest stack (build your own VMs without a topology file).
export { VirtioNet, type VirtioNetOptions, type VnicMetrics, FEATURE_BITS, type FeatureName } from './vnic/index.js';
export {
  GuestStack, startPing, startUdpCbr, UdpSink, type GuestStackOptions, type InterfaceConfig, type PingResult, type UdpResult,
} from './guest/index.js';

// Storage QoS: throttling (QEMU, Firecracker, io.max, mClock), fio-style workloads, policy tests.
export * from './qos/index.js';
export { loadQosFile, writeCharts } from './qos/file.adapter.js';

// SR-IOV: physical functions, VFs (a GuestNic), the VEB/VEPA, switchdev representors, offload hint.
export {
  PhysicalFunction, VirtualFunction, SriovError, NIC_MODELS, applyKnobs, defaultVfConfig, offloadable, offloadableText,
  type PhysicalFunctionOptions, type VfConfig, type VfKnobs, type VfCounters, type PfStats, type NicModel, type EswitchMode,
  type OffloadVerdict,
} from './sriov/index.js';
export { sriovNics, nicJson } from './fabric/sriov.js';

// Live migration: pre-copy model, QEMU announce schedule (RARP + virtio GUEST_ANNOUNCE), orchestrator.
export {
  planPrecopy, announceOffsets, announceStepNs, classifyAnnounce, Announcer, LiveMigration, ReconvergenceTracker, LossMeter, FailoverNic,
  QEMU_ANNOUNCE_DEFAULTS, DEFAULT_MAX_DOWNTIME_NS, type PrecopyParams, type PrecopyPlan, type AnnounceMode, type AnnounceParams,
  type MigrationSpec, type MigrationDeps, type MigrationRecord, type MigratableNic, type MacTableView,
} from './migration/index.js';

// The OpenFlow-like virtual switch: bridges, ovs-ofctl flow tables, classifier, bare-bridge trace.
export {
  Bridge, Classifier, FlowCache, MacTable, FlowTables, parseFlows, parseTraceFlow, MAX_DEPTH, MAX_RESUBMITS, OFPP_LOCAL,
  type BridgeOptions, type BridgePortOptions, type BridgeTraceEvent, type ParsedFlow, type FlowRule, type FlowStats, type MacEntry,
  type VlanMode, type XlateResult,
} from './vswitch/index.js';
export { BridgeTracer, parsePortSpec, formatTraceResult, type TracePortSpec, type TraceResult, type TraceOutput } from './vswitch/trace.js';
export { traceTopology, renderTopologyTrace, type TopologyTraceResult, type TopologyTraceStep } from './fabric/topology-trace.js';
export * as block from './block/index.js';
// NBD: protocol codec, client and server state machines over any byte stream (docs/nbd.md).
export * as nbd from './nbd/index.js';
