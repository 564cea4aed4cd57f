/** Numeric constants of the IGVM format (igvm_defs at microsoft/igvm e6c3ff1). */

export const IGVM_MAGIC = 0x4d564749; // "IGVM" read as a little-endian u32
export const FIXED_HEADER_SIZE_V1 = 24;
export const FIXED_HEADER_SIZE_V2 = 32;
export const PAGE_SIZE_4K = 4096;
export const PAGE_SIZE_2M = 2 * 1024 * 1024;
export const TLV_PREFIX_SIZE = 8;
export const OPTIONAL_HEADER_BIT = 0x8000_0000;

export const HeaderType = {
  SUPPORTED_PLATFORM: 0x001,
  GUEST_POLICY: 0x101,
  RELOCATABLE_REGION: 0x102,
  PAGE_TABLE_RELOCATION_REGION: 0x103,
  CORIM_DOCUMENT: 0x104,
  CORIM_SIGNATURE: 0x105,
  CCA_POLICY: 0x106,
  PARAMETER_AREA: 0x301,
  PAGE_DATA: 0x302,
  PARAMETER_INSERT: 0x303,
  VP_CONTEXT: 0x304,
  REQUIRED_MEMORY: 0x305,
  VP_COUNT_PARAMETER: 0x307,
  SRAT: 0x308,
  MADT: 0x309,
  MMIO_RANGES: 0x30a,
  SNP_ID_BLOCK: 0x30b,
  MEMORY_MAP: 0x30c,
  ERROR_RANGE: 0x30d,
  COMMAND_LINE: 0x30e,
  SLIT: 0x30f,
  PPTT: 0x310,
  VBS_MEASUREMENT: 0x311,
  DEVICE_TREE: 0x312,
  ENVIRONMENT_INFO_PARAMETER: 0x313,
} as const;
export type HeaderTypeName = keyof typeof HeaderType;

const headerNameByCode = new Map<number, HeaderTypeName>(
  Object.entries(HeaderType).map(([name, code]) => [code, name as HeaderTypeName]),
);

export function headerTypeName(code: number): HeaderTypeName | undefined {
  return headerNameByCode.get(code);
}

/** Human label for any type code, known or not (used in messages). */
export function describeHeaderType(code: number): string {
  return headerTypeName(code) ?? `unknown type 0x${code.toString(16)}`;
}

export type Section = 'platform' | 'initialization' | 'directive';

export const SECTION_RANGES: Readonly<Record<Section, readonly [number, number]>> = {
  platform: [0x001, 0x100],
  initialization: [0x101, 0x200],
  directive: [0x301, 0x400],
};

export function sectionOf(code: number): Section | undefined {
  if (code >= SECTION_RANGES.platform[0] && code <= SECTION_RANGES.platform[1]) return 'platform';
  if (code >= SECTION_RANGES.initialization[0] && code <= SECTION_RANGES.initialization[1]) return 'initialization';
  if (code >= SECTION_RANGES.directive[0] && code <= SECTION_RANGES.directive[1]) return 'directive';
  return undefined;
}

/** Headers whose body is IGVM_VHS_PARAMETER (parameter usages). */
export const PARAMETER_USAGE_TYPES = [
  'VP_COUNT_PARAMETER',
  'SRAT',
  'MADT',
  'MMIO_RANGES',
  'MEMORY_MAP',
  'COMMAND_LINE',
  'SLIT',
  'PPTT',
  'DEVICE_TREE',
  'ENVIRONMENT_INFO_PARAMETER',
] as const satisfies readonly HeaderTypeName[];
export type ParameterUsageType = (typeof PARAMETER_USAGE_TYPES)[number];

export function isParameterUsageType(name: string): name is ParameterUsageType {
  return (PARAMETER_USAGE_TYPES as readonly string[]).includes(name);
}

/** A small enumeration: names in order of their numeric value, or a name->value record. */
function enumOf<const N extends string>(entries: Record<N, number>) {
  const byValue = new Map<number, N>(Object.entries(entries).map(([k, v]) => [v as number, k as N]));
  return {
    values: entries,
    name(value: number): N | undefined {
      return byValue.get(value);
    },
  };
}

export const PlatformType = enumOf({
  NATIVE: 0x00,
  VSM_ISOLATION: 0x01,
  SEV_SNP: 0x02,
  TDX: 0x03,
  SEV: 0x04,
  SEV_ES: 0x05,
  CCA: 0x06,
});
export type PlatformTypeName = keyof typeof PlatformType.values;

export const Architecture = enumOf({ X64: 0, AARCH64: 1 });
export type ArchitectureName = keyof typeof Architecture.values;

export const PageDataType = enumOf({ NORMAL: 0, SECRETS: 1, CPUID_DATA: 2, CPUID_XF: 3 });
export type PageDataTypeName = keyof typeof PageDataType.values;

export const MemoryMapEntryType = enumOf({
  MEMORY: 0,
  PLATFORM_RESERVED: 1,
  PERSISTENT: 2,
  VTL2_PROTECTABLE: 3,
  SPECIFIC_PURPOSE: 4,
  HIDDEN: 5,
});
export type MemoryMapEntryTypeName = keyof typeof MemoryMapEntryType.values;

export const CcaHashAlgorithm = enumOf({ SHA256: 0, SHA512: 1, SHA384: 2 });
export const CcaLfaPolicy = enumOf({ LFA_DISALLOW: 0, LFA_ALLOW: 1 });
export const VbsDigestAlgorithm = enumOf({ INVALID: 0, SHA256: 1 });
export const VbsSigningAlgorithm = enumOf({ INVALID: 0, ECDSA_P384: 1 });

/** Platforms that are allowed on each architecture (reference validate_platform_headers). */
export const PLATFORMS_BY_ARCH: Readonly<Record<ArchitectureName, readonly PlatformTypeName[]>> = {
  X64: ['NATIVE', 'VSM_ISOLATION', 'SEV_SNP', 'TDX', 'SEV', 'SEV_ES'],
  AARCH64: ['VSM_ISOLATION', 'CCA'],
};

export const RelocatableRegionFlags = { IS_VTL2: 0x1, APPLY_PC: 0x2, APPLY_GDTR: 0x4 } as const;
export const CcaPolicyAttr = { DEBUG: 1n << 0n, MEC: 1n << 1n } as const;

/** Round up to the 8-byte alignment of variable-header records (safe for any u32). */
export function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}
