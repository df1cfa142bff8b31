export * from './time.js';
export { EventQueue, EventId, type EventHandler } from './queue.js';
export { Prng } from './prng.js';
export { Simulation, type RunOptions, type RunResult } from './simulation.js';
export { DelayLine, type DelayLineOutput } from './delay-line.js';
