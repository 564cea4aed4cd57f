/**
 * The decoded view of a parsed IGVM file that `igvm inspect` renders, as text (render/text.ts) or as
 * JSON (render/json.ts). Every header becomes an ordered record of named values:
 *
 * - `bigint`: a 64-bit field, an address (GPA, segment or table base) or a 64-bit register. Shown in hex
 *   by both renderers (JSON: a "0x..." string).
 * - `number`: any other integer (masks, selectors, indexes, narrow sizes, file offsets).
 * - `Uint8Array`: a short fixed byte array inside a header (digests, keys).
 * - `PayloadRef`: file data a header points to (page contents, parameter-area contents, CoRIM).
 * - a record with a `raw` key: a decoded bitfield; `raw` holds the whole word, the other keys its parts.
 */
import {
  CcaHashAlgorithm,
  CcaLfaPolicy,
  CcaPolicyAttr,
  PageDataFlags,
  RelocationFlags,
  SevFeatures,
  SevVmsa,
  SnpPolicy,
  TdxPolicy,
  VMSA_SEGMENTS,
  VbsDigestAlgorithm,
  VbsSigningAlgorithm,
  structs,
  type CcaVpContextFields,
  type DataRef,
  type IgvmHeader,
  type IgvmWarning,
  type LazyIgvm,
  type NativeVpContextX64Fields,
  type PageDataFlagsValue,
  type PlatformTypeName,
  type SevVmsaFields,
  type VbsRegister,
  type VpContext,
  type VpContextHeader,
} from '../format/index.js';
import { checkNativeContext, decodeSegmentAttributes, describeNativeContext, describeSegmentType, type SegmentView } from '../arch/x86/index.js';
import { coalescePageRanges, type PageEntry, type PageRange } from './page-ranges.js';
import { cr0Names, cr4Names, eferNames, rflagsNames } from './x86-flags.js';

/** File data referenced by a header, not yet read. */
export class PayloadRef {
  constructor(
    readonly fileOffset: number,
    readonly length: number,
  ) {}
}

export type Value = bigint | number | string | boolean | null | Uint8Array | PayloadRef | readonly Value[] | ValueRecord;
export interface ValueRecord {
  readonly [key: string]: Value;
}

export interface HeaderEntry {
  /** Index among all variable headers of the file, in file order. */
  readonly index: number;
  /** File offset of the header's TLV record. */
  readonly offset: number;
  readonly type: string;
  readonly typeCode: number;
  readonly fields: ValueRecord;
  readonly header: IgvmHeader<DataRef>;
}

export interface FixedHeaderReport {
  readonly formatVersion: number;
  readonly architecture: string;
  /** v1 files carry no architecture field: they are X64 by definition. */
  readonly architectureImplied: boolean;
  readonly pageSize: number;
  readonly fixedHeaderSize: number;
  readonly variableHeaderOffset: number;
  readonly variableHeaderSize: number;
  readonly totalFileSize: number;
  readonly checksum: number;
  readonly fileDataOffset: number;
  readonly fileDataSize: number;
}

export interface ParameterAreaReport {
  readonly parameterAreaIndex: number;
  /** The PARAMETER_AREA header; undefined when the file uses an index it never declares. */
  readonly declaration: HeaderEntry | undefined;
  readonly numberOfBytes: bigint | undefined;
  readonly initialData: PayloadRef | undefined;
  readonly parameters: { readonly type: string; readonly byteOffset: number; readonly headerIndex: number }[];
  readonly inserts: { readonly gpa: bigint; readonly compatibilityMask: number; readonly headerIndex: number }[];
}

export interface PlatformFilterReport {
  readonly platform: PlatformTypeName;
  /** Mask of the matching platform; undefined when none matched (then nothing was filtered). */
  readonly mask: number | undefined;
}

export interface InspectReport {
  readonly file: { readonly path: string; readonly size: number };
  readonly fixed: FixedHeaderReport;
  readonly platformFilter: PlatformFilterReport | undefined;
  readonly platforms: HeaderEntry[];
  readonly initializations: HeaderEntry[];
  /** Number of directive headers kept (including PAGE_DATA). */
  readonly directiveCount: number;
  /** All directives in file order, decoded on demand (a file may hold a great many pages). */
  directives(): Iterable<HeaderEntry>;
  /** Directives other than PAGE_DATA, in file order. */
  readonly otherDirectives: HeaderEntry[];
  readonly pageCount: number;
  readonly pageRanges: PageRange[];
  /** The file data of each page of a range, in order (null for a zero page). */
  pagePayloads(range: PageRange): (PayloadRef | null)[];
  readonly parameterAreas: ParameterAreaReport[];
  readonly warnings: IgvmWarning[];
  /** Read a payload from the file. */
  readData(ref: PayloadRef): Promise<Uint8Array>;
}

