/**
 * YAML alias errors and alias bombs are located user errors (issue 10 #8), in every YAML input
 * (topology and QoS files share the YamlSource path).
 */
import { describe, expect, it } from 'vitest';
import { UserError, UserErrors } from '../../src/errors.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { loadQosText } from '../../src/qos/file.js';
import { parseYaml } from '../../src/util/yaml-source.js';
import { MAX_ALIAS_EXPANSION } from '../../src/util/yaml-aliases.js';

function errorsOf(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof UserErrors) return e.errors.map((x) => `${x.code} ${x.render()}`);
    if (e instanceof UserError) return [`${e.code} ${e.render()}`];
    throw e;
  }
  return [];
}

const bomb = (levels: number, fan: number): string => {
  const lines = [`a0: &a0 [${Array(fan).fill('x').join(',')}]`];
  for (let i = 1; i <= levels; i++) lines.push(`a${i}: &a${i} [${Array(fan).fill(`*a${i - 1}`).join(',')}]`);
  return `${lines.join('\n')}\nname: *a${levels}\n`;
};

describe('YAML aliases', () => {
  it.each([
    ['name: x\nhosts: *nope\n', 'YAML_ALIAS t.yaml:2:8: alias "*nope" names no anchor defined before it (write "&nope" on an earlier node)'],
    ['name: x\nhosts:\n  <<: *undefined\n', 'YAML_ALIAS t.yaml:3:7: alias "*undefined" names no anchor defined before it (write "&undefined" on an earlier node)'],
    ['s: &s 5\nhosts:\n  <<: *s\n', 'YAML_MERGE t.yaml:3:7: "<<" merges a mapping, an alias of a mapping, or a list of those'],
    ['hosts:\n  <<: [ {a: 1}, 3 ]\n', 'YAML_MERGE t.yaml:2:7: "<<" merges a mapping, an alias of a mapping, or a list of those'],
    ['a: &a [1, *a]\n', 'YAML_ALIAS t.yaml:1:11: alias "*a" is inside the node its anchor marks (a cycle)'],
    ['hosts: *later\nx: &later {}\n', 'YAML_ALIAS t.yaml:1:8: alias "*later" names no anchor defined before it (write "&later" on an earlier node)'],
  ])('%j is located', (text, want) => {
    expect(errorsOf(() => loadTopologyText(text, 't.yaml'))[0]).toBe(want);
    // the same check guards QoS files (and any other YAML input)
    expect(errorsOf(() => parseYaml(text, 't.yaml'))[0]).toBe(want);
  });

  it('an alias bomb is refused at the alias that crosses the bound, quickly', () => {
    const t0 = process.hrtime.bigint();
    const errs = errorsOf(() => loadTopologyText(bomb(9, 10), 't.yaml'));
    expect(Number(process.hrtime.bigint() - t0) / 1e6).toBeLessThan(2000);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(new RegExp(`^YAML_ALIAS_BOMB t\\.yaml:6:\\d+: aliases expand this file to more than ${MAX_ALIAS_EXPANSION} nodes`));
    expect(errorsOf(() => loadQosText(bomb(9, 10), 'q.yaml'))[0]).toMatch(/^YAML_ALIAS_BOMB q\.yaml:6:/);
  });

  it('ordinary anchors, aliases and merges still work', () => {
    const text = ['x-eth: &eth { bridge: br0 }', 'hosts: { hv1: { bridges: { br0: {} } } }', 'vms:', '  vm1: { host: hv1, interfaces: { eth0: { <<: *eth, ipv4: 10.0.0.1/24 } } }'].join('\n');
    expect(errorsOf(() => parseYaml(text, 't.yaml'))).toEqual([]);
    expect(parseYaml(text, 't.yaml').data).toMatchObject({ vms: { vm1: { interfaces: { eth0: { bridge: 'br0', ipv4: '10.0.0.1/24' } } } } });
    expect(errorsOf(() => parseYaml(bomb(4, 10), 't.yaml'))).toEqual([]); // 11,110 nodes: fine
  });

  it('nesting deeper than the bound is a located error, not a stack overflow', () => {
    const deep = `name: ${'['.repeat(600)}${']'.repeat(600)}\n`;
    const errs = errorsOf(() => loadTopologyText(deep, 't.yaml'));
    expect(errs[0]).toMatch(/^YAML_\w+ t\.yaml:1:\d+: /);
  });
});
