/**
 * Flow errors point at the right line:col whatever the YAML scalar style of `flows:` (issue 10
 * #13), and `validate` (validateModel) reports flow errors with every other error in one pass.
 *
 * The expected place is found in the source text itself (the offending token is written
 * literally), so the test does not restate the mapping it checks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { validateModel } from '../../src/fabric/validate.js';
import { loadTopologyPartial } from '../../src/topology/index.js';

const head = ['hosts:', '  hv1:', '    bridges:', '      br0:'];
const tail = ['vms:', '  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24 } } }', ''];

function problems(text: string): UserError[] {
  const { model, errors } = loadTopologyPartial(text, 't.yaml');
  return validateModel(model, errors);
}

/** 1-based line:col of the first `needle` in `text`. */
function whereIs(text: string, needle: string): string {
  const i = text.indexOf(needle);
  const before = text.slice(0, i);
  const line = before.split('\n').length;
  return `${line}:${i - before.lastIndexOf('\n')}`;
}

const GOOD = ['priority=10,arp,actions=NORMAL', 'priority=5,ip,nw_dst=10.0.0.1,actions=output:vm1-eth0', 'priority=0,actions=drop'];
const BAD = 'priority=7,bogus_field=1,actions=NORMAL';

/** The same flows (GOOD with BAD at index k) in each YAML scalar style. */
const styles: Record<string, (flows: string[]) => string[]> = {
  literal: (f) => ['        flows: |', ...f.map((l) => `          ${l}`)],
  'literal |2': (f) => ['        flows: |2', ...f.map((l, i) => `            ${i === 0 ? '' : ' '.repeat(i % 2)}${l}`)],
  'literal |-': (f) => ['        flows: |-', ...f.map((l) => `          ${l}`)],
  'folded >': (f) => ['        flows: >', ...f.flatMap((l, i) => (i === 0 ? [`          ${l}`] : ['', `          ${l}`]))],
  'folded, flow split over lines': (f) => ['        flows: >', ...f.flatMap((l, i) => [...(i === 0 ? [] : ['']), `          ${l.replace(',actions', '\n          ,actions')}`])],
  'double-quoted, escaped newlines': (f) => [`        flows: "${f.join('\\n')}"`],
  'double-quoted, over lines': (f) => [`        flows: "${f[0] ?? ''}`, ...f.slice(1).map((l) => `\n\n          ${l}`)].join('').split('\n').map((l, i, a) => (i === a.length - 1 ? `${l}"` : l)),
  'single-quoted, over lines': (f) => [`        flows: '${f[0] ?? ''}`, ...f.slice(1).map((l) => `\n\n          ${l}`)].join('').split('\n').map((l, i, a) => (i === a.length - 1 ? `${l}'` : l)),
};

describe('flow errors are located in every scalar style', () => {
  for (const [name, render] of Object.entries(styles)) {
    it(name, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: GOOD.length }), (k) => {
          const flows = [...GOOD.slice(0, k), BAD, ...GOOD.slice(k)];
          const text = [...head, ...render(flows), ...tail].join('\n');
          const errs = problems(text);
          expect(errs.map((e) => e.code), text).toContain('FLOW_UNKNOWN_FIELD');
          const e = errs.find((x) => x.code === 'FLOW_UNKNOWN_FIELD')!;
          expect(`${e.location!.line}:${e.location!.col}`, `${text}\n${e.render()}`).toBe(whereIs(text, 'bogus_field'));
        }),
        { numRuns: 8 },
      );
    });
  }
});

describe('validate checks everything run checks, in one pass', () => {
  it('a flow error, an unknown host and an unknown bridge together', () => {
    const text = [
      ...head,
      '        flows: |',
      `          ${BAD}`,
      'vms:',
      '  vm1: { host: hv7, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24 } } }',
      '  vm2: { host: hv1, interfaces: { eth0: { bridge: br9, ipv4: 10.0.0.2/24 } } }',
      '',
    ].join('\n');
    const errs = problems(text).map((e) => `${e.code} ${e.location!.line}:${e.location!.col}`);
    expect(errs).toEqual([`FLOW_UNKNOWN_FIELD ${whereIs(text, 'bogus')}`, `TOPOLOGY_UNKNOWN_HOST ${whereIs(text, 'hv7')}`, `TOPOLOGY_UNKNOWN_BRIDGE ${whereIs(text, 'br9')}`]);
  });

  it('a flow naming an unknown port is found without running', () => {
    const text = [...head, '        flows: |', '          in_port=nope,actions=NORMAL', ...tail].join('\n');
    const errs = problems(text);
    expect(errs.map((e) => e.code)).toEqual(['FLOW_UNKNOWN_PORT']);
    expect(`${errs[0]!.location!.line}:${errs[0]!.location!.col}`).toBe(whereIs(text, 'nope'));
  });
});
