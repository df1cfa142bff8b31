/**
 * Shared by the OVS differential tests: runs an oracle case (bridge.spec, flows.txt, packets.txt
 * in the format of ../shared/oracles/ovs/README.md) through vfab's `BridgeTracer`, and parses
 * the oracle's `--stable` output into the same normalized form, so the two can be compared line
 * by line.
 *
 * Normal form of one packet: the output ports sorted (numbers, then LOCAL), each with the VLAN it
 * leaves with and the header fields it leaves rewritten, e.g. `3{vlan=20} 4 LOCAL{nw_src=1.2.3.4}`,
 * or `drop`.
 */
import { BridgeTracer, type TracePortSpec, type TraceResult } from '../../src/vswitch/trace.js';
import type { VlanMode } from '../../src/vswitch/vlan.js';
import { parseTraceFlow } from '../../src/vswitch/flow-parser.js';
import { parseProtocols } from '../../src/vswitch/flow-syntax.js';
import { VLAN_CFI, W_DL_DST_HI, W_DL_SRC_HI, W_NW_TOS, W_VLAN_TCI, formatMac, macFromWords } from '../../src/vswitch/fields.js';

export interface OracleLine {
  /** 1-based packet number ([n] in the oracle output) or a command. */
  kind: 'packet' | 'trace' | 'fdb';
  text: string;
  /** Normalized outputs (packets) or fdb rows. */
  result: string;
  /** With `ovs`: vfab's `ofproto/trace`-style text for the packet. */
  ovs?: string;
}

