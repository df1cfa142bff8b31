import { isWireError, type WireError } from '../../src/wire/index.js';

/** Unwraps a parse result, failing the test with the error when it is a WireError. */
export function ok<T>(x: T): Exclude<T, WireError> {
  if (isWireError(x)) throw new Error(`unexpected wire error: ${x.message} (${x.layer}.${x.field} @${x.offset})`);
  return x as Exclude<T, WireError>;
}
