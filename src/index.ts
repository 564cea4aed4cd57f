/**
 * `igvm-ts`: the browser-safe core (format, x86 architecture, native-mode loader, launch measurement).
 * Node-only parts live in `igvm-ts/vmm` and the modules under dist/node and dist/build.
 */
export * from './format/index.js';
export * from './arch/x86/index.js';
export * from './loader/index.js';
export * from './measure/index.js';
// Both format and measure name a hex helper; the format one is the package's.
export { hex } from './format/index.js';
