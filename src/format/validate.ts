/**
 * Semantic rules of the IGVM format, as the reference implementation (microsoft/igvm e6c3ff1) applies
 * them: per-header checks (run as each header is parsed, and before each is written) and file-level
 * checks (run at the end of a parse and by the builder). Structural checks (sizes, offsets, reserved
 * fields that the model does not carry) live in the codecs.
 */
import { PAGE_SIZE_4K, PLATFORMS_BY_ARCH, isParameterUsageType, type ArchitectureName, type PlatformTypeName } from './constants.js';
import { hex, IgvmFormatError, type ErrorLocation, type IgvmErrorCode } from './errors.js';
import {
  architectureOf,
  pageSizeOf,
  type DataLike,
  type DirectiveHeader,
  type IgvmFile,
  type IgvmHeader,
  type IgvmRevision,
  type InitializationHeader,
  type PlatformHeader,
} from './model.js';

export type Fail = (code: IgvmErrorCode, detail: string) => never;

const PAGE = BigInt(PAGE_SIZE_4K);

function aligned(value: bigint | number, to: bigint = PAGE): boolean {
  if (to === PAGE) return typeof value === 'number' ? value % PAGE_SIZE_4K === 0 : (value & (PAGE - 1n)) === 0n;
  return BigInt(value) % to === 0n;
}

function popcount(v: number): number {
  let n = 0;
  for (let x = v >>> 0; x !== 0; x &= x - 1) n++;
  return n;
}

function bitsOf(mask: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < 32; b++) if ((mask >>> b) & 1) out.push(b);
  return out;
}

/** Checks one header on its own. */
export function validateHeader(h: IgvmHeader<DataLike>, fail: Fail): void {
  switch (h.type) {
    case 'SUPPORTED_PLATFORM':
      if (popcount(h.compatibilityMask) !== 1) {
        fail('InvalidCompatibilityMask', `compatibility_mask ${hex(h.compatibilityMask)} must have exactly one bit set`);
      }
      if (h.highestVtl !== 0 && h.highestVtl !== 2) fail('InvalidVtl', `highest_vtl ${h.highestVtl} must be 0 or 2`);
      if (h.platformVersion !== 1) fail('InvalidPlatformVersion', `platform_version ${h.platformVersion} must be 1`);
      if ((h.platformType === 'NATIVE' || h.platformType === 'VSM_ISOLATION') && h.sharedGpaBoundary !== 0n) {
        fail('InvalidSharedGpaBoundary', `shared_gpa_boundary ${hex(h.sharedGpaBoundary)} must be 0 on ${h.platformType}`);
      }
      return;
    case 'CCA_POLICY':
      if ((h.attributesRequiredZeroes & h.attributesRequiredOnes) !== 0n) {
        fail(
          'InvalidOnesZeroesMasks',
          `attributes ${hex(h.attributesRequiredZeroes & h.attributesRequiredOnes)} are required both zero and one`,
        );
      }
      return;
    case 'RELOCATABLE_REGION': {
      if (h.vtl > 2) fail('InvalidVtl', `vtl ${h.vtl} must be 0, 1 or 2`);
      if (!aligned(h.relocationRegionSize)) fail('RelocationSize', `relocation_region_size ${hex(h.relocationRegionSize)} is not a multiple of 4 KiB`);
      const a = h.relocationAlignment;
      if (a === 0n || !aligned(a)) fail('RelocationAlignment', `relocation_alignment ${hex(a)} must be a non-zero multiple of 4 KiB`);
      for (const [field, gpa] of [
        ['relocation_region_gpa', h.relocationRegionGpa],
        ['minimum_relocation_gpa', h.minimumRelocationGpa],
        ['maximum_relocation_gpa', h.maximumRelocationGpa],
      ] as const) {
        if (!aligned(gpa, a)) fail('RelocationAddress', `${field} ${hex(gpa)} is not aligned to ${hex(a)}`);
      }
      return;
    }
    case 'PAGE_TABLE_RELOCATION_REGION':
      if (h.vtl > 2) fail('InvalidVtl', `vtl ${h.vtl} must be 0, 1 or 2`);
      if (!aligned(h.gpa)) fail('UnalignedAddress', `gpa ${hex(h.gpa)} is not 4 KiB aligned`);
      if (!aligned(h.size)) fail('UnalignedSize', `size ${hex(h.size)} is not a multiple of 4 KiB`);
      if (!aligned(h.usedSize)) fail('UnalignedSize', `used_size ${hex(h.usedSize)} is not a multiple of 4 KiB`);
      if (h.usedSize > h.size) fail('InvalidPageTableRegionSize', `used_size ${hex(h.usedSize)} exceeds size ${hex(h.size)}`);
      return;
    case 'PAGE_DATA':
      if (!aligned(h.gpa)) fail('UnalignedAddress', `gpa ${hex(h.gpa)} is not 4 KiB aligned`);
      if (h.data.length > PAGE_SIZE_4K) fail('InvalidDataSize', `page data of ${h.data.length} bytes exceeds 4096`);
      return;
    case 'PARAMETER_AREA':
      if (!aligned(h.numberOfBytes)) fail('UnalignedSize', `number_of_bytes ${hex(h.numberOfBytes)} is not a multiple of 4 KiB`);
      if (BigInt(h.initialData.length) > h.numberOfBytes) {
        fail('InvalidDataSize', `initial data of ${h.initialData.length} bytes exceeds the area's ${h.numberOfBytes} bytes`);
      }
      return;
    case 'REQUIRED_MEMORY':
      if (!aligned(h.gpa)) fail('UnalignedAddress', `gpa ${hex(h.gpa)} is not 4 KiB aligned`);
      if (!aligned(h.numberOfBytes)) fail('UnalignedSize', `number_of_bytes ${hex(h.numberOfBytes)} is not a multiple of 4 KiB`);
      return;
    case 'PARAMETER_INSERT':
    case 'ERROR_RANGE':
      if (!aligned(h.gpa)) fail('UnalignedAddress', `gpa ${hex(h.gpa)} is not 4 KiB aligned`);
      return;
    case 'VP_CONTEXT':
      if (h.context.format === 'sev-vmsa' && !aligned(h.gpa)) {
        fail('UnalignedAddress', `VMSA gpa ${hex(h.gpa)} is not 4 KiB aligned`);
      }
      if ((h.context.format === 'vbs-x64' || h.context.format === 'vbs-aarch64') && h.vpIndex !== 0) {
        fail('InvalidVbsContext', `VBS context vp_index ${h.vpIndex}: only vp_index 0 is supported`);
      }
      if ((h.context.format === 'vbs-x64' || h.context.format === 'vbs-aarch64') && h.context.vtl > 2) {
        fail('InvalidVtl', `VBS context VTL ${h.context.vtl}; VTLs are 0, 1 and 2`);
      }
      if ((h.context.format === 'vbs-x64' || h.context.format === 'vbs-aarch64') && h.context.registers.length === 0) {
        fail('NoVbsVpContextRegisters', 'VBS context has no registers');
      }
      return;
    default:
      return;
  }
}

