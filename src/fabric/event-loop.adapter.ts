/**
 * The one place fabric/ touches the Node event loop: `Fabric.runAsync` yields between slices of
 * events so signal handlers and I/O get a turn. Yielding changes when the host runs JS, never
 * what the simulation computes, so this is a thin adapter (exempt from the determinism lint).
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
