export { loadTopology, loadTopologyText, loadTopologyPartial, loadTopologyFilePartial, type LoadOptions } from './load.js';
export { topologySchema, topologyJsonSchema, VIRTIO_FEATURE_NAMES, SCENARIO_ACTIONS, type TopologyDoc, type TopologyInput } from './schema.js';
export * from './model.js';
export { overlayWarnings } from './tunnels.js';