export type Section = 'platforms' | 'initializations' | 'directives';
export type Locate = (section: Section, index: number) => ErrorLocation;

interface RelocationRecord {
  readonly mask: number;
  readonly vpIndex: number;
  readonly vtl: number;
  readonly where: ErrorLocation;
  readonly start: bigint;
  readonly end: bigint; // exclusive
}

/**
 * The file-level rules of the reference's `IgvmFile::new`, fed one header at a time in file order
 * (platforms, initializations, directives), so that a parser can check a file without keeping its
 * headers. The first violation is kept and thrown by `finish()`, after any error of a single header
 * that the caller meets later in the walk, which is the reference's order (it validates the file
 * only once every header has parsed).
 */
export class FileValidator {
  private readonly arch: ArchitectureName;
  private first: IgvmFormatError | undefined;
  private where: ErrorLocation = {};
  private platformCount = 0;
  private readonly platformByBit = new Map<number, PlatformTypeName>();
  private readonly seenTypes = new Set<PlatformTypeName>();
  private readonly init: InitState;
  private readonly areaState = new Map<number, 'allocated' | 'inserted'>();
  private readonly vbsContexts: { mask: number; vpIndex: number; vtl: number }[] = [];
  private readonly fail: Fail = (code, detail) => {
    throw new IgvmFormatError(code, detail, this.where);
  };

  constructor(revision: IgvmRevision) {
    this.arch = architectureOf(revision);
    const pageSize = pageSizeOf(revision);
    if (pageSize !== PAGE_SIZE_4K) {
      throw new IgvmFormatError('UnsupportedPageSize', `page size ${pageSize} is not supported (only 4096)`);
    }
    this.init = {
      arch: this.arch,
      platformByBit: this.platformByBit,
      relocations: [],
      pageTableRegions: [],
      corimDocs: new Set(),
      corimSigs: new Set(),
    };
  }

