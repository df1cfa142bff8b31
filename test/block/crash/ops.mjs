// Shared by the crash test and its child: a seeded op sequence and the byte model it implies.
export function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const SIZE = 4 * 1024 * 1024;

/**
 * 18 ops: writes of 1 B .. 150 KiB, discards, write-zeroes, flushes, snapshot create/delete, and
 * on overlays commit (into the backing file) and rebase -b "" (flatten). Commit and rebase never
 * change what the guest reads, so the byte model ignores them.
 */
export function makeOps(seed, overlay = false) {
  const r = prng(seed);
  const int = (n) => Math.floor(r() * n);
  const ops = [];
  let snaps = 0;
  let standalone = !overlay;
  for (let i = 0; i < 18; i++) {
    if (!standalone && r() < 0.12) {
      // Rebase drops the backing file: no commit after it.
      if (r() < 0.3) {
        ops.push({ t: 'rebase' });
        standalone = true;
      } else ops.push({ t: 'commit' });
      continue;
    }
    const x = r();
    const off = int(SIZE - 1);
    const len = Math.min(SIZE - off, 1 + int(r() < 0.5 ? 8192 : 150000));
    if (x < 0.55) ops.push({ t: 'write', off, len, v: 1 + int(255) });
    else if (x < 0.65) ops.push({ t: 'discard', off, len });
    else if (x < 0.72) ops.push({ t: 'zero', off, len });
    else if (x < 0.9) ops.push({ t: 'flush' });
    else if (x < 0.96 || snaps === 0) ops.push({ t: 'snap', name: `s${++snaps}` });
    else ops.push({ t: 'delsnap', name: `s${snaps--}` });
  }
  return ops;
}

/** Applies op to the model (discard: whole clusters of `cs` only, like QEMU). */
export function applyModel(model, op, cs) {
  if (op.t === 'write') model.fill(op.v, op.off, op.off + op.len);
  else if (op.t === 'zero') model.fill(0, op.off, op.off + op.len);
  else if (op.t === 'discard') {
    const first = Math.ceil(op.off / cs) * cs;
    const end = op.off + op.len >= model.length ? model.length : Math.floor((op.off + op.len) / cs) * cs;
    if (end > first) model.fill(0, first, end);
  }
}

/** Bytes an op may have changed (whole op range; snapshots change no content). */
export function touched(op) {
  return op.t === 'write' || op.t === 'zero' || op.t === 'discard' ? [op.off, op.off + op.len] : undefined;
}
