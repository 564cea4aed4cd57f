/**
 * The typed IGVM model: one variant per header type, named fields, 64-bit values as `bigint`
 * (everything narrower is a `number`). Payloads are `D`: a `Uint8Array` view into the input for an
 * eager parse, or a `DataRef` (offset + length) for a lazy one.
 */
import type {
  ArchitectureName,
  PageDataTypeName,
  ParameterUsageType,
  PlatformTypeName,
} from './constants.js';
import type { CcaVpContextFields, NativeVpContextX64Fields } from './structs.js';
import type { SevVmsaFields } from './vmsa.js';

/** Anything that stands for a payload: its length in bytes is all the model needs to know. */
export interface DataLike {
  readonly length: number;
}

/** A payload left in the file: `length` bytes at absolute `fileOffset`. */
export interface DataRef extends DataLike {
  readonly fileOffset: number;
}

export type IgvmRevision =
  | { readonly formatVersion: 1 }
  | { readonly formatVersion: 2; readonly architecture: ArchitectureName; readonly pageSize: number };

export function architectureOf(revision: IgvmRevision): ArchitectureName {
  return revision.formatVersion === 1 ? 'X64' : revision.architecture;
}

export function pageSizeOf(revision: IgvmRevision): number {
  return revision.formatVersion === 1 ? 4096 : revision.pageSize;
}

// ---- platform section ----

export interface SupportedPlatformHeader {
  readonly type: 'SUPPORTED_PLATFORM';
  compatibilityMask: number;
  highestVtl: number;
  platformType: PlatformTypeName;
  platformVersion: number;
  sharedGpaBoundary: bigint;
}

export type PlatformHeader = SupportedPlatformHeader;

// ---- initialization section ----

export interface GuestPolicyHeader {
  readonly type: 'GUEST_POLICY';
  /** SnpPolicy or TdxPolicy bits, by platform; see bitfields.ts. */
  policy: bigint;
  compatibilityMask: number;
}

export interface RelocatableRegionHeader {
  readonly type: 'RELOCATABLE_REGION';
  compatibilityMask: number;
  vpIndex: number;
  vtl: number;
  isVtl2: boolean;
  applyRip: boolean;
  applyGdtr: boolean;
  relocationAlignment: bigint;
  relocationRegionGpa: bigint;
  relocationRegionSize: bigint;
  minimumRelocationGpa: bigint;
  maximumRelocationGpa: bigint;
}

export interface PageTableRelocationHeader {
  readonly type: 'PAGE_TABLE_RELOCATION_REGION';
  compatibilityMask: number;
  vpIndex: number;
  vtl: number;
  gpa: bigint;
  size: bigint;
  usedSize: bigint;
}

export interface CorimHeader<D extends DataLike = Uint8Array> {
  readonly type: 'CORIM_DOCUMENT' | 'CORIM_SIGNATURE';
  compatibilityMask: number;
  data: D;
}

export interface CcaPolicyHeader {
  readonly type: 'CCA_POLICY';
  compatibilityMask: number;
  attributesRequiredZeroes: bigint;
  attributesRequiredOnes: bigint;
  /** CcaHashAlgorithm: SHA256 0, SHA512 1, SHA384 2 (not validated, as in the reference). */
  hashAlgorithm: number;
  /** CcaLfaPolicy: LFA_DISALLOW 0, LFA_ALLOW 1. */
  lfaPolicy: number;
}

export type InitializationHeader<D extends DataLike = Uint8Array> =
  | GuestPolicyHeader
  | RelocatableRegionHeader
  | PageTableRelocationHeader
  | CorimHeader<D>
  | CcaPolicyHeader;

// ---- directive section ----

export interface PageDataFlagsValue {
  is2mbPage: boolean;
  unmeasured: boolean;
  shared: boolean;
  /** Bits 3..31, kept for round trips (the reference does not check them). */
  reserved: number;
}

export interface PageDataHeader<D extends DataLike = Uint8Array> {
  readonly type: 'PAGE_DATA';
  gpa: bigint;
  compatibilityMask: number;
  flags: PageDataFlagsValue;
  dataType: PageDataTypeName;
  /** Empty = a page of zeros (file_offset 0). Otherwise at most one 4 KiB page. */
  data: D;
}

export interface ParameterAreaHeader<D extends DataLike = Uint8Array> {
  readonly type: 'PARAMETER_AREA';
  numberOfBytes: bigint;
  parameterAreaIndex: number;
  /** Empty = zero-filled initial contents. */
  initialData: D;
}

export interface ParameterInsertHeader {
  readonly type: 'PARAMETER_INSERT';
  gpa: bigint;
  compatibilityMask: number;
  parameterAreaIndex: number;
}

export interface ParameterUsageHeader {
  readonly type: ParameterUsageType;
  parameterAreaIndex: number;
  byteOffset: number;
}

