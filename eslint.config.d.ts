// Types for eslint.config.js (plain JS so ESLint loads it without a TypeScript loader); the lint
// test reads the layer table from it.
export declare const LAYERS: Record<string, { may: readonly string[]; node?: false }>;
declare const config: readonly unknown[];
export default config;
