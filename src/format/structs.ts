/**
 * Byte layouts of every IGVM on-disk structure, declared once. Offsets and sizes follow
 * igvm_defs (microsoft/igvm e6c3ff1); test/format/layouts.test.ts checks each size against the spec.
 */
import { defineStruct, type StructValue } from './layout.js';

export const FixedHeaderV1 = defineStruct('IGVM_FIXED_HEADER', 24, [
  { name: 'magic', offset: 0x00, kind: 'u32' },
  { name: 'formatVersion', offset: 0x04, kind: 'u32' },
  { name: 'variableHeaderOffset', offset: 0x08, kind: 'u32' },
  { name: 'variableHeaderSize', offset: 0x0c, kind: 'u32' },
  { name: 'totalFileSize', offset: 0x10, kind: 'u32' },
  { name: 'checksum', offset: 0x14, kind: 'u32' },
] as const);

export const FixedHeaderV2 = defineStruct('IGVM_FIXED_HEADER_V2', 32, [
  ...FixedHeaderV1.fields,
  { name: 'architecture', offset: 0x18, kind: 'u32' },
  { name: 'pageSize', offset: 0x1c, kind: 'u32' },
] as const);

export const TlvPrefix = defineStruct('IGVM_VHS_VARIABLE_HEADER', 8, [
  { name: 'type', offset: 0, kind: 'u32' },
  { name: 'length', offset: 4, kind: 'u32' },
] as const);

export const SupportedPlatform = defineStruct('IGVM_VHS_SUPPORTED_PLATFORM', 16, [
  { name: 'compatibilityMask', offset: 0x0, kind: 'u32' },
  { name: 'highestVtl', offset: 0x4, kind: 'u8' },
  { name: 'platformType', offset: 0x5, kind: 'u8' },
  { name: 'platformVersion', offset: 0x6, kind: 'u16' },
  { name: 'sharedGpaBoundary', offset: 0x8, kind: 'u64' },
] as const);

export const GuestPolicy = defineStruct('IGVM_VHS_GUEST_POLICY', 16, [
  { name: 'policy', offset: 0x0, kind: 'u64' },
  { name: 'compatibilityMask', offset: 0x8, kind: 'u32' },
  { name: 'reserved', offset: 0xc, kind: 'u32' },
] as const);

export const RelocatableRegion = defineStruct('IGVM_VHS_RELOCATABLE_REGION', 48, [
  { name: 'compatibilityMask', offset: 0x00, kind: 'u32' },
  { name: 'vpIndex', offset: 0x04, kind: 'u16' },
  { name: 'vtl', offset: 0x06, kind: 'u8' },
  { name: 'flags', offset: 0x07, kind: 'u8' },
  { name: 'relocationAlignment', offset: 0x08, kind: 'u64' },
  { name: 'relocationRegionGpa', offset: 0x10, kind: 'u64' },
  { name: 'relocationRegionSize', offset: 0x18, kind: 'u64' },
  { name: 'minimumRelocationGpa', offset: 0x20, kind: 'u64' },
  { name: 'maximumRelocationGpa', offset: 0x28, kind: 'u64' },
] as const);

export const PageTableRelocation = defineStruct('IGVM_VHS_PAGE_TABLE_RELOCATION', 32, [
  { name: 'compatibilityMask', offset: 0x00, kind: 'u32' },
  { name: 'vpIndex', offset: 0x04, kind: 'u16' },
  { name: 'vtl', offset: 0x06, kind: 'u8' },
  { name: 'reserved', offset: 0x07, kind: 'u8' },
  { name: 'gpa', offset: 0x08, kind: 'u64' },
  { name: 'size', offset: 0x10, kind: 'u64' },
  { name: 'usedSize', offset: 0x18, kind: 'u64' },
] as const);

export const CorimData = defineStruct('IGVM_VHS_CORIM_DATA', 16, [
  { name: 'compatibilityMask', offset: 0x0, kind: 'u32' },
  { name: 'fileOffset', offset: 0x4, kind: 'u32' },
  { name: 'sizeBytes', offset: 0x8, kind: 'u32' },
  { name: 'reserved', offset: 0xc, kind: 'u32' },
] as const);