  /** Run `check` for the header at `where`, keeping its violation if it is the first. */
  private guard(where: ErrorLocation, check: (fail: Fail) => void): void {
    if (this.first) return;
    this.where = where;
    try {
      check(this.fail);
    } catch (e) {
      if (!(e instanceof IgvmFormatError)) throw e;
      this.first = e;
    }
  }

  platform(p: PlatformHeader, where: ErrorLocation): void {
    this.platformCount++;
    this.guard(where, (fail) => {
      validateHeader(p, fail);
      if (!PLATFORMS_BY_ARCH[this.arch].includes(p.platformType)) {
        fail('PlatformArchUnsupported', `platform ${p.platformType} is not supported on ${this.arch}`);
      }
      if (this.seenTypes.has(p.platformType)) {
        fail('MultiplePlatformHeadersWithSameIsolation', `platform ${p.platformType} is declared twice`);
      }
      this.seenTypes.add(p.platformType);
      // Two platforms may share a mask (the reference allows it); as in its map, the later one wins.
      for (const bit of bitsOf(p.compatibilityMask)) this.platformByBit.set(bit, p.platformType);
    });
  }

  /** `headerChecked`: the caller already ran validateHeader on it. */
  initialization(h: InitializationHeader<DataLike>, where: ErrorLocation, headerChecked = false): void {
    this.guard(where, (fail) => {
      if (!headerChecked) validateHeader(h, fail);
      validateInitialization(h, where, fail, this.init);
    });
  }

  directive(h: DirectiveHeader<DataLike>, where: ErrorLocation, headerChecked = false): void {
    this.guard(where, (fail) => {
      if (!headerChecked) validateHeader(h, fail);
      const areaState = this.areaState;
      if (h.type === 'PARAMETER_AREA') {
        if (areaState.has(h.parameterAreaIndex)) {
          fail('InvalidParameterAreaIndex', `parameter area ${h.parameterAreaIndex} is declared twice`);
        }
        areaState.set(h.parameterAreaIndex, 'allocated');
      } else if (isParameterUsageType(h.type) && 'byteOffset' in h) {
        checkAreaAllocated(areaState, h.parameterAreaIndex, h.type, fail);
      } else if (h.type === 'PARAMETER_INSERT') {
        checkAreaAllocated(areaState, h.parameterAreaIndex, h.type, fail);
        areaState.set(h.parameterAreaIndex, 'inserted');
        for (const r of this.init.pageTableRegions) {
          if ((r.mask & h.compatibilityMask) !== 0 && h.gpa >= r.start && h.gpa < r.end) {
            fail(
              'ParameterInsertInsidePageTableRegion',
              `insert gpa ${hex(h.gpa)} lies inside the page-table relocation region ${hex(r.start)}..${hex(r.end)}`,
            );
          }
        }
      } else if (h.type === 'VP_CONTEXT') {
        const format = h.context.format;
        const needs =
          format === 'native-x64' || format === 'vbs-x64' ? 'X64' : format === 'cca' || format === 'vbs-aarch64' ? 'AARCH64' : undefined;
        if (needs && needs !== this.arch) fail('InvalidHeaderArch', `a ${format} VP context is not allowed on ${this.arch}`);
        if (format === 'vbs-x64' || format === 'vbs-aarch64') {
          this.vbsContexts.push({ mask: h.compatibilityMask, vpIndex: h.vpIndex, vtl: h.context.vtl });
        }
      }
    });
  }

  /** Throw the first violation of the whole file, if any. */
  finish(): void {
    if (this.platformCount === 0) {
      throw new IgvmFormatError('NoPlatformHeaders', 'the file declares no SUPPORTED_PLATFORM header');
    }
    for (const r of [...this.init.relocations, ...this.init.pageTableRegions]) {
      this.guard(r.where, (fail) => {
        const matched = this.vbsContexts.some((c) => (c.mask & r.mask) !== 0 && c.vpIndex === r.vpIndex && c.vtl === r.vtl);
        if (!matched) fail('NoMatchingVpContext', `no VBS VP context for mask ${hex(r.mask)}, vp_index ${r.vpIndex}, VTL ${r.vtl}`);
      });
    }
    if (this.first) throw this.first;
  }
}

