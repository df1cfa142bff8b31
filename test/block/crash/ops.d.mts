export type CrashOp =
  | { t: 'write'; off: number; len: number; v: number }
  | { t: 'discard'; off: number; len: number }
  | { t: 'zero'; off: number; len: number }
  | { t: 'flush' }
  | { t: 'snap'; name: string }
  | { t: 'delsnap'; name: string }
  | { t: 'commit' }
  | { t: 'rebase' };
export function prng(seed: number): () => number;
export const SIZE: number;
export function makeOps(seed: number, overlay?: boolean): CrashOp[];
export function applyModel(model: Uint8Array, op: CrashOp, cs: number): void;
export function touched(op: CrashOp): [number, number] | undefined;
