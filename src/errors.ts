/**
 * Errors, grouped by who must act (Shopify's AbortError/BugError, Firecracker's per-variant text).
 *
 * - `UserError`: the input is wrong (topology, flow, frame, image, flag). It names the place:
 *   `file:line:col`, a field, or a byte offset. The CLI prints `place: message` and exits 2,
 *   never a stack trace.
 * - `BugError`: an invariant broke inside vfab. The CLI exits 1 and asks for a report.
 *
 * Every error carries a `code` (SCREAMING_SNAKE, prefixed by the module: `WIRE_TRUNCATED`,
 * `TOPOLOGY_UNKNOWN_PORT`, `QCOW2_UNSUPPORTED_FEATURE`) so callers and tests tell errors apart
 * without matching message text.
 */

/** Where in a text file a problem is: 1-based line and column, as editors count. */
export interface SourceLocation {
  file: string;
  line: number;
  col: number;
}

export function formatLocation(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}:${loc.col}`;
}

/** Longest message a user error prints; longer ones (a 50 MB value echoed back) are clipped. */
export const MAX_MESSAGE_CHARS = 2000;

/** `s` clipped to `max` characters, saying how much was left out. */
export function clip(s: string, max = MAX_MESSAGE_CHARS): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length - max} more characters)`;
}

/** A user's value quoted for a message: JSON, at most `max` characters of it. */
export function showValue(v: unknown, max = 80): string {
  if (typeof v === 'string' && v.length > max) return `${JSON.stringify(v.slice(0, max))}… (${v.length} characters)`;
  let s: string;
  try {
    const j: unknown = JSON.stringify(v);
    s = typeof j === 'string' ? j : String(v);
  } catch {
    s = String(v);
  }
  return clip(s, max);
}

export abstract class FabricError extends Error {
  abstract readonly exitCode: 1 | 2;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export interface UserErrorOptions {
  /** Source position in a text input. */
  location?: SourceLocation;
  /** A flag, field or object path when there is no text position (`--seed`, `vm1.eth0.mac`). */
  where?: string;
  /** What the user might do about it. */
  hint?: string;
}

export class UserError extends FabricError {
  readonly exitCode = 2 as const;
  readonly location: SourceLocation | undefined;
  readonly where: string | undefined;
  readonly hint: string | undefined;
  constructor(code: string, message: string, opts: UserErrorOptions = {}) {
    super(code, message);
    this.location = opts.location;
    this.where = opts.where;
    this.hint = opts.hint;
  }

  /** `file:line:col: message` (or `where: message`), plus the hint on its own line. */
  render(): string {
    const place = this.location ? formatLocation(this.location) : this.where;
    const head = clip(place ? `${place}: ${this.message}` : this.message);
    return this.hint ? `${head}\n  hint: ${clip(this.hint)}` : head;
  }
}

/** Several user errors found in one pass (a topology with three mistakes reports all three). */
export class UserErrors extends UserError {
  constructor(readonly errors: UserError[]) {
    super(errors[0]?.code ?? 'USER_ERRORS', errors[0]?.message ?? 'invalid input', {
      ...(errors[0]?.location ? { location: errors[0].location } : {}),
    });
  }
  override render(): string {
    return this.errors.map((e) => e.render()).join('\n');
  }
}

export class BugError extends FabricError {
  readonly exitCode = 1 as const;
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

/**
 * The message of a caught value. `catch (e)` binds `unknown` (anything can be thrown), so never
 * write `(e as Error).message`: a thrown string or object would print "undefined".
 */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'string') return e;
  try {
    // JSON.stringify gives undefined for undefined, functions and symbols (its type says string).
    const json = JSON.stringify(e) as string | undefined;
    return json ?? String(e);
  } catch {
    return String(e);
  }
}

/** The errno code of a caught Node system error (`ENOENT`, `EISDIR`, `EPERM`), else undefined. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  return undefined;
}
