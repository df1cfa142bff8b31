/**
 * The OpenFlow-like virtual switch: bridges (`Bridge`), the ovs-ofctl flow parser, the
 * tuple-space-search classifier, NORMAL MAC learning and the bare-bridge trace engine.
 */
export * from './bridge.js';
export * from './classifier.js';
export * from './flow-parser.js';
export * from './flow-table.js';
export * from './mac-learning.js';
export * from './vlan.js';
export type { Action } from './actions.js';
export { formatAction, formatActions } from './actions.js';
export { MAX_DEPTH, MAX_RESUBMITS, type XlateResult, type XlateOutput } from './xlate.js';
export { OFPP_LOCAL, KEY_WORDS } from './fields.js';
