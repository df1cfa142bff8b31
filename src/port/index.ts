export * from './port.js';
export * from './nic.js';
