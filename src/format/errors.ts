/** The one error type of the format layer: a stable code, and where in the file or model it arose. */

export type IgvmErrorCode =
  // fixed header and file structure
  | 'InvalidFixedHeader'
  | 'UnsupportedPageSize'
  | 'InvalidChecksum'
  | 'EmptyFileData'
  | 'InvalidBinaryVariableHeaderSection'
  | 'InvalidVariableHeaderType'
  | 'InvalidVariableHeaderSize'
  | 'InvalidDataOffset'
  | 'InvalidDataSize'
  // per-header
  | 'UnalignedAddress'
  | 'UnalignedSize'
  | 'ReservedNotZero'
  | 'InvalidPageDataType'
  | 'InvalidVpContextPlatformType'
  | 'InvalidContext'
  | 'InvalidCompatibilityMask'
  | 'InvalidVtl'
  | 'InvalidPlatformType'
  | 'InvalidPlatformVersion'
  | 'InvalidSharedGpaBoundary'
  | 'InvalidOnesZeroesMasks'
  | 'NoVbsVpContextRegisters'
  | 'InvalidVbsContext'
  | 'RelocationSize'
  | 'RelocationAlignment'
  | 'RelocationAddress'
  | 'InvalidPageTableRegionSize'
  | 'UnsupportedX64Register'
  | 'UnsupportedAArch64Register'
  | 'MultipleCorimDocuments'
  | 'MultipleCorimSignatures'
  | 'MissingCorimDocument'
  // file-level
  | 'NoPlatformHeaders'
  | 'MultiplePlatformHeadersWithSameIsolation'
  | 'InvalidParameterAreaIndex'
  | 'InvalidCcaPolicyCompatibilityMask'
  | 'MultiplePageTableRelocationHeaders'
  | 'RelocationRegionsOverlap'
  | 'ParameterInsertInsidePageTableRegion'
  | 'NoMatchingVpContext'
  | 'PlatformArchUnsupported'
  | 'InvalidHeaderArch'
  // writing and merging
  | 'TooLarge'
  | 'InvalidModel'
  | 'MergeRevision'
  | 'NoFreeCompatibilityMasks';

/** Where an error arose: a byte offset in the file and/or a header (index in file order, type name). */
export interface ErrorLocation {
  readonly offset?: number;
  readonly headerIndex?: number;
  readonly headerType?: string;
}

export class IgvmFormatError extends Error {
  override readonly name = 'IgvmFormatError';
  readonly code: IgvmErrorCode;
  readonly offset: number | undefined;
  readonly headerIndex: number | undefined;
  readonly headerType: string | undefined;
  /** The message without the location prefix. */
  readonly detail: string;

  constructor(code: IgvmErrorCode, detail: string, where: ErrorLocation = {}) {
    super(formatMessage(detail, where));
    this.code = code;
    this.detail = detail;
    this.offset = where.offset;
    this.headerIndex = where.headerIndex;
    this.headerType = where.headerType;
  }
}

export function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

function formatMessage(detail: string, where: ErrorLocation): string {
  const parts: string[] = [];
  if (where.headerIndex !== undefined) {
    parts.push(`header #${where.headerIndex}${where.headerType ? ` (${where.headerType})` : ''}`);
  } else if (where.headerType) {
    parts.push(where.headerType);
  }
  if (where.offset !== undefined) parts.push(`at ${hex(where.offset)}`);
  return parts.length > 0 ? `${parts.join(' ')}: ${detail}` : detail;
}