export interface RequiredMemoryHeader {
  readonly type: 'REQUIRED_MEMORY';
  gpa: bigint;
  compatibilityMask: number;
  numberOfBytes: number;
  vtl2Protectable: boolean;
  /** RequiredMemoryFlags bits 1..31, kept for round trips. */
  reservedFlags: number;
}

export interface ErrorRangeHeader {
  readonly type: 'ERROR_RANGE';
  gpa: bigint;
  compatibilityMask: number;
  sizeBytes: number;
}

export interface SnpIdBlockHeader {
  readonly type: 'SNP_ID_BLOCK';
  compatibilityMask: number;
  authorKeyEnabled: number;
  reserved: Uint8Array;
  ld: Uint8Array;
  familyId: Uint8Array;
  imageId: Uint8Array;
  version: number;
  guestSvn: number;
  idKeyAlgorithm: number;
  authorKeyAlgorithm: number;
  idKeySignatureR: Uint8Array;
  idKeySignatureS: Uint8Array;
  idPublicKeyCurve: number;
  idPublicKeyReserved: number;
  idPublicKeyQx: Uint8Array;
  idPublicKeyQy: Uint8Array;
  authorKeySignatureR: Uint8Array;
  authorKeySignatureS: Uint8Array;
  authorPublicKeyCurve: number;
  authorPublicKeyReserved: number;
  authorPublicKeyQx: Uint8Array;
  authorPublicKeyQy: Uint8Array;
}

export interface VbsMeasurementHeader {
  readonly type: 'VBS_MEASUREMENT';
  compatibilityMask: number;
  version: number;
  productId: number;
  moduleId: number;
  securityVersion: number;
  policyFlags: number;
  bootDigestAlgo: number;
  signingAlgo: number;
  bootMeasurementDigest: Uint8Array;
  signature: Uint8Array;
  publicKey: Uint8Array;
}

// ---- VP contexts ----

export type VbsRegisterValue =
  | { readonly kind: 'scalar'; value: bigint }
  | { readonly kind: 'segment'; base: bigint; limit: number; selector: number; attributes: number }
  | { readonly kind: 'table'; base: bigint; limit: number };

export interface VbsRegister {
  /** Register name as in the reference (`Rip`, `Cs`, `Gdtr`, `X0`, ...). */
  name: string;
  value: VbsRegisterValue;
}

export type VpContext =
  | { readonly format: 'native-x64'; registers: NativeVpContextX64Fields }
  | { readonly format: 'sev-vmsa'; vmsa: SevVmsaFields }
  | { readonly format: 'vbs-x64' | 'vbs-aarch64'; vtl: number; registers: VbsRegister[] }
  | { readonly format: 'cca'; registers: CcaVpContextFields }
  /** Lenient parses only: a context whose platform has no defined format (e.g. TDX). */
  | { readonly format: 'raw'; bytes: Uint8Array };

export interface VpContextHeader {
  readonly type: 'VP_CONTEXT';
  compatibilityMask: number;
  vpIndex: number;
  /**
   * VMSA GPA for SEV-SNP/SEV-ES. The spec says it must be zero for the other formats: it is kept as
   * found in the file (loaders check it) and always written as zero, as the reference does.
   */
  gpa: bigint;
  context: VpContext;
}

export type DirectiveHeader<D extends DataLike = Uint8Array> =
  | PageDataHeader<D>
  | ParameterAreaHeader<D>
  | ParameterInsertHeader
  | ParameterUsageHeader
  | VpContextHeader
  | RequiredMemoryHeader
  | ErrorRangeHeader
  | SnpIdBlockHeader
  | VbsMeasurementHeader;

export type IgvmHeader<D extends DataLike = Uint8Array> =
  | PlatformHeader
  | InitializationHeader<D>
  | DirectiveHeader<D>;

export interface IgvmFile<D extends DataLike = Uint8Array> {
  revision: IgvmRevision;
  platforms: PlatformHeader[];
  initializations: InitializationHeader<D>[];
  directives: DirectiveHeader<D>[];
}

/** Where a header sat in the file it was parsed from. */
export interface HeaderLocation {
  /** Index among all variable headers of the file, in file order. */
  readonly index: number;
  /** Absolute byte offset of the TLV record. */
  readonly offset: number;
  readonly typeCode: number;
}

export interface IgvmWarning {
  readonly message: string;
  readonly offset?: number;
  readonly headerIndex?: number;
}

export interface ParsedIgvm<D extends DataLike = Uint8Array> extends IgvmFile<D> {
  readonly fileSize: number;
  /** Locations of the kept headers: platforms, then initializations, then directives. */
  readonly locations: {
    readonly platforms: HeaderLocation[];
    readonly initializations: HeaderLocation[];
    readonly directives: HeaderLocation[];
  };
  readonly warnings: IgvmWarning[];
}

/** Compatibility mask of any header that has one. */
export function maskOf(header: IgvmHeader<DataLike>): number | undefined {
  return 'compatibilityMask' in header ? header.compatibilityMask : undefined;
}
