/**
 * vfab's library entry. Import what you need to load and run a topology from TypeScript.
 */
export * from './sim/index.js';
export * from './port/index.js';
export * from './errors.js';
export * from './util/units.js';
