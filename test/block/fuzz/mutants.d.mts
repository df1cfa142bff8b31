export interface Mutant {
  name: string;
  bytes: Buffer;
  size: number | undefined;
  backing: 'dir' | 'self' | 'loop' | 'missing' | undefined;
}
export function mutate(base: Buffer, seed: number): Mutant;