// ---- helpers ----

function payload(ref: DataRef): PayloadRef | null {
  return ref.length === 0 ? null : new PayloadRef(ref.fileOffset, ref.length);
}

/**
 * A decoded bitfield: `raw` (the whole word), then its parts. Multi-bit parts are numbers (they are at
 * most 8 bits wide); `reserved` keeps the type of `raw` (a 64-bit word's reserved bits may not fit a number).
 */
function bits(raw: number | bigint, decoded: object): ValueRecord {
  const out: Record<string, Value> = { raw };
  for (const [key, value] of Object.entries(decoded as ValueRecord)) {
    out[key] = typeof value === 'bigint' && key !== 'reserved' ? Number(value) : value;
  }
  return out;
}

function pageFlags(flags: PageDataFlagsValue): ValueRecord {
  return bits(PageDataFlags.encode(flags), flags);
}

function enumValue(value: number, name: string | undefined): ValueRecord {
  return { value, name: name ?? null };
}

/** Platform types declared with a mask that shares a bit with `mask`. */
export function platformsForMask(platforms: readonly HeaderEntry[], mask: number): PlatformTypeName[] {
  const out: PlatformTypeName[] = [];
  for (const p of platforms) {
    if (p.header.type === 'SUPPORTED_PLATFORM' && (p.header.compatibilityMask & mask) !== 0) out.push(p.header.platformType);
  }
  return out;
}

// ---- VP contexts ----

function segmentRecord(view: SegmentView): ValueRecord {
  return {
    selector: view.selector,
    base: BigInt(view.base),
    limit: view.limit,
    attributes: bits(view.attributes, { typeName: view.typeName, ...view.decoded }),
  };
}

function nativeContext(r: NativeVpContextX64Fields): ValueRecord {
  const v = describeNativeContext(r);
  return {
    format: 'native-x64',
    mode: v.mode,
    registers: {
      ...v.gprs,
      rip: v.rip,
      rflags: v.rflags,
      cr0: v.cr0,
      cr3: v.cr3,
      cr4: v.cr4,
      efer: v.efer,
      gsBase: v.gsBase,
    },
    flagNames: { rflags: rflagsNames(v.rflags), cr0: cr0Names(v.cr0), cr4: cr4Names(v.cr4), efer: eferNames(v.efer) },
    gdtr: { base: v.gdtr.base, limit: v.gdtr.limit },
    idtr: { base: v.idtr.base, limit: v.idtr.limit },
    cs: segmentRecord(v.cs),
    data: segmentRecord(v.data),
    problems: checkNativeContext(r),
  };
}

/** VMSA segment attributes are in the SVM 12-bit form; widen to the VMX layout the x86 helpers use. */
function vmsaAttributes(attrib: number): ValueRecord {
  const vmx = (attrib & 0xff) | ((attrib & 0xf00) << 4);
  const decoded = decodeSegmentAttributes(vmx);
  return bits(attrib, { typeName: describeSegmentType(decoded.type, decoded.s, true), ...decoded });
}

function isZero(v: number | bigint | Uint8Array): boolean {
  if (v instanceof Uint8Array) return v.every((b) => b === 0);
  return v === 0 || v === 0n;
}

function vmsaContext(vmsa: SevVmsaFields): ValueRecord {
  const fields = vmsa as unknown as Readonly<Record<string, number | bigint | Uint8Array>>;
  const segments: Record<string, Value> = {};
  for (const seg of VMSA_SEGMENTS) {
    const selector = fields[`${seg}Selector`] as number;
    const attrib = fields[`${seg}Attrib`] as number;
    const limit = fields[`${seg}Limit`] as number;
    const base = fields[`${seg}Base`] as bigint;
    if (selector === 0 && attrib === 0 && limit === 0 && base === 0n) continue;
    segments[seg] = { selector, base, limit, attributes: vmsaAttributes(attrib) };
  }
  const segmentFields = new Set(VMSA_SEGMENTS.flatMap((s) => [`${s}Selector`, `${s}Attrib`, `${s}Limit`, `${s}Base`]));
  const nonZero: Record<string, Value> = {};
  for (const f of SevVmsa.fields) {
    if (segmentFields.has(f.name)) continue;
    const value = fields[f.name];
    if (value === undefined || isZero(value)) continue;
    nonZero[f.name] = f.name === 'sevFeatures' && typeof value === 'bigint' ? bits(value, SevFeatures.decode(value)) : value;
  }
  return {
    format: 'sev-vmsa',
    segments,
    fields: nonZero,
    flagNames: { rflags: rflagsNames(vmsa.rflags), cr0: cr0Names(vmsa.cr0), cr4: cr4Names(vmsa.cr4), efer: eferNames(vmsa.efer) },
  };
}