export const CcaPolicy = defineStruct('IGVM_VHS_CCA_POLICY', 32, [
  { name: 'compatibilityMask', offset: 0x00, kind: 'u32' },
  { name: 'reserved', offset: 0x04, kind: 'u32' },
  { name: 'attributesRequiredZeroes', offset: 0x08, kind: 'u64' },
  { name: 'attributesRequiredOnes', offset: 0x10, kind: 'u64' },
  { name: 'hashAlgorithm', offset: 0x18, kind: 'u8' },
  { name: 'lfaPolicy', offset: 0x19, kind: 'u8' },
  { name: 'reserved2', offset: 0x1a, kind: { bytes: 6 } },
] as const);

export const ParameterArea = defineStruct('IGVM_VHS_PARAMETER_AREA', 16, [
  { name: 'numberOfBytes', offset: 0x0, kind: 'u64' },
  { name: 'parameterAreaIndex', offset: 0x8, kind: 'u32' },
  { name: 'fileOffset', offset: 0xc, kind: 'u32' },
] as const);

export const PageData = defineStruct('IGVM_VHS_PAGE_DATA', 24, [
  { name: 'gpa', offset: 0x00, kind: 'u64' },
  { name: 'compatibilityMask', offset: 0x08, kind: 'u32' },
  { name: 'fileOffset', offset: 0x0c, kind: 'u32' },
  { name: 'flags', offset: 0x10, kind: 'u32' },
  { name: 'dataType', offset: 0x14, kind: 'u16' },
  { name: 'reserved', offset: 0x16, kind: 'u16' },
] as const);

export const ParameterInsert = defineStruct('IGVM_VHS_PARAMETER_INSERT', 16, [
  { name: 'gpa', offset: 0x0, kind: 'u64' },
  { name: 'compatibilityMask', offset: 0x8, kind: 'u32' },
  { name: 'parameterAreaIndex', offset: 0xc, kind: 'u32' },
] as const);

export const Parameter = defineStruct('IGVM_VHS_PARAMETER', 8, [
  { name: 'parameterAreaIndex', offset: 0x0, kind: 'u32' },
  { name: 'byteOffset', offset: 0x4, kind: 'u32' },
] as const);

/** 20 bytes: `gpa` is an unaligned u64_le, so the struct has alignment 4 and no tail padding. */
export const VpContextHeader = defineStruct('IGVM_VHS_VP_CONTEXT', 20, [
  { name: 'gpa', offset: 0x00, kind: 'u64' },
  { name: 'compatibilityMask', offset: 0x08, kind: 'u32' },
  { name: 'fileOffset', offset: 0x0c, kind: 'u32' },
  { name: 'vpIndex', offset: 0x10, kind: 'u16' },
  { name: 'reserved', offset: 0x12, kind: 'u16' },
] as const);

export const ErrorRange = defineStruct('IGVM_VHS_ERROR_RANGE', 16, [
  { name: 'gpa', offset: 0x0, kind: 'u64' },
  { name: 'compatibilityMask', offset: 0x8, kind: 'u32' },
  { name: 'sizeBytes', offset: 0xc, kind: 'u32' },
] as const);

export const RequiredMemory = defineStruct('IGVM_VHS_REQUIRED_MEMORY', 24, [
  { name: 'gpa', offset: 0x00, kind: 'u64' },
  { name: 'compatibilityMask', offset: 0x08, kind: 'u32' },
  { name: 'numberOfBytes', offset: 0x0c, kind: 'u32' },
  { name: 'flags', offset: 0x10, kind: 'u32' },
  { name: 'reserved', offset: 0x14, kind: 'u32' },
] as const);

export const MemoryRange = defineStruct('IGVM_VHS_MEMORY_RANGE', 16, [
  { name: 'startingGpaPageNumber', offset: 0x0, kind: 'u64' },
  { name: 'numberOfPages', offset: 0x8, kind: 'u64' },
] as const);

export const MemoryMapEntry = defineStruct('IGVM_VHS_MEMORY_MAP_ENTRY', 24, [
  { name: 'startingGpaPageNumber', offset: 0x00, kind: 'u64' },
  { name: 'numberOfPages', offset: 0x08, kind: 'u64' },
  { name: 'entryType', offset: 0x10, kind: 'u16' },
  { name: 'flags', offset: 0x12, kind: 'u16' },
  { name: 'reserved', offset: 0x14, kind: 'u32' },
] as const);