function stripComment(line: string): string {
  const t = line.trim();
  if (t.startsWith('echo ')) return t;
  return t.replace(/(^|\s)#.*$/, '').trim();
}

export function parseSpec(spec: string): { ports: TracePortSpec[]; localNoFlood: boolean; bridge: string; macTableSize?: number; groups: string; meters: string } {
  const ports: TracePortSpec[] = [];
  let groups = '';
  let meters = '';
  let bridge = 'br0';
  let localNoFlood = false;
  let macTableSize: number | undefined;
  for (const raw of spec.split('\n')) {
    const line = stripComment(raw);
    if (!line) continue;
    const tok = line.split(/\s+/);
    if (tok[0] === 'bridge') {
      bridge = tok[1]!;
      for (const kv of tok.slice(2)) {
        const m = /^other_config:mac-table-size=(\d+)$/.exec(kv);
        if (!m) throw new Error(`unsupported bridge column ${kv}`);
        macTableSize = Math.max(10, Number(m[1])); // OVS clamps to 10..1,000,000
      }
    }
    else if (tok[0] === 'port') {
      const p: TracePortSpec = { name: tok[1]!, ofport: Number(tok[2]) };
      for (const kv of tok.slice(3)) {
        const [k, v] = kv.split('=') as [string, string];
        if (k === 'tag') p.tag = Number(v);
        else if (k === 'trunks') p.trunks = v.split(',').map(Number);
        else if (k === 'vlan_mode') p.vlanMode = v as VlanMode;
        else throw new Error(`unsupported port column ${k}`);
      }
      ports.push(p);
    } else if (tok[0] === 'ofctl' && tok[1] === 'mod-port' && tok[3] === bridge && tok[4] === 'no-flood') localNoFlood = true;
    else if (tok[0] === 'appctl' && tok[1] === 'netdev-dummy/set-admin-state' && tok[3] === 'down') {
      const p = ports.find((x) => x.name === tok[2]);
      if (!p) throw new Error(`unknown port in ${line}`);
      p.down = true;
    } else if (tok[0] === 'ofctl' && tok.includes('add-group')) groups += `${tok.slice(tok.indexOf('add-group') + 2).join(' ')}\n`;
    else if (tok[0] === 'ofctl' && tok.includes('add-meter')) meters += `${tok.slice(tok.indexOf('add-meter') + 2).join(' ')}\n`;
    else if (tok[0] === 'ofctl' && tok.some((t) => t.startsWith('dump-'))) continue;
    else throw new Error(`unsupported spec line: ${line}`);
  }
  return { ports, localNoFlood, bridge, groups, meters, ...(macTableSize !== undefined ? { macTableSize } : {}) };
}

function portKey(p: string): [number, string] {
  return /^\d+$/.test(p) ? [Number(p), p] : [1e9, p];
}

function normalizeTokens(tokens: string[]): string {
  if (tokens.length === 0) return 'drop';
  return tokens
    .sort((a, b) => {
      const [x] = portKey(a.split('{')[0]!);
      const [y] = portKey(b.split('{')[0]!);
      return x - y || (a < b ? -1 : a > b ? 1 : 0);
    })
    .join(' ');
}

/** vfab's result in normal form. */
export function normalizeVfab(r: TraceResult, inVlan: number | null): string {
  const toks = r.outputs.map((o) => {
    const port = o.ofport === 'LOCAL' ? 'LOCAL' : String(o.ofport);
    const edits: string[] = [];
    if (o.vlan !== inVlan) edits.push(o.vlan === null ? 'untagged' : `vlan=${o.vlan}`);
    for (const [k, v] of Object.entries(o.set).sort()) edits.push(`${k}=${v}`);
    return edits.length ? `${port}{${edits.join(',')}}` : port;
  });
  return normalizeTokens(toks);
}

function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    if (ch === sep && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

const NUM = (v: string): number => (v.startsWith('0x') ? parseInt(v, 16) : Number(v));

/**
 * The oracle's `Outputs:` line in normal form. Edits are datapath actions applied in order:
 * `pop_vlan`, `push_vlan(vid=V,pcp=P)`, `set(eth(src=…,dst=…))`, `set(ipv4(…))`,
 * `set_masked(…)`, `set(tcp(src,dst))` …; the final state is diffed against the input flow.
 */
export function normalizeOvs(outputs: string, input: { vlan: number | null; pcp: number; tos: number; fields?: Record<string, string | number> }): string {
  const line = outputs.trim();
  if (line === 'drop' || line.startsWith('(no output)')) return 'drop';
  const toks = line.split(/\s+/).map((tok) => {
    const m = /^([^{]+)(?:\{(.*)\})?$/.exec(tok);
    if (!m) throw new Error(`cannot parse oracle output token ${tok}`);
    const port = m[1]!;
    let vlan = input.vlan;
    let pcp = input.pcp;
    const set: Record<string, string | number> = {};
    for (const e of splitTop(m[2] ?? '', ';')) {
      if (e.startsWith('userspace(')) continue; // controller action: a packet-in, not an output
      if (e === 'pop_vlan') vlan = null;
      else if (e.startsWith('push_vlan(')) {
        const vid = /vid=(\d+)/.exec(e);
        const p = /pcp=(\d+)/.exec(e);
        vlan = vid ? Number(vid[1]) : 0;
        pcp = p ? Number(p[1]) : 0;
      } else {
        const sm = /^(set|set_masked)\((\w+)\((.*)\)\)$/.exec(e);
        if (!sm) throw new Error(`unknown oracle edit ${e}`);
        const hdr = sm[2]!;
        for (const kv of splitTop(sm[3]!, ',')) {
          const [k, raw] = kv.split('=') as [string, string];
          const [v, mask] = raw.split('/') as [string, string | undefined];
          const names: Record<string, Record<string, string>> = {
            eth: { src: 'dl_src', dst: 'dl_dst' },
            ipv4: { src: 'nw_src', dst: 'nw_dst', tos: 'nw_tos', ttl: 'nw_ttl' },
            ipv6: { src: 'ipv6_src', dst: 'ipv6_dst', tclass: 'nw_tos', hlimit: 'nw_ttl' },
            tcp: { src: 'tp_src', dst: 'tp_dst' },
            udp: { src: 'tp_src', dst: 'tp_dst' },
            sctp: { src: 'tp_src', dst: 'tp_dst' },
            icmp: { type: 'tp_src', code: 'tp_dst' },
            icmpv6: { type: 'tp_src', code: 'tp_dst' },
            arp: { sip: 'arp_spa', tip: 'arp_tpa', op: 'arp_op', sha: 'arp_sha', tha: 'arp_tha' },
          };
          const name = names[hdr]?.[k];
          if (!name) throw new Error(`unknown oracle set field ${hdr}.${k}`);
          if (name === 'nw_tos') {
            const val = NUM(v);
            set[name] = mask !== undefined ? (input.tos & ~NUM(mask)) | val : val;
          } else if (/^(tp_|nw_ttl|arp_op)/.test(name)) set[name] = NUM(v);
          else set[name] = v;
        }
      }
    }
    const edits: string[] = [];
    // A datapath set back to the input's value (a group bucket's change undone) is no edit.
    const same = (k: string, v: string | number): boolean => input.fields?.[k] !== undefined && String(input.fields[k]) === String(v);
    if (vlan !== input.vlan) edits.push(vlan === null ? 'untagged' : `vlan=${vlan}`);
    if (vlan !== null && pcp !== input.pcp) set['dl_vlan_pcp'] = pcp;
    for (const [k, v] of Object.entries(set).sort()) if (!same(k, v)) edits.push(`${k}=${v}`);
    return edits.length ? `${port}{${edits.join(',')}}` : port;
  });
  return normalizeTokens(toks);
}

export function inputVlan(flow: string): { vlan: number | null; pcp: number; tos: number; fields: Record<string, string | number> } {
  const { value } = parseTraceFlow(flow, { portByName: () => 1 });
  const tci = value[W_VLAN_TCI]!;
  return {
    vlan: tci & VLAN_CFI ? tci & 0xfff : null,
    pcp: tci & VLAN_CFI ? tci >>> 13 : 0,
    tos: value[W_NW_TOS]!,
    fields: { dl_src: formatMac(macFromWords(value, W_DL_SRC_HI)), dl_dst: formatMac(macFromWords(value, W_DL_DST_HI)) },
  };
}

/** Parses the oracle's `--stable` output into per-item normal forms. */
export function parseExpected(text: string): OracleLine[] {
  const out: OracleLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const pm = /^\[(\d+)\] (packet|trace) (.*)$/.exec(l);
    if (pm) {
      const next = lines[i + 1] ?? '';
      const om = /^\s+Outputs: (.*)$/.exec(next);
      const em = /^\s+ERROR: (.*)$/.exec(next);
      const flow = pm[3]!;
      out.push({ kind: pm[2] as 'packet' | 'trace', text: flow, result: om ? normalizeOvs(om[1]!, inputVlan(flow)) : `ERROR ${em?.[1] ?? ''}` });
      continue;
    }
    if (l.startsWith('[fdb]')) {
      const rows: string[] = [];
      while (/^\s{2}\S/.test(lines[i + 1] ?? '')) rows.push(lines[++i]!.trim());
      out.push({ kind: 'fdb', text: 'fdb', result: rows.join('\n') });
    }
  }
  return out;
}

/** Runs a case through vfab, producing the same list as `parseExpected`. */
export function runVfab(spec: string, flows: string, packets: string, ofctlOpts = ''): OracleLine[] {
  return runVfabCase(spec, flows, packets, ofctlOpts).lines;
}

/** Like runVfab, also returning the tracer (its bridge's flow tables after the packets). */
export function runVfabTracer(spec: string, flows: string, packets: string, ofctlOpts = ''): BridgeTracer {
  return runVfabCase(spec, flows, packets, ofctlOpts).tracer;
}

/** Runs a case and returns vfab's `ofproto/trace`-style text for every packet (in order). */
export function runVfabOvsTexts(spec: string, flows: string, packets: string, ofctlOpts = ''): OracleLine[] {
  return runVfabCase(spec, flows, packets, ofctlOpts, true).lines.filter((l) => l.kind !== 'fdb');
}

function runVfabCase(spec: string, flows: string, packets: string, ofctlOpts: string, ovs = false): { lines: OracleLine[]; tracer: BridgeTracer } {
  const s = parseSpec(spec);
  const proto = /-O\s*(\S+)/.exec(ofctlOpts);
  const protocols = proto ? parseProtocols(proto[1]!) : null;
  const tracer = new BridgeTracer({
    flows,
    ...(protocols !== null ? { protocols } : {}),
    ports: s.ports,
    localNoFlood: s.localNoFlood,
    bridge: s.bridge,
    ...(s.macTableSize !== undefined ? { macTableSize: s.macTableSize } : {}),
    ...(s.groups ? { groups: s.groups } : {}),
    ...(s.meters ? { meters: s.meters } : {}),
  });
  const out: OracleLine[] = [];
  for (const raw of packets.split('\n')) {
    const line = stripComment(raw);
    if (!line) continue;
    const sp = line.indexOf(' ');
    const kw = sp < 0 ? line : line.slice(0, sp);
    const rest = sp < 0 ? '' : line.slice(sp + 1).trim();
    if (kw === 'echo' || kw === 'flows') continue;
    if (kw === 'fdb') {
      out.push({ kind: 'fdb', text: 'fdb', result: tracer.fdb().map((r) => `${r.port} ${r.vlan} ${r.mac}`).join('\n') });
      continue;
    }
    if (kw === 'appctl' && /^fdb\/flush/.test(rest)) {
      tracer.bridge.mac.flush();
      continue;
    }
    if (kw === 'appctl' || kw === 'ofctl' || kw === 'vsctl') throw new Error(`unsupported command in packets: ${line}`);
    const mode = kw === 'trace' || kw === 'packet' ? kw : 'packet';
    const flow = kw === 'trace' || kw === 'packet' ? rest : line;
    const r = tracer.trace(flow, { mayLearn: mode === 'packet', ovs });
    out.push({ kind: mode, text: flow, result: normalizeVfab(r, inputVlan(flow).vlan), ...(r.ovs ? { ovs: r.ovs.text } : {}) });
  }
  return { lines: out, tracer };
}

/** The per-packet blocks of an oracle trace log (`--trace-out`), each starting at `Flow:`. */
export function blocks(log: string): string[] {
  return log
    .split(/^=+\n/m)
    .map((b) => `${b.replace(/^\[\d+\][^\n]*\n/, '').trimEnd()}\n`)
    .filter((b) => b.startsWith('Flow:'));
}

/**
 * One `ofproto/trace` text cut into the sections the differential tests compare: `Flow`, `bridge`
 * (the table tree; with `of13`, only tables, buckets and details, since OVS re-spells OF1.3
 * actions), `Final`, `Megaflow` and `Datapath` (flood port order is not stable in OVS: when the
 * trace floods only the set of output ports is kept).
 */
export function sections(text: string, of13: boolean): Record<string, string> {
  const l = text.trimEnd().split('\n');
  const fi = l.findIndex((x) => x.startsWith('Final flow: '));
  let bridge = l.slice(2, fi - 1);
  // OpenFlow 1.3 action spellings differ (see above): keep tables, buckets and details.
  if (of13) bridge = bridge.filter((x) => /^\s*(\d+\.|bucket \d+|-> |>> |>>>> |-+$|bridge\()/.test(x.trim()) || /^\s+(->|>>)/.test(x));
  const odp = (l[fi + 2] ?? '').replace(/^Datapath actions: /, '');
  const floods = text.includes('flooding') || /^\s+(FLOOD|ALL)$/m.test(text);
  const toks = odp
    .replace(/,?userspace\(pid=0,controller\([^)]*\)\)/g, '')
    .replace(/^,/, '')
    .split(/,(?![^(]*\))/)
    .filter((t) => t !== '');
  if (toks.length === 0) toks.push('drop');
  return {
    Flow: l[0] ?? '',
    bridge: bridge.join('\n'),
    Final: l[fi] ?? '',
    Megaflow: l[fi + 1] ?? '',
    // A flood's commit sequence (pop/push between ports) depends on the port order: compare the
    // ports only (ovs-differential.test.ts checks the VLAN and edits each port receives).
    Datapath: floods ? toks.filter((t) => /^\d+$/.test(t)).sort().join(',') : toks.join(','),
  };
}