function vbsRegister(reg: VbsRegister, x64: boolean): ValueRecord {
  const v = reg.value;
  switch (v.kind) {
    case 'scalar':
      return { name: reg.name, kind: v.kind, value: v.value };
    case 'table':
      return { name: reg.name, kind: v.kind, base: v.base, limit: v.limit };
    case 'segment': {
      const decoded = x64 ? decodeSegmentAttributes(v.attributes) : undefined;
      const attributes = decoded
        ? bits(v.attributes, { typeName: describeSegmentType(decoded.type, decoded.s, true), ...decoded })
        : v.attributes;
      return { name: reg.name, kind: v.kind, selector: v.selector, base: v.base, limit: v.limit, attributes };
    }
  }
}

function ccaContext(r: CcaVpContextFields): ValueRecord {
  return { format: 'cca', registers: { ...r } };
}

export function describeContext(context: VpContext): ValueRecord {
  switch (context.format) {
    case 'native-x64':
      return nativeContext(context.registers);
    case 'sev-vmsa':
      return vmsaContext(context.vmsa);
    case 'vbs-x64':
    case 'vbs-aarch64':
      return {
        format: context.format,
        vtl: context.vtl,
        registers: context.registers.map((r) => vbsRegister(r, context.format === 'vbs-x64')),
      };
    case 'cca':
      return ccaContext(context.registers);
    case 'raw':
      return { format: 'raw', length: context.bytes.length };
  }
}

function vpContext(h: VpContextHeader, platforms: readonly HeaderEntry[]): ValueRecord {
  const platform = platformsForMask(platforms, h.compatibilityMask);
  return {
    vpIndex: h.vpIndex,
    compatibilityMask: h.compatibilityMask,
    platform: platform.length === 1 ? (platform[0] ?? null) : null,
    gpa: h.gpa,
    context: describeContext(h.context),
  };
}

// ---- headers ----

function guestPolicy(policy: bigint, mask: number, platforms: readonly HeaderEntry[]): ValueRecord {
  const kinds = platformsForMask(platforms, mask);
  if (kinds.includes('TDX')) return bits(policy, { decodedAs: 'TdxPolicy', ...TdxPolicy.decode(policy) });
  if (kinds.some((k) => k === 'SEV_SNP' || k === 'SEV' || k === 'SEV_ES')) {
    return bits(policy, { decodedAs: 'SnpPolicy', ...SnpPolicy.decode(policy) });
  }
  // No SEV or TDX platform under this mask: the policy has no defined meaning.
  return bits(policy, { decodedAs: null });
}

function ccaAttributes(value: bigint): ValueRecord {
  return bits(value, {
    debug: (value & CcaPolicyAttr.DEBUG) !== 0n,
    mec: (value & CcaPolicyAttr.MEC) !== 0n,
    reserved: value & ~(CcaPolicyAttr.DEBUG | CcaPolicyAttr.MEC),
  });
}