export const SnpIdBlock = defineStruct('IGVM_VHS_SNP_ID_BLOCK', 696, [
  { name: 'compatibilityMask', offset: 0x000, kind: 'u32' },
  { name: 'authorKeyEnabled', offset: 0x004, kind: 'u8' },
  { name: 'reserved', offset: 0x005, kind: { bytes: 3 } },
  { name: 'ld', offset: 0x008, kind: { bytes: 48 } },
  { name: 'familyId', offset: 0x038, kind: { bytes: 16 } },
  { name: 'imageId', offset: 0x048, kind: { bytes: 16 } },
  { name: 'version', offset: 0x058, kind: 'u32' },
  { name: 'guestSvn', offset: 0x05c, kind: 'u32' },
  { name: 'idKeyAlgorithm', offset: 0x060, kind: 'u32' },
  { name: 'authorKeyAlgorithm', offset: 0x064, kind: 'u32' },
  { name: 'idKeySignatureR', offset: 0x068, kind: { bytes: 72 } },
  { name: 'idKeySignatureS', offset: 0x0b0, kind: { bytes: 72 } },
  { name: 'idPublicKeyCurve', offset: 0x0f8, kind: 'u32' },
  { name: 'idPublicKeyReserved', offset: 0x0fc, kind: 'u32' },
  { name: 'idPublicKeyQx', offset: 0x100, kind: { bytes: 72 } },
  { name: 'idPublicKeyQy', offset: 0x148, kind: { bytes: 72 } },
  { name: 'authorKeySignatureR', offset: 0x190, kind: { bytes: 72 } },
  { name: 'authorKeySignatureS', offset: 0x1d8, kind: { bytes: 72 } },
  { name: 'authorPublicKeyCurve', offset: 0x220, kind: 'u32' },
  { name: 'authorPublicKeyReserved', offset: 0x224, kind: 'u32' },
  { name: 'authorPublicKeyQx', offset: 0x228, kind: { bytes: 72 } },
  { name: 'authorPublicKeyQy', offset: 0x270, kind: { bytes: 72 } },
] as const);

export const VbsMeasurement = defineStruct('IGVM_VHS_VBS_MEASUREMENT', 864, [
  { name: 'compatibilityMask', offset: 0x000, kind: 'u32' },
  { name: 'version', offset: 0x004, kind: 'u32' },
  { name: 'productId', offset: 0x008, kind: 'u32' },
  { name: 'moduleId', offset: 0x00c, kind: 'u32' },
  { name: 'securityVersion', offset: 0x010, kind: 'u32' },
  { name: 'policyFlags', offset: 0x014, kind: 'u32' },
  { name: 'bootDigestAlgo', offset: 0x018, kind: 'u32' },
  { name: 'signingAlgo', offset: 0x01c, kind: 'u32' },
  { name: 'bootMeasurementDigest', offset: 0x020, kind: { bytes: 64 } },
  { name: 'signature', offset: 0x060, kind: { bytes: 256 } },
  { name: 'publicKey', offset: 0x160, kind: { bytes: 512 } },
] as const);

