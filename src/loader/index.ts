/** The IGVM loader (browser-safe): QEMU native-mode semantics behind a small machine interface. */
export { loadIgvm, type LoadOptions, type LoadResult } from './load.js';
export { LoadError, type LoadErrorCode } from './errors.js';
export { SparseMachine, RamMap, type GuestMachine, type ProbeResult } from './machine.js';
export { buildMadt } from './madt.js';
export { memoryMapEntries, encodeMemoryMap, memoryMapCapacity, type MemoryMapEntryValue } from './memory-map.js';
export * from './report.js';
export {
  checkLoaderCompat,
  failsOn,
  formatCompatWarning,
  isLoaderName,
  LOADER_NAMES,
  type CompatEffect,
  type CompatWarning,
  type LoaderName,
} from './compat.js';
