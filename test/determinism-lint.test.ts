import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('determinism lint', () => {
  it('finds no wall clock, timer or Math.random in the simulation core', () => {
    const out = execFileSync(process.execPath, ['scripts/check-determinism.mjs'], { encoding: 'utf8' });
    expect(out).toContain('no wall clock');
  });
});
