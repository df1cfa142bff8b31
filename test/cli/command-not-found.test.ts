import { expect, it } from 'vitest';
import { closestCommand } from '../../src/cli/command-not-found.js';

const IDS = ['disk:convert', 'disk:compare', 'disk:create', 'disk:info', 'disk:map', 'qos:run'];

it('suggests the closest command for a typo, ignoring trailing arguments', () => {
  expect(closestCommand('disk:conver:a.qcow2:b.qcow2', IDS)).toBe('disk:convert');
  expect(closestCommand('disk:compar', IDS)).toBe('disk:compare');
  expect(closestCommand('dsk:info:x', IDS)).toBe('disk:info');
  expect(closestCommand('qos:rn', IDS)).toBe('qos:run');
});

it('suggests nothing when no command is close', () => {
  expect(closestCommand('frobnicate', IDS)).toBeUndefined();
  expect(closestCommand('disk:zzzzzzzzz', IDS)).toBeUndefined();
});
