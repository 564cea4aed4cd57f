/** Public API of the IGVM format library (browser-safe: no `node:` imports below this folder). */
export * from './constants.js';
export * from './errors.js';
export * from './model.js';
export * from './bitfields.js';
export { defineStruct, type StructLayout, type StructValue, type FieldSpec } from './layout.js';
export * as structs from './structs.js';
export { SevVmsa, VMSA_SEGMENTS, type SevVmsaFields } from './vmsa.js';
export type { NativeVpContextX64Fields, CcaVpContextFields } from './structs.js';
export { NativeVpContextX64, CcaVpContext } from './structs.js';
export { crc32 } from './crc32.js';
export {
  parseIgvm,
  parseIgvmLazy,
  collectProblems,
  collectProblemsLazy,
  checkIgvmLazy,
  type CheckResult,
  type HeaderCounts,
  blobSource,
  type ParseOptions,
  type ByteSource,
  type LazyIgvm,
} from './parse.js';
export { serializeIgvm } from './serialize.js';
export { validateFile, validateHeader } from './validate.js';
export { vbsRegisterByCode, vbsRegisterByName } from './vbs-registers.js';
export { IgvmBuilder, type PlatformOptions, type PageDataOptions } from './builder.js';
export { mergeIgvm, equivalentDirectives, type MergeOptions } from './merge.js';