/** The file-level rules of the reference's `IgvmFile::new` over a whole model. Throws the first violation. */
export function validateFile(file: IgvmFile<DataLike>, locate: Locate): void {
  const v = new FileValidator(file.revision);
  file.platforms.forEach((h, i) => v.platform(h, locate('platforms', i)));
  file.initializations.forEach((h, i) => v.initialization(h, locate('initializations', i)));
  file.directives.forEach((h, i) => v.directive(h, locate('directives', i)));
  v.finish();
}

function checkAreaAllocated(
  state: Map<number, 'allocated' | 'inserted'>,
  index: number,
  what: string,
  fail: Fail,
): void {
  const s = state.get(index);
  if (s === undefined) fail('InvalidParameterAreaIndex', `${what} uses parameter area ${index}, which is not declared before it`);
  if (s === 'inserted') fail('InvalidParameterAreaIndex', `${what} uses parameter area ${index} after it was inserted`);
}

interface InitState {
  readonly arch: ArchitectureName;
  readonly platformByBit: Map<number, PlatformTypeName>;
  readonly relocations: RelocationRecord[];
  readonly pageTableRegions: RelocationRecord[];
  readonly corimDocs: Set<number>;
  readonly corimSigs: Set<number>;
}

function validateInitialization(h: InitializationHeader<DataLike>, where: ErrorLocation, fail: Fail, s: InitState): void {
  switch (h.type) {
    case 'CCA_POLICY':
      if (s.arch !== 'AARCH64') fail('InvalidHeaderArch', `CCA_POLICY is not allowed on ${s.arch}`);
      for (const bit of bitsOf(h.compatibilityMask)) {
        if (s.platformByBit.get(bit) !== 'CCA') {
          fail('InvalidCcaPolicyCompatibilityMask', `mask bit ${bit} (${hex(1 << bit >>> 0)}) is not a CCA platform`);
        }
      }
      return;
    case 'PAGE_TABLE_RELOCATION_REGION': {
      for (const r of s.pageTableRegions) {
        if ((r.mask & h.compatibilityMask) !== 0) {
          fail('MultiplePageTableRelocationHeaders', `a second page-table relocation region for mask ${hex(h.compatibilityMask & r.mask)}`);
        }
      }
      const rec = record(h.compatibilityMask, h.vpIndex, h.vtl, where, h.gpa, h.size);
      checkOverlap(rec, s, fail);
      s.pageTableRegions.push(rec);
      return;
    }
    case 'RELOCATABLE_REGION': {
      const rec = record(h.compatibilityMask, h.vpIndex, h.vtl, where, h.relocationRegionGpa, h.relocationRegionSize);
      checkOverlap(rec, s, fail);
      s.relocations.push(rec);
      return;
    }
    case 'CORIM_DOCUMENT':
      for (const bit of bitsOf(h.compatibilityMask)) {
        if (s.corimDocs.has(bit)) fail('MultipleCorimDocuments', `a second CoRIM document for mask bit ${bit}`);
        s.corimDocs.add(bit);
      }
      return;
    case 'CORIM_SIGNATURE':
      for (const bit of bitsOf(h.compatibilityMask)) {
        if (!s.corimDocs.has(bit)) fail('MissingCorimDocument', `CoRIM signature for mask bit ${bit} comes before its document`);
        if (s.corimSigs.has(bit)) fail('MultipleCorimSignatures', `a second CoRIM signature for mask bit ${bit}`);
        s.corimSigs.add(bit);
      }
      return;
    default:
      return;
  }
}

function record(mask: number, vpIndex: number, vtl: number, where: ErrorLocation, start: bigint, size: bigint): RelocationRecord {
  return { mask, vpIndex, vtl, where, start, end: start + size };
}

function checkOverlap(rec: RelocationRecord, s: InitState, fail: Fail): void {
  for (const other of [...s.relocations, ...s.pageTableRegions]) {
    if ((other.mask & rec.mask) !== 0 && rec.start < other.end && other.start < rec.end) {
      fail(
        'RelocationRegionsOverlap',
        `region ${hex(rec.start)}..${hex(rec.end)} overlaps region ${hex(other.start)}..${hex(other.end)}`,
      );
    }
  }
}

/** Locations for a model that has no file offsets: `directives[3] (PAGE_DATA)`. */
export function modelLocator(file: IgvmFile<DataLike>): Locate {
  return (section, index) => ({ headerType: `${section}[${index}] (${file[section][index]?.type ?? '?'})` });
}
