/**
 * Seeded mutators for topology files and flow tables (issue 10 #21): the same seed gives the
 * same mutants, so a failure is reproduced by its seed and index alone.
 *
 * Mutations are what users and attackers do to text: delete, duplicate or swap lines, truncate,
 * re-indent, flip bytes, and replace a scalar with a hostile value (aliases and merges, YAML
 * tags, quotes and block indicators, huge and odd numbers, deep nesting, long strings, control
 * characters, `---` documents). Flow mutants replace fields, values and actions with near-misses.
 */

/** mulberry32: small, seeded, good enough to choose mutations. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE = [
  '', '*a', '&a x', '*undefined', '<<: *nope', '{<<: 5}', '[', ']', '{', '}', '"', "'", '|', '>', '|9', '>-', '-', '- -', '?', ':', '::',
  '-1', '0', '4095', '65536', '99999999999999999999999', '1e400', 'NaN', '.nan', '.inf', '-.inf', '0x10', '0o17', '1_000', 'null', '~', 'true', 'yes',
  '!!binary aGk=', '!!js/function "x"', '!<tag:x> y', '!!map', '%YAML 1.1', '---', '...', '#', '\t', '\u0000', '\u202e', '\ufeff', 'é', '😀',
  '10.0.0.1/33', '300.1.1.1', 'fd00::/129', '02:00:00:00:00', 'zz:zz:zz:zz:zz:zz', '-5s', '1e3ms', '10Gbitz', '1ns', '0s', '100000000h',
  '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[', '{a: *a}', '&x [*x]', `'${'x'.repeat(5000)}'`, 'hv1', 'br0', 'vm1.eth0', 'eth0',
];

const FLOW_BITS = [
  'in_port=99', 'in_port=nope', 'dl_vlan=4096', 'dl_src=zz', 'nw_src=10.0.0.1/40', 'tp_dst=70000', 'actions=', 'actions=output:', 'actions=resubmit(,300)',
  'actions=mod_vlan_vid:5000', 'actions=goto_table:0', 'priority=70000', 'table=300', 'idle_timeout=-1', 'cookie=0xfffffffffffffffffff', 'arp,arp_op=9',
  'ip,nw_proto=6,tp_dst=80', 'tcp_flags=+syn-syn', 'actions=learn(', 'actions=push_vlan:0x8100,set_field:5->vlan_vid', 'dl_type=0x0800/0xffff', ',,,,', '((((', 'actions=NORMAL,drop',
];

export interface Mutant {
  text: string;
  /** What was done, for the failure message. */
  how: string;
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/** One mutant of `text`. */
export function mutateText(text: string, r: () => number, extra: readonly string[] = []): Mutant {
  const lines = text.split('\n');
  const li = Math.floor(r() * lines.length);
  const line = lines[li] ?? '';
  const op = Math.floor(r() * 9);
  switch (op) {
    case 0:
      lines.splice(li, 1);
      return { text: lines.join('\n'), how: `delete line ${li + 1}` };
    case 1:
      lines.splice(li, 0, line);
      return { text: lines.join('\n'), how: `duplicate line ${li + 1}` };
    case 2: {
      const lj = Math.floor(r() * lines.length);
      [lines[li], lines[lj]] = [lines[lj]!, line];
      return { text: lines.join('\n'), how: `swap lines ${li + 1} and ${lj + 1}` };
    }
    case 3: {
      const at = Math.floor(r() * text.length);
      return { text: text.slice(0, at), how: `truncate at ${at}` };
    }
    case 4: {
      const d = Math.floor(r() * 5) - 2;
      lines[li] = d >= 0 ? ' '.repeat(d) + line : line.slice(-d);
      return { text: lines.join('\n'), how: `re-indent line ${li + 1} by ${d}` };
    }
    case 5: {
      const at = Math.floor(r() * text.length);
      const c = String.fromCharCode(Math.floor(r() * 128));
      return { text: text.slice(0, at) + c + text.slice(at + 1), how: `byte ${at} := ${JSON.stringify(c)}` };
    }
    default: {
      // replace a value (after ': ' or '- ' or inside flow collections) with a hostile one
      const v = pick(r, [...HOSTILE, ...extra]);
      const m = /^(\s*(?:- )?[^:#]*:\s*)(.*)$/.exec(line);
      if (m && r() < 0.7) lines[li] = `${m[1] ?? ''}${v}`;
      else {
        const words = line.split(/([\s,{}[\]:]+)/);
        const wi = Math.floor(r() * words.length);
        words[wi] = v;
        lines[li] = words.join('');
      }
      return { text: lines.join('\n'), how: `line ${li + 1} value := ${JSON.stringify(v.slice(0, 40))}` };
    }
  }
}

/** One mutant of a flow table text (one flow per line). */
export function mutateFlows(flows: string, r: () => number): Mutant {
  if (r() < 0.5) return mutateText(flows, r, FLOW_BITS);
  const lines = flows.split('\n');
  const li = Math.floor(r() * lines.length);
  const items = (lines[li] ?? '').split(',');
  const ii = Math.floor(r() * (items.length + 1));
  const bit = pick(r, FLOW_BITS);
  items.splice(ii, r() < 0.5 ? 1 : 0, bit);
  lines[li] = items.join(',');
  return { text: lines.join('\n'), how: `flow line ${li + 1} item ${ii} := ${bit}` };
}
