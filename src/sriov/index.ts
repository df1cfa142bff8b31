/**
 * SR-IOV: physical functions, virtual functions, the embedded switch and switchdev representors.
 * See `pf.ts` for the design notes.
 */
export { PhysicalFunction, type PhysicalFunctionOptions, type PfStats, type VfCounters, type HwMode } from './pf.js';
export { VirtualFunction, type VfStats, type GuestRequestResult, UNTRUSTED_FILTER_LIMIT } from './vf.js';
export { applyKnobs, defaultVfConfig, type VfConfig, type VfKnobs, type VfLinkState, type VlanProto, type EswitchMode } from './config.js';
export { NIC_MODELS, NIC_MODEL_NAMES, isNicModel, type NicModel, type NicCaps } from './models.js';
export { SriovError, problemToError, type Errno, type SriovErrorCode, type KnobProblem } from './errors.js';
export { formatIpLinkShow, vfLine, type IpLinkShowOptions } from './ip-link.js';
export { offloadable, offloadableText, offloadableRule, type OffloadFlowShape, type OffloadVerdict } from './offload.js';
export { TxShaper, DEFAULT_TX_RING } from './tx-shaper.js';
