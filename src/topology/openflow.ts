/**
 * Topology keys of a bridge driven over OpenFlow (issue 15), with OVS's names and meanings
 * (`vswitchd/vswitch.xml`: Bridge `controller`, `fail_mode`, `other-config:datapath-id`,
 * `protocols`; Controller `target` syntax `tcp:IP:PORT` / `ptcp:PORT[:IP]`, `ovs-vswitchd(8)`).
 */
import { z } from 'zod';
import { zDuration } from '../util/zod-units.js';

const IPV4 = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}';
const PORT = '(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})';
export const TARGET_RE = new RegExp(`^(?:tcp:${IPV4}:${PORT}|ptcp:${PORT}(?::${IPV4})?)$`);

const zTarget = () =>
  z.string().regex(TARGET_RE, {
    error: (iss) => `${JSON.stringify(iss.input)} is not a controller target; write tcp:IP:PORT (connect) or ptcp:PORT[:IP] (listen), e.g. "tcp:127.0.0.1:6653"`,
  });

export const openflowBridgeConfig = {
  controller: z.union([zTarget(), z.array(zTarget()).min(1)]).optional().describe('OpenFlow controller target(s): tcp:IP:PORT to connect, ptcp:PORT[:IP] to listen (ovs-ofctl, vfab run --serve)'),
  fail_mode: z.enum(['secure', 'standalone']).optional().describe('OVS fail_mode: standalone (default) falls back to NORMAL switching when no controller is reachable; secure never does'),
  datapath_id: z
    .string()
    .regex(/^(0x)?[0-9a-fA-F]{1,16}$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a datapath id; write up to 16 hex digits, e.g. "0000000000000001"` })
    .optional()
    .describe('OpenFlow datapath id (OVS other-config:datapath-id), hex; default: the bridge number'),
  protocols: z.array(z.literal('OpenFlow13', { error: 'vfab bridges speak OpenFlow13 only' })).optional().describe('OpenFlow versions (vfab speaks OpenFlow13)'),
  controller_latency: zDuration().optional().describe('virtual one-way latency between bridge and controller (default 1ms)'),
  max_flows: z.number().int().min(1).optional().describe('flow entries the bridge holds; a FLOW_MOD past it gets OFPFMFC_TABLE_FULL (default 100000)'),
};

export interface OpenflowTarget {
  kind: 'tcp' | 'ptcp';
  host: string;
  port: number;
  text: string;
}

export interface OpenflowBridgeModel {
  targets: OpenflowTarget[];
  failMode: 'secure' | 'standalone';
  datapathId: bigint | undefined;
  latencyNs: number;
  maxFlows: number | undefined;
}

export const DEFAULT_CONTROLLER_LATENCY_NS = 1_000_000;

export function parseTarget(text: string): OpenflowTarget {
  const p = text.split(':');
  if (p[0] === 'tcp') return { kind: 'tcp', host: p[1]!, port: Number(p[2]), text };
  return { kind: 'ptcp', host: p[2] ?? '127.0.0.1', port: Number(p[1]), text };
}

/** The model of a bridge's OpenFlow keys, or undefined when it has none. */
export function openflowModel(doc: {
  controller?: string | string[] | undefined;
  fail_mode?: 'secure' | 'standalone' | undefined;
  datapath_id?: string | undefined;
  protocols?: string[] | undefined;
  controller_latency?: number | undefined;
  max_flows?: number | undefined;
}): OpenflowBridgeModel | undefined {
  if (doc.controller === undefined && doc.fail_mode === undefined && doc.datapath_id === undefined && doc.protocols === undefined) return undefined;
  const targets = doc.controller === undefined ? [] : (Array.isArray(doc.controller) ? doc.controller : [doc.controller]).map(parseTarget);
  return {
    targets,
    failMode: doc.fail_mode ?? 'standalone',
    datapathId: doc.datapath_id === undefined ? undefined : BigInt(`0x${doc.datapath_id.replace(/^0x/, '')}`),
    latencyNs: doc.controller_latency ?? DEFAULT_CONTROLLER_LATENCY_NS,
    maxFlows: doc.max_flows,
  };
}
