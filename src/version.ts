/**
 * vfab's version, as in package.json (a test keeps the two equal). Recorded in every run summary
 * (`vfab_version`) so a report can refuse a summary written by another version.
 */
export const VFAB_VERSION = '0.1.0';