/** The decoded fields of one header. */
export function describeHeader(h: IgvmHeader<DataRef>, platforms: readonly HeaderEntry[]): ValueRecord {
  switch (h.type) {
    case 'SUPPORTED_PLATFORM':
      return {
        compatibilityMask: h.compatibilityMask,
        platformType: h.platformType,
        platformVersion: h.platformVersion,
        highestVtl: h.highestVtl,
        sharedGpaBoundary: h.sharedGpaBoundary,
      };
    case 'GUEST_POLICY':
      return { compatibilityMask: h.compatibilityMask, policy: guestPolicy(h.policy, h.compatibilityMask, platforms) };
    case 'RELOCATABLE_REGION': {
      const flags = { isVtl2: h.isVtl2, applyRip: h.applyRip, applyGdtr: h.applyGdtr };
      return {
        compatibilityMask: h.compatibilityMask,
        vpIndex: h.vpIndex,
        vtl: h.vtl,
        flags: bits(RelocationFlags.encode(flags), flags),
        relocationAlignment: h.relocationAlignment,
        relocationRegionGpa: h.relocationRegionGpa,
        relocationRegionSize: h.relocationRegionSize,
        minimumRelocationGpa: h.minimumRelocationGpa,
        maximumRelocationGpa: h.maximumRelocationGpa,
      };
    }
    case 'PAGE_TABLE_RELOCATION_REGION':
      return { compatibilityMask: h.compatibilityMask, vpIndex: h.vpIndex, vtl: h.vtl, gpa: h.gpa, size: h.size, usedSize: h.usedSize };
    case 'CORIM_DOCUMENT':
    case 'CORIM_SIGNATURE':
      return { compatibilityMask: h.compatibilityMask, data: payload(h.data) };
    case 'CCA_POLICY':
      return {
        compatibilityMask: h.compatibilityMask,
        attributesRequiredZeroes: ccaAttributes(h.attributesRequiredZeroes),
        attributesRequiredOnes: ccaAttributes(h.attributesRequiredOnes),
        hashAlgorithm: enumValue(h.hashAlgorithm, CcaHashAlgorithm.name(h.hashAlgorithm)),
        lfaPolicy: enumValue(h.lfaPolicy, CcaLfaPolicy.name(h.lfaPolicy)),
      };
    case 'PAGE_DATA':
      return {
        gpa: h.gpa,
        compatibilityMask: h.compatibilityMask,
        dataType: h.dataType,
        flags: pageFlags(h.flags),
        data: payload(h.data),
      };
    case 'PARAMETER_AREA':
      return { parameterAreaIndex: h.parameterAreaIndex, numberOfBytes: h.numberOfBytes, initialData: payload(h.initialData) };
    case 'PARAMETER_INSERT':
      return { gpa: h.gpa, compatibilityMask: h.compatibilityMask, parameterAreaIndex: h.parameterAreaIndex };
    case 'VP_CONTEXT':
      return vpContext(h, platforms);
    case 'REQUIRED_MEMORY': {
      const flags = { vtl2Protectable: h.vtl2Protectable, reserved: h.reservedFlags };
      return {
        gpa: h.gpa,
        compatibilityMask: h.compatibilityMask,
        numberOfBytes: h.numberOfBytes,
        flags: bits((h.vtl2Protectable ? 1 : 0) | h.reservedFlags, flags),
      };
    }
    case 'ERROR_RANGE':
      return { gpa: h.gpa, compatibilityMask: h.compatibilityMask, sizeBytes: h.sizeBytes };
    case 'SNP_ID_BLOCK': {
      const { type: _type, ...rest } = h;
      return { ...rest };
    }
    case 'VBS_MEASUREMENT': {
      const { type: _type, bootDigestAlgo, signingAlgo, ...rest } = h;
      return {
        ...rest,
        bootDigestAlgo: enumValue(bootDigestAlgo, VbsDigestAlgorithm.name(bootDigestAlgo)),
        signingAlgo: enumValue(signingAlgo, VbsSigningAlgorithm.name(signingAlgo)),
      };
    }
    default:
      // The parameter usages (VP_COUNT_PARAMETER, MEMORY_MAP, COMMAND_LINE, ...).
      return { parameterAreaIndex: h.parameterAreaIndex, byteOffset: h.byteOffset };
  }
}

// ---- the report ----

function fixedHeader(parsed: LazyIgvm, head: Uint8Array): FixedHeaderReport {
  const v1 = structs.FixedHeaderV1.read(head);
  const rev = parsed.revision;
  const fixedHeaderSize = rev.formatVersion === 1 ? structs.FixedHeaderV1.size : structs.FixedHeaderV2.size;
  const fileDataOffset = v1.variableHeaderOffset + v1.variableHeaderSize;
  return {
    formatVersion: rev.formatVersion,
    architecture: rev.formatVersion === 1 ? 'X64' : rev.architecture,
    architectureImplied: rev.formatVersion === 1,
    pageSize: rev.formatVersion === 1 ? 4096 : rev.pageSize,
    fixedHeaderSize,
    variableHeaderOffset: v1.variableHeaderOffset,
    variableHeaderSize: v1.variableHeaderSize,
    totalFileSize: v1.totalFileSize,
    checksum: v1.checksum,
    fileDataOffset,
    fileDataSize: v1.totalFileSize - fileDataOffset,
  };
}

export interface ReportInput {
  readonly path: string;
  readonly parsed: LazyIgvm;
  /** The first min(32, size) bytes of the file (the fixed header). */
  readonly head: Uint8Array;
  readonly platformFilter?: PlatformTypeName;
}

