import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { UserError, UserErrors } from '../../src/errors.js';
import { nearest, parseYaml, validateYaml } from '../../src/util/yaml-source.js';
import { zDuration } from '../../src/util/zod-units.js';

const schema = z.strictObject({
  name: z.string(),
  links: z.array(z.strictObject({ a: z.string(), b: z.string(), delay: zDuration().optional() })),
});

function errorsOf(text: string): string[] {
  try {
    validateYaml(parseYaml(text, 't.yaml'), schema);
  } catch (e) {
    if (e instanceof UserErrors) return e.errors.map((x) => x.render());
    if (e instanceof UserError) return [e.render()];
    throw e;
  }
  return [];
}

describe('YAML with positions', () => {
  it('points an unknown key at the key itself and suggests the nearest known key', () => {
    const errs = errorsOf('name: x\nlinks:\n  - a: p\n    b: q\n    dealy: 20us\n');
    expect(errs).toEqual(['t.yaml:5:5: unknown key "dealy"; did you mean "delay"?']);
  });

  it('points a bad unit at the value', () => {
    const errs = errorsOf('name: x\nlinks:\n  - {a: p, b: q, delay: 20}\n');
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^t\.yaml:3:25: "delay": /);
  });

  it('reports a missing required field at its parent', () => {
    expect(errorsOf('name: x\nlinks:\n  - a: p\n')).toEqual(['t.yaml:3:5: missing required field "b"']);
  });

  it('reports YAML syntax errors and duplicate keys with positions', () => {
    expect(() => parseYaml('a: 1\na: 2\n', 'd.yaml')).toThrow(UserError);
    try {
      parseYaml('a: 1\na: 2\n', 'd.yaml');
      expect.unreachable();
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      expect(e.render()).toMatch(/^d\.yaml:2:1: /);
    }
  });

  it('reports every problem in one pass, in file order', () => {
    const errs = errorsOf('name: 3\nlinks:\n  - {a: p, b: q, bogus: 1}\n');
    expect(errs.map((e) => e.split(':').slice(1, 3).join(':'))).toEqual(['1:7', '3:18']);
  });

  it('suggests only near words', () => {
    expect(nearest('bandwith', ['bandwidth', 'delay'])).toBe('bandwidth');
    expect(nearest('zzz', ['bandwidth', 'delay'])).toBeUndefined();
  });
});
