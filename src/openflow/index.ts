/**
 * OpenFlow 1.3: the codec (typed messages, encode/decode with the spec's validation) and the
 * stream helpers. The switch side (bridges talking to a controller) lives in channel.ts and
 * switch-agent.ts; socket I/O lives in the `*.adapter.ts` files.
 */
export * from './constants.js';
export * from './messages.js';
export * from './codec.js';
export * from './stream.js';
export type { Action as OfpAction, Instruction as OfpInstruction } from './actions.js';
export { OXM_FIELDS, OXM_BY_NAME, prereqError, type Oxm, type OxmTlv, type OxmName, type Match, type OfpErr } from './oxm.js';
export type { MultipartReplyBody, MultipartRequestBody, FlowStats as OfpFlowStats, PortStats as OfpPortStats } from './multipart.js';