export function buildReport({ path, parsed, head, platformFilter }: ReportInput): InspectReport {
  const locations = parsed.locations;
  const entry = (h: IgvmHeader<DataRef>, loc: { index: number; offset: number; typeCode: number } | undefined, fields: ValueRecord): HeaderEntry => ({
    index: loc?.index ?? -1,
    offset: loc?.offset ?? -1,
    type: h.type,
    typeCode: loc?.typeCode ?? 0,
    fields,
    header: h,
  });

  const platforms: HeaderEntry[] = [];
  parsed.platforms.forEach((h, i) => {
    platforms.push(entry(h, locations.platforms[i], describeHeader(h, [])));
  });
  const initializations = parsed.initializations.map((h, i) => entry(h, locations.initializations[i], describeHeader(h, platforms)));

  const otherDirectives: HeaderEntry[] = [];
  const pages: PageEntry[] = [];
  /** Position in parsed.directives of each entry of `pages`. */
  const pageDirective: number[] = [];
  const areas = new Map<number, { declaration?: HeaderEntry; numberOfBytes?: bigint; initialData?: PayloadRef; parameters: ParameterAreaReport['parameters']; inserts: ParameterAreaReport['inserts'] }>();
  const area = (index: number) => {
    let a = areas.get(index);
    if (!a) areas.set(index, (a = { parameters: [], inserts: [] }));
    return a;
  };
  parsed.directives.forEach((h, i) => {
    const loc = locations.directives[i];
    const headerIndex = loc?.index ?? -1;
    if (h.type === 'PAGE_DATA') {
      pageDirective.push(i);
      pages.push({ gpa: h.gpa, compatibilityMask: h.compatibilityMask, dataType: h.dataType, flags: h.flags, hasData: h.data.length > 0, headerIndex });
      return;
    }
    const e = entry(h, loc, describeHeader(h, platforms));
    otherDirectives.push(e);
    if (h.type === 'PARAMETER_AREA') {
      const a = area(h.parameterAreaIndex);
      a.declaration ??= e;
      a.numberOfBytes ??= h.numberOfBytes;
      a.initialData ??= payload(h.initialData) ?? undefined;
    } else if (h.type === 'PARAMETER_INSERT') {
      area(h.parameterAreaIndex).inserts.push({ gpa: h.gpa, compatibilityMask: h.compatibilityMask, headerIndex });
    } else if ('byteOffset' in h) {
      area(h.parameterAreaIndex).parameters.push({ type: h.type, byteOffset: h.byteOffset, headerIndex });
    }
  });

  const parameterAreas: ParameterAreaReport[] = [...areas.entries()]
    .sort(([a], [b]) => a - b)
    .map(([parameterAreaIndex, a]) => ({
      parameterAreaIndex,
      declaration: a.declaration,
      numberOfBytes: a.numberOfBytes,
      initialData: a.initialData,
      parameters: a.parameters,
      inserts: a.inserts,
    }));

  let filter: PlatformFilterReport | undefined;
  if (platformFilter) {
    const match = parsed.platforms.find((p) => p.platformType === platformFilter);
    filter = { platform: platformFilter, mask: match?.compatibilityMask };
  }

  return {
    file: { path, size: parsed.fileSize },
    fixed: fixedHeader(parsed, head),
    platformFilter: filter,
    platforms,
    initializations,
    directiveCount: parsed.directives.length,
    *directives() {
      for (let i = 0; i < parsed.directives.length; i++) {
        const h = parsed.directives[i];
        if (h === undefined) continue;
        yield entry(h, locations.directives[i], describeHeader(h, platforms));
      }
    },
    otherDirectives,
    pageCount: pages.length,
    pageRanges: coalescePageRanges(pages),
    pagePayloads(range) {
      // Header indexes grow along `pages`: binary-search the range's first page.
      let lo = 0;
      let hi = pages.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((pages[mid]?.headerIndex ?? Infinity) < range.firstHeaderIndex) lo = mid + 1;
        else hi = mid;
      }
      const out: (PayloadRef | null)[] = [];
      for (let k = lo; k < lo + range.pageCount && k < pages.length; k++) {
        const h = parsed.directives[pageDirective[k] ?? -1];
        out.push(h?.type === 'PAGE_DATA' ? payload(h.data) : null);
      }
      return out;
    },
    parameterAreas,
    warnings: parsed.warnings,
    readData: (ref) => parsed.readData({ fileOffset: ref.fileOffset, length: ref.length }),
  };
}
