import { describe, expect, it } from 'vitest';
import { UserError, errnoCode, errorMessage } from '../../src/errors.js';

describe('errorMessage / errnoCode (what a catch clause may know about `unknown`)', () => {
  it('gives an Error its message and anything else a readable string, never "undefined"', () => {
    expect(errorMessage(new UserError('X', 'bad size'))).toBe('bad size');
    expect(errorMessage('plain string')).toBe('plain string');
    expect(errorMessage({ reason: 'obj' })).toBe('{"reason":"obj"}');
    expect(errorMessage(42)).toBe('42');
    expect(errorMessage(undefined)).toBe('undefined');
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(errorMessage(cyclic)).toBe('[object Object]');
  });

  it('reads the errno code of a real Node system error and nothing from other values', async () => {
    const { readFileSync } = await import('node:fs');
    let caught: unknown;
    try {
      readFileSync('/nonexistent/vfab-errno-probe');
    } catch (e) {
      caught = e;
    }
    expect(errnoCode(caught)).toBe('ENOENT');
    expect(errnoCode(new Error('no code'))).toBeUndefined();
    expect(errnoCode({ code: 7 })).toBeUndefined();
    expect(errnoCode('ENOENT')).toBeUndefined();
  });
});
