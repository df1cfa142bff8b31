export { loadSweepFile, loadSweepText, sweepSchema, type SweepPlan, type SweepPoint, type SweepParam } from './file.js';
export { runSweep, localPool, aggregate, stats, type SweepResult, type SweepRow, type Executor } from './run.js';
export { runPoint, pointHash, type PointTask, type PointResult } from './point.js';
export { renderSweep, renderCsv } from './render.js';
export { parsePath, formatPath, lookup } from './path.js';
