/**
 * A flow's usable protocols (of-protocols.ts), as OVS 3.1's parse_ofp_str__ (lib/ofp-flow.c)
 * builds them from flags, match and actions; the order ovs-ofctl add-flows reports errors in
 * (parse errors of any line first, then the first line that fails on its own) with vfab's gaps
 * placed as late errors; and NXM_OF_IP_TOS, the 8-bit ToS byte with ECN bits read as 0.
 * Verdicts checked here were recorded with the real ovs-ofctl (corpus z38..z49).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { parseFlows, type FlowWarning } from '../../src/vswitch/flow-parser.js';
import type { OfVersion } from '../../src/vswitch/flow-syntax.js';
import { P_ANY, P_OF10_ANY, P_OF11_UP, P_OF13_UP, P_TID, P_NXM_OXM_ANY, protocolsText } from '../../src/vswitch/of-protocols.js';
import { NW_TOS_BYTE, W_NW_TOS } from '../../src/vswitch/fields.js';
import { copySubfield, parseSubfield, readSubfield, subfieldWrites } from '../../src/vswitch/subfield.js';
import { KEY_WORDS } from '../../src/vswitch/fields.js';

function verdict(text: string, protocols: OfVersion = 10): { ok: boolean; line?: number | undefined; message?: string } {
  try {
    parseFlows(text, { file: 't.flows', protocols, warnings: [] as FlowWarning[] });
    return { ok: true };
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return { ok: false, line: e.location?.line, message: e.message };
  }
}

const VERSIONS: OfVersion[] = [10, 11, 12, 13, 14, 15];

describe('usable protocols: flags, match and actions narrow one set (parse_ofp_str__)', () => {
  it('names sets as ofputil_protocols_to_string does', () => {
    expect(protocolsText(0)).toBe('none');
    expect(protocolsText(P_ANY)).toBe('any');
    expect(protocolsText(P_OF10_ANY)).toBe('OpenFlow10,NXM');
    expect(protocolsText(P_OF11_UP)).toBe('OXM,OpenFlow11');
    expect(protocolsText(P_OF13_UP)).toBe('OXM-OpenFlow13,OXM-OpenFlow14,OXM-OpenFlow15');
    expect(protocolsText(P_NXM_OXM_ANY & P_TID)).toBe('OXM,NXM+table_id');
  });

  it('reset_counts is OpenFlow 1.2+, no_packet_counts / no_byte_counts 1.3+', () => {
    for (const v of VERSIONS) {
      expect(verdict('reset_counts,ip,actions=output:1\n', v).ok).toBe(v >= 12);
      expect(verdict('no_packet_counts,ip,actions=output:1\n', v).ok).toBe(v >= 13);
      expect(verdict('no_byte_counts,ip,actions=output:1\n', v).ok).toBe(v >= 13);
      // send_flow_rem, check_overlap, importance narrow nothing.
      expect(verdict('send_flow_rem,check_overlap,importance=5,ip,actions=output:1\n', v).ok).toBe(true);
    }
    expect(verdict('priority=1,actions=NORMAL\nno_packet_counts,ip,actions=output:1\n').message).toBe(
      'none of the usable flow formats (OXM-OpenFlow13,OXM-OpenFlow14,OXM-OpenFlow15) is among the allowed flow formats (OpenFlow10,NXM)',
    );
  });

  it('a flow no protocol can carry is a parse error of its line, under every version (OVS: OFPBAC_MATCH_INCONSISTENT)', () => {
    // mod_nw_src without ip is an OpenFlow 1.0-only inconsistency; reset_counts needs 1.2+.
    for (const v of VERSIONS) {
      const r = verdict('priority=1,actions=NORMAL\nreset_counts,in_port=1,actions=mod_nw_src:10.0.0.9\n', v);
      expect(r).toMatchObject({ ok: false, line: 2 });
      expect(r.message).toMatch(/OFPBAC_MATCH_INCONSISTENT/);
      // push_vlan (1.1+) with mod_nw_src (1.0 only without ip): nothing left…
      expect(verdict('in_port=1,actions=push_vlan:0x8100,mod_nw_src:10.0.0.9,output:2\n', v)).toMatchObject({ ok: false, line: 1 });
    }
    // …and a parse error wins over an earlier line's protocol refusal.
    expect(verdict('in_port=1,actions=push_vlan:0x8100,output:2\nno_byte_counts,actions=strip_vlan\n')).toMatchObject({ ok: false, line: 2 });
  });

  it('an inconsistency inside write_actions does not narrow (check_WRITE_ACTIONS checks a copy)', () => {
    expect(verdict('reset_counts,actions=write_actions(strip_vlan,output:1)\n', 13).ok).toBe(true);
    expect(verdict('reset_counts,actions=strip_vlan,output:1\n', 13).ok).toBe(false);
  });

  // An independent model of the narrowings this property draws from (ofp-protocol.h sets).
  const FLAGS: [string, number][] = [
    ['', P_ANY],
    ['reset_counts,', 0b111100000],
    ['no_packet_counts,', 0b111000000],
    ['no_byte_counts,', 0b111000000],
    ['send_flow_rem,', P_ANY],
    ['check_overlap,', P_ANY],
  ];
  const ACTIONS: [string, number][] = [
    ['output:1', P_ANY],
    ['push_vlan:0x8100,output:1', P_OF11_UP],
    ['mod_nw_src:10.0.0.9', P_OF10_ANY], // no ip in the match
    ['strip_vlan', P_OF10_ANY], // no tag in the match
    ['meter:1', 0b111000000],
    ['dec_ttl', P_OF10_ANY],
    ['write_actions(strip_vlan)', P_ANY],
    ['set_field:5->reg0', P_NXM_OXM_ANY],
  ];
  const ALLOWED: Record<OfVersion, number> = { 10: P_OF10_ANY, 11: 1 << 4, 12: 1 << 5, 13: 1 << 6, 14: 1 << 7, 15: 1 << 8 };

  it('property: a file fails at its first empty line (parse error), else at its first line outside the version', () => {
    const line = fc.record({ flags: fc.array(fc.constantFrom(...FLAGS), { maxLength: 3 }), acts: fc.array(fc.constantFrom(...ACTIONS), { minLength: 1, maxLength: 3 }) });
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 12, size: 'max' }), fc.constantFrom(...VERSIONS), (lines, v) => {
        // Instruction order: a meter first, write_actions last, each at most once; push_vlan after
        // the other apply actions (a tag it pushes would make strip_vlan consistent).
        const ordered = (acts: [string, number][]): [string, number][] => {
          const rank = (a: string): number => (a === 'meter:1' ? 0 : a.startsWith('write_actions') ? 3 : a.startsWith('push_vlan') ? 2 : 1);
          const seen = new Set<string>();
          return [...acts].sort((a, b) => rank(a[0]) - rank(b[0])).filter((a) => rank(a[0]) === 1 || (!seen.has(a[0]) && seen.add(a[0])));
        };
        const text = lines.map((l) => `${l.flags.map((f) => f[0]).join('')}in_port=1,actions=${ordered(l.acts).map((a) => a[0]).join(',')}`).join('\n');
        const sets = lines.map((l) => [...l.flags, ...ordered(l.acts)].reduce((s, x) => s & x[1], P_ANY));
        const empty = sets.findIndex((s) => s === 0);
        const outside = sets.findIndex((s) => (s & ALLOWED[v]) === 0);
        const expected = empty >= 0 ? empty + 1 : outside >= 0 ? outside + 1 : undefined;
        const r = verdict(`${text}\n`, v);
        expect(r.ok ? undefined : r.line).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe('gaps report in the order OVS reports errors', () => {
  it('an earlier line refused for its protocol wins over a later gap', () => {
    const r = verdict('priority=5,actions=push_vlan:0x8100,output:1\npriority=1,actions=bundle(eth_src,0,hrw,ofport,members:1,2)\n');
    expect(r).toMatchObject({ ok: false, line: 1 });
    expect(r.message).toMatch(/none of the usable flow formats/);
    expect(verdict('priority=5,actions=push_vlan:0x8100,output:1\npriority=1,actions=bundle(eth_src,0,hrw,ofport,members:1,2)\n', 13)).toMatchObject({ ok: false, line: 2 });
  });

  it('a parse error later on the gap line or on a later line wins over the gap', () => {
    expect(verdict('ipv6,no_byte_counts,actions=push_mpls:0x8847,mod_tp_src:80\n', 13)).toMatchObject({ ok: false, line: 1, message: expect.stringMatching(/OFPBAC_MATCH_INCONSISTENT/) });
    expect(verdict('priority=1,actions=debug_recirc\npriority=0,actions=bogus\n')).toMatchObject({ ok: false, line: 2, message: expect.stringMatching(/unknown action bogus/) });
    expect(verdict('ipv6,actions=check_pkt_larger(100)->reg0[0],meter:1\n', 13).message).toMatch(/meter must appear before apply_actions/);
    // Alone, the gap is still refused, named, at its column.
    expect(verdict('mpls,mpls_label=5,actions=output:1\n').message).toMatch(/does not model MPLS/);
  });

  it('property: the first parse-error line if any, else the first line with a gap or a protocol refusal', () => {
    const KINDS = {
      ok: 'ip,actions=output:1',
      gap: 'ip,actions=debug_recirc',
      proto: 'ip,actions=push_vlan:0x8100,output:1', // OpenFlow 1.1+: refused under 1.0
      parse: 'ip,actions=bogus',
    } as const;
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...(Object.keys(KINDS) as (keyof typeof KINDS)[])), { minLength: 1, maxLength: 15, size: 'max' }), (kinds) => {
        const r = verdict(`${kinds.map((k) => KINDS[k]).join('\n')}\n`);
        const parse = kinds.indexOf('parse');
        const late = kinds.findIndex((k) => k === 'gap' || k === 'proto');
        const expected = parse >= 0 ? parse + 1 : late >= 0 ? late + 1 : undefined;
        expect(r.ok ? undefined : r.line).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe('NXM_OF_IP_TOS: the ToS byte with ECN bits read as 0 (MFF_IP_DSCP)', () => {
  it('is 8 bits wide; bits 0..1 read 0 and are never written; bits 2..7 are the DSCP bits', () => {
    const sf = parseSubfield('NXM_OF_IP_TOS[]');
    if (typeof sf === 'string') throw new Error(sf);
    expect(sf.fd).toBe(NW_TOS_BYTE);
    expect(sf.nBits).toBe(8);
    const w = new Int32Array(KEY_WORDS);
    w[W_NW_TOS] = 0xb9; // DSCP 46, ECN 1
    expect(readSubfield(sf, w)).toBe(0xb8n);
    const wr = subfieldWrites(sf, 0xffn);
    expect(wr).toEqual({ words: [W_NW_TOS], values: [0xfc], masks: [0xfc] });
    const low = parseSubfield('NXM_OF_IP_TOS[0..1]');
    if (typeof low === 'string') throw new Error(low);
    expect(subfieldWrites(low, 3n).words).toEqual([]);
    expect(readSubfield(low, w)).toBe(0n);
  });

  it('property: a move into the byte keeps ECN and takes the DSCP bits; out of it reads ECN as 0', () => {
    const tos = parseSubfield('NXM_OF_IP_TOS[]');
    const reg = parseSubfield('reg0[0..7]');
    if (typeof tos === 'string' || typeof reg === 'string') throw new Error('subfield');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (byte, r) => {
        const w = new Int32Array(KEY_WORDS);
        const regWord = reg.fd.word;
        w[W_NW_TOS] = byte;
        w[regWord] = r;
        copySubfield(reg, w, tos, w);
        expect(w[W_NW_TOS]).toBe((r & 0xfc) | (byte & 3));
        copySubfield(tos, w, reg, w);
        expect(w[regWord] & 0xff).toBe(r & 0xfc);
      }),
    );
  });

  it('loads, moves and a full-byte match are accepted as OVS accepts them; part-byte matches are not', () => {
    expect(verdict('ip,NXM_OF_IP_TOS[]=0x11,actions=load:3->NXM_OF_IP_TOS[],move:NXM_OF_IP_TOS[]->reg0[0..7],move:reg1[0..7]->NXM_OF_IP_TOS[],load:1->NXM_OF_IP_TOS[0],output:1\n').ok).toBe(true);
    const f = parseFlows('ip,NXM_OF_IP_TOS[]=0x11,actions=drop\n')[0]!;
    expect(f.matchText).toBe('ip,nw_tos=16');
    expect(verdict('ip,NXM_OF_IP_TOS[2..7]=4,actions=drop\n').message).toMatch(/OFPBAC_MATCH_INCONSISTENT/);
    expect(verdict('actions=load:0x10->NXM_OF_IP_TOS[]\n').message).toMatch(/OFPBAC_MATCH_INCONSISTENT/);
  });
});