/** IgvmNativeVpContextX64: 232 bytes, stored in the file as one page (the rest zeros). */
export const NativeVpContextX64 = defineStruct('IgvmNativeVpContextX64', 232, [
  { name: 'rax', offset: 0x00, kind: 'u64' },
  { name: 'rcx', offset: 0x08, kind: 'u64' },
  { name: 'rdx', offset: 0x10, kind: 'u64' },
  { name: 'rbx', offset: 0x18, kind: 'u64' },
  { name: 'rsp', offset: 0x20, kind: 'u64' },
  { name: 'rbp', offset: 0x28, kind: 'u64' },
  { name: 'rsi', offset: 0x30, kind: 'u64' },
  { name: 'rdi', offset: 0x38, kind: 'u64' },
  { name: 'r8', offset: 0x40, kind: 'u64' },
  { name: 'r9', offset: 0x48, kind: 'u64' },
  { name: 'r10', offset: 0x50, kind: 'u64' },
  { name: 'r11', offset: 0x58, kind: 'u64' },
  { name: 'r12', offset: 0x60, kind: 'u64' },
  { name: 'r13', offset: 0x68, kind: 'u64' },
  { name: 'r14', offset: 0x70, kind: 'u64' },
  { name: 'r15', offset: 0x78, kind: 'u64' },
  { name: 'rip', offset: 0x80, kind: 'u64' },
  { name: 'rflags', offset: 0x88, kind: 'u64' },
  { name: 'idtrBase', offset: 0x90, kind: 'u64' },
  { name: 'idtrLimit', offset: 0x98, kind: 'u16' },
  { name: 'reserved0', offset: 0x9a, kind: 'u16' },
  { name: 'reserved1', offset: 0x9c, kind: 'u16' },
  { name: 'gdtrLimit', offset: 0x9e, kind: 'u16' },
  { name: 'gdtrBase', offset: 0xa0, kind: 'u64' },
  { name: 'codeSelector', offset: 0xa8, kind: 'u16' },
  { name: 'codeAttributes', offset: 0xaa, kind: 'u16' },
  { name: 'codeBase', offset: 0xac, kind: 'u32' },
  { name: 'codeLimit', offset: 0xb0, kind: 'u32' },
  { name: 'dataSelector', offset: 0xb4, kind: 'u16' },
  { name: 'dataAttributes', offset: 0xb6, kind: 'u16' },
  { name: 'dataBase', offset: 0xb8, kind: 'u32' },
  { name: 'dataLimit', offset: 0xbc, kind: 'u32' },
  { name: 'gsBase', offset: 0xc0, kind: 'u64' },
  { name: 'cr0', offset: 0xc8, kind: 'u64' },
  { name: 'cr3', offset: 0xd0, kind: 'u64' },
  { name: 'cr4', offset: 0xd8, kind: 'u64' },
  { name: 'efer', offset: 0xe0, kind: 'u64' },
] as const);
export type NativeVpContextX64Fields = StructValue<typeof NativeVpContextX64.fields>;

/** IgvmVpContextAArch64Cca: 80 bytes (RMM RmiRecParams), stored as one page. */
export const CcaVpContext = defineStruct('IgvmVpContextAArch64Cca', 80, [
  { name: 'x0', offset: 0x00, kind: 'u64' },
  { name: 'x1', offset: 0x08, kind: 'u64' },
  { name: 'x2', offset: 0x10, kind: 'u64' },
  { name: 'x3', offset: 0x18, kind: 'u64' },
  { name: 'x4', offset: 0x20, kind: 'u64' },
  { name: 'x5', offset: 0x28, kind: 'u64' },
  { name: 'x6', offset: 0x30, kind: 'u64' },
  { name: 'x7', offset: 0x38, kind: 'u64' },
  { name: 'pc', offset: 0x40, kind: 'u64' },
  { name: 'flags', offset: 0x48, kind: 'u64' },
] as const);
export type CcaVpContextFields = StructValue<typeof CcaVpContext.fields>;

export const VbsVpContextHeader = defineStruct('VbsVpContextHeader', 4, [
  { name: 'registerCount', offset: 0, kind: 'u32' },
] as const);

/** 32 bytes; `registerName` is an unaligned u32_le at offset 1. */
export const VbsVpContextRegister = defineStruct('VbsVpContextRegister', 32, [
  { name: 'vtl', offset: 0x00, kind: 'u8' },
  { name: 'registerName', offset: 0x01, kind: 'u32' },
  { name: 'mbz', offset: 0x05, kind: { bytes: 11 } },
  { name: 'registerValue', offset: 0x10, kind: { bytes: 16 } },
] as const);

/** HV_REGISTER_VALUE encodings used by VBS register lists. */
export const HvSegmentRegister = defineStruct('HvX64SegmentRegister', 16, [
  { name: 'base', offset: 0, kind: 'u64' },
  { name: 'limit', offset: 8, kind: 'u32' },
  { name: 'selector', offset: 12, kind: 'u16' },
  { name: 'attributes', offset: 14, kind: 'u16' },
] as const);

export const HvTableRegister = defineStruct('HvX64TableRegister', 16, [
  { name: 'pad', offset: 0, kind: { bytes: 6 } },
  { name: 'limit', offset: 6, kind: 'u16' },
  { name: 'base', offset: 8, kind: 'u64' },
] as const);
