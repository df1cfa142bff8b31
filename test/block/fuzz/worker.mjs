// Runs vfab's block commands in-process on hostile images and reports one JSON line per image:
// {i, ok, outcome, code, ms, rss}. An exception other than UserError is a failure ("stack
// trace"); the parent kills this process when one image takes too long.
// argv: BUILD_DIR; stdin: lines "i PATH"
import { closeSync, openSync, readSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';

/** Copies the first 64 MiB and keeps the length (a 1 TiB sparse tail is not read). */
function copySparse(from, to) {
  const size = statSync(from).size;
  const n = Math.min(size, 64 << 20);
  const buf = Buffer.alloc(n);
  const a = openSync(from, 'r');
  readSync(a, buf, 0, n, 0);
  closeSync(a);
  const b = openSync(to, 'w');
  writeSync(b, buf, 0, n, 0);
  closeSync(b);
  truncateSync(to, size);
}
import { createInterface } from 'node:readline';

const B = process.argv[2];
const api = await import(`${B}/block/api.js`);
const { UserError } = await import(`${B}/errors.js`);

function run(fn) {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof UserError) return { ok: true, code: e.code, msg: e.message };
    return { ok: false, code: e?.constructor?.name ?? 'Error', msg: String(e?.stack ?? e).slice(0, 500) };
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  const sp = line.indexOf(' ');
  const i = Number(line.slice(0, sp));
  const f = line.slice(sp + 1);
  const t0 = performance.now();
  const steps = [];
  steps.push(['info', run(() => api.imageInfo(f, { backingChain: true, forceShare: true }))]);
  steps.push([
    'map+read',
    run(() => {
      const c = api.openImage(f, { readOnly: true, forceShare: true });
      try {
        c.allocationMap();
        const buf = new Uint8Array(65536);
        for (const o of [0, c.virtualSize / 2, c.virtualSize - 65536]) if (o >= 0 && o + 65536 <= c.virtualSize) c.read(Math.floor(o / 512) * 512, buf);
      } finally {
        c.close();
      }
    }),
  ]);
  const chk = run(() => api.checkImage(f, { forceShare: true }));
  steps.push(['check', chk]);
  const isFile = statSync(f).isFile();
  const copy = isFile ? `${f}.rw` : f;
  if (isFile) copySparse(f, copy);
  steps.push([
    'write',
    run(() => {
      const c = api.openImage(copy);
      try {
        c.write(0, new Uint8Array(4096).fill(7));
        if (c.virtualSize > 1 << 20) c.write(1 << 20, new Uint8Array(70000).fill(9));
        c.flush();
      } finally {
        c.close();
      }
    }),
  ]);
  steps.push(['repair', run(() => api.checkImage(copy, { repair: 'all' }))]);
  if (isFile) {
    rmSync(copy, { force: true });
    rmSync(`${copy}.lock`, { force: true });
  }
  const bad = steps.find(([, s]) => !s.ok);
  let outcome;
  if (chk.value) outcome = chk.value.corruptions > 0 ? 'corrupt' : 'clean';
  else outcome = `refused:${chk.code}`;
  process.stdout.write(
    `${JSON.stringify({ i, ok: !bad, failed: bad ? `${bad[0]}: ${bad[1].code}: ${bad[1].msg}` : undefined, outcome, ms: Math.round(performance.now() - t0), rss: process.resourceUsage().maxRSS })}\n`,
  );
}
