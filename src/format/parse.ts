/**
 * The IGVM parser: fixed header, checksum, then the variable headers in file order, each decoded by
 * its codec and checked by validate.ts, then the file-level rules. `parseIgvm` reads from bytes in
 * memory (payloads are views into them); `parseIgvmLazy` reads from a random-access byte source and
 * leaves page data and parameter-area contents in the file until asked for.
 */
import { codecForCode, type DecodeContext } from './codecs.js';
import {
  align8,
  HeaderType,
  OPTIONAL_HEADER_BIT,
  TLV_PREFIX_SIZE,
  describeHeaderType,
  sectionOf,
  type PlatformTypeName,
  type Section as TypeSection,
} from './constants.js';
import { hex, IgvmFormatError, type IgvmErrorCode } from './errors.js';
import { checkChecksum, readFixedHeader, type FixedHeaderInfo } from './fixed-header.js';
import {
  architectureOf,
  maskOf,
  type DataLike,
  type DataRef,
  type DirectiveHeader,
  type HeaderLocation,
  type IgvmHeader,
  type IgvmWarning,
  type InitializationHeader,
  type ParsedIgvm,
  type PlatformHeader,
} from './model.js';
import { TlvPrefix, VpContextHeader } from './structs.js';
import { FileValidator, validateHeader, type Section } from './validate.js';

export interface ParseOptions {
  /**
   * Follow the spec where the reference is stricter: skip unknown headers that have the optional
   * bit (bit 31) set, accept an empty file data section, and keep VP contexts of platforms with no
   * defined context format as raw bytes. Each leniency used is reported as a warning.
   */
  readonly lenient?: boolean;
  /** Keep only the headers that apply to this platform (the reference's isolation filter). */
  readonly platform?: PlatformTypeName;
}

/** Per-header problems found by `collectProblems`; structural problems still stop the walk. */
type ProblemSink = (error: IgvmFormatError) => void;

interface PayloadSource<D extends DataLike> {
  payload(fileOffset: number, length: number): D;
  bytes(fileOffset: number, length: number): Uint8Array;
  empty(): D;
}

const SECTION_ORDER: Record<TypeSection, number> = { platform: 0, initialization: 1, directive: 2 };
const MODEL_SECTION: Record<TypeSection, Section> = {
  platform: 'platforms',
  initialization: 'initializations',
  directive: 'directives',
};


/** How many headers of each kind a walk kept (the model's lists stay empty when not retained). */
export interface HeaderCounts {
  headers: number;
  pages: number;
}

interface Walk<D extends DataLike> {
  readonly parsed: ParsedIgvm<D>;
  readonly counts: HeaderCounts;
}

/**
 * Walk the variable headers. With `retain` false, headers are checked (each on its own and against
 * the file-level rules, incrementally) but not kept: validating a large file then allocates little.
 */
function walkHeaders<D extends DataLike>(
  info: FixedHeaderInfo,
  variableHeaders: Uint8Array,
  source: PayloadSource<D>,
  options: ParseOptions,
  sink?: ProblemSink,
  retain = true,
): Walk<D> {
  const lenient = options.lenient === true;
  const arch = architectureOf(info.revision);
  const fileSize = info.totalFileSize;
  const base = info.variableHeaderOffset;
  const warnings: IgvmWarning[] = [];
  const platforms: PlatformHeader[] = [];
  const initializations: InitializationHeader<D>[] = [];
  const directives: DirectiveHeader<D>[] = [];
  const locations = { platforms: [] as HeaderLocation[], initializations: [] as HeaderLocation[], directives: [] as HeaderLocation[] };
  const maskToPlatform = new Map<number, PlatformTypeName>();
  let filterMask = 0xffff_ffff;
  let currentSection = 0;
  let hadHeaderProblem = false;
  const validator = new FileValidator(info.revision);
  const counts: HeaderCounts = { headers: 0, pages: 0 };

  if (info.dataStart === fileSize) {
    warnings.push({ message: 'the file data section is empty: the reference parser rejects this file', offset: 0x0c });
  }

  let pos = 0;
  let index = 0;
  let offset = base;
  let typeName = '';
  // One decode context for the whole walk (parsing touches every header of a file); it reports
  // errors at the header being decoded.
  const structural: (code: IgvmErrorCode, detail: string, typeName?: string) => never = (code, detail, type) => {
    throw new IgvmFormatError(code, detail, { headerIndex: index, offset, headerType: type });
  };
  const fail: (code: IgvmErrorCode, detail: string) => never = (code, detail) => {
    throw new IgvmFormatError(code, detail, { headerIndex: index, offset, headerType: typeName });
  };
  const ctx: DecodeContext<D> = {
    arch,
    lenient,
    platformOfMask: (mask) => maskToPlatform.get(mask),
    payload: (fileOffset, len) => source.payload(fileOffset, checkedRange(fileOffset, len, info, fail)),
    bytes: (fileOffset, len) => source.bytes(fileOffset, checkedRange(fileOffset, len, info, fail)),
    empty: () => source.empty(),
    fail,
  };

  const headerView = new DataView(variableHeaders.buffer, variableHeaders.byteOffset, variableHeaders.byteLength);
  while (pos < variableHeaders.length) {
    offset = base + pos;
    typeName = '';
    if (pos + TLV_PREFIX_SIZE > variableHeaders.length) {
      structural('InvalidBinaryVariableHeaderSection', `${variableHeaders.length - pos} bytes left, too few for an 8-byte header prefix`);
    }
    const typeCode = headerView.getUint32(pos, true);
    const length = headerView.getUint32(pos + 4, true);
    typeName = describeHeaderType(typeCode);
    const recordEnd = pos + TLV_PREFIX_SIZE + align8(length);
    const section = sectionOf(typeCode);

    if (section === undefined) {
      if ((typeCode & OPTIONAL_HEADER_BIT) !== 0 && lenient) {
        if (length > variableHeaders.length || recordEnd > variableHeaders.length) {
          structural('InvalidVariableHeaderSize', `optional header length ${length} runs past the variable header section`, typeName);
        }
        warnings.push({ message: `skipped optional header type ${hex(typeCode)} (${length} bytes)`, offset, headerIndex: index });
        pos = recordEnd;
        index++;
        continue;
      }
      structural(
        'InvalidBinaryVariableHeaderSection',
        (typeCode & OPTIONAL_HEADER_BIT) !== 0
          ? `type ${hex(typeCode)} has the optional bit set; the reference rejects it (lenient parsing skips it)`
          : `type ${hex(typeCode)} belongs to no header section`,
        typeName,
      );
    }
    const order = SECTION_ORDER[section];
    if (order < currentSection) {
      structural('InvalidBinaryVariableHeaderSection', `a ${section} header may not follow a ${Object.keys(SECTION_ORDER)[currentSection]} header`, typeName);
    }
    currentSection = order;

    const codec = codecForCode(typeCode);
    if (!codec) structural('InvalidVariableHeaderType', `unknown ${section} header type ${hex(typeCode)}`, typeName);
    if (length !== codec.bodySize) {
      structural('InvalidVariableHeaderType', `length ${length} does not match the ${codec.bodySize}-byte ${typeName} body`, typeName);
    }
    if (recordEnd > variableHeaders.length) {
      structural(
        'InvalidVariableHeaderSize',
        `the ${typeName} record (with padding to 8 bytes) ends at ${hex(base + recordEnd)}, past the variable header section end ${hex(base + variableHeaders.length)}`,
        typeName,
      );
    }

    let header: IgvmHeader<D>;
    try {
      header = codec.decode(variableHeaders, pos + TLV_PREFIX_SIZE, ctx as DecodeContext<DataLike>) as IgvmHeader<D>;
      validateHeader(header, fail);
    } catch (e) {
      if (!(e instanceof IgvmFormatError) || !sink) throw e;
      sink(e);
      hadHeaderProblem = true;
      pos = recordEnd;
      index++;
      continue;
    }
    if (header.type === 'VP_CONTEXT' && header.context.format === 'raw') {
      warnings.push({ message: 'VP context kept as raw bytes: its platform defines no context format', offset, headerIndex: index });
    }

    const where = { headerIndex: index, offset, headerType: typeName };
    const location: HeaderLocation = { index, offset, typeCode };
    if (header.type === 'SUPPORTED_PLATFORM') {
      // Two platforms may share a mask (the reference allows it); as in its map, the later one wins.
      maskToPlatform.set(header.compatibilityMask, header.platformType);
      if (options.platform === header.platformType) filterMask = header.compatibilityMask;
      validator.platform(header, where);
      counts.headers++;
      if (retain) {
        platforms.push(header);
        locations.platforms.push(location);
      }
    } else {
      const mask = maskOf(header);
      const keep = mask === undefined || (mask & filterMask) !== 0;
      if (keep) {
        const target = MODEL_SECTION[section];
        if (target === 'initializations') validator.initialization(header as InitializationHeader<D>, where, true);
        else validator.directive(header as DirectiveHeader<D>, where, true);
        counts.headers++;
        if (header.type === 'PAGE_DATA') counts.pages++;
        if (retain) {
          if (target === 'initializations') initializations.push(header as InitializationHeader<D>);
          else directives.push(header as DirectiveHeader<D>);
          locations[target].push(location);
        }
      }
    }
    pos = recordEnd;
    index++;
  }

  const parsed: ParsedIgvm<D> = {
    revision: info.revision,
    platforms,
    initializations,
    directives,
    fileSize,
    locations,
    warnings,
  };
  if (!hadHeaderProblem) validator.finish();
  return { parsed, counts };
}

/** Check that [fileOffset, fileOffset + length) lies in the file data section; returns the length. */
function checkedRange(
  fileOffset: number,
  length: number | bigint,
  info: FixedHeaderInfo,
  fail: (code: IgvmErrorCode, detail: string) => never,
): number {
  if (fileOffset < info.dataStart) {
    fail('InvalidDataOffset', `file_offset ${hex(fileOffset)} points before the file data section at ${hex(info.dataStart)}`);
  }
  // Offsets and sizes here are u32s or small u64s: exact in doubles below 2^53.
  const end = typeof length === 'number' ? fileOffset + length : Number(BigInt(fileOffset) + length);
  if (end > info.totalFileSize || (typeof length === 'bigint' && length > BigInt(Number.MAX_SAFE_INTEGER))) {
    fail('InvalidDataSize', `file_offset ${hex(fileOffset)} + ${length} exceeds file size ${hex(info.totalFileSize)}`);
  }
  return Number(length);
}

const EMPTY = new Uint8Array(0);

function memorySource(bytes: Uint8Array): PayloadSource<Uint8Array> {
  return {
    payload: (offset, length) => bytes.subarray(offset, offset + length),
    bytes: (offset, length) => bytes.subarray(offset, offset + length),
    empty: () => EMPTY,
  };
}

function prepare(bytes: Uint8Array, options: ParseOptions): { info: FixedHeaderInfo; variableHeaders: Uint8Array } {
  const info = readFixedHeader(bytes, bytes.length, options.lenient === true);
  const variableHeaders = bytes.subarray(info.variableHeaderOffset, info.dataStart);
  checkChecksum(info, bytes, variableHeaders);
  return { info, variableHeaders };
}

/** Parse a whole IGVM file held in memory. Payloads in the result are views into `bytes`. */
export function parseIgvm(bytes: Uint8Array, options: ParseOptions = {}): ParsedIgvm<Uint8Array> {
  const { info, variableHeaders } = prepare(bytes, options);
  return walkHeaders(info, variableHeaders, memorySource(bytes), options).parsed;
}

/** The outcome of checking a file without keeping its model. */
export interface CheckResult {
  /** Every problem found, one error each; empty when the file is valid. */
  readonly problems: IgvmFormatError[];
  readonly warnings: IgvmWarning[];
  /** Headers and pages seen (after the platform filter). */
  readonly counts: HeaderCounts;
}

/**
 * Every problem found in a file held in memory, one error each (empty when valid): structural
 * problems end the walk; problems of single headers are collected and the walk goes on; the
 * file-level rules are checked when every header was sound on its own. The headers are not kept.
 */
export function collectProblems(bytes: Uint8Array, options: ParseOptions = {}): IgvmFormatError[] {
  const problems: IgvmFormatError[] = [];
  try {
    const { info, variableHeaders } = prepare(bytes, options);
    walkHeaders(info, variableHeaders, memorySource(bytes), options, (e) => problems.push(e), false);
  } catch (e) {
    if (!(e instanceof IgvmFormatError)) throw e;
    problems.push(e);
  }
  return problems;
}

// ---- lazy parsing ----

/** Random access to a file's bytes: a Node file handle, a browser Blob, a buffer. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A `ByteSource` over a browser `Blob` / `File` (also works in Node, which has `Blob`). */
export function blobSource(blob: Blob): ByteSource {
  return {
    size: blob.size,
    async read(offset, length) {
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}

export interface LazyIgvm extends ParsedIgvm<DataRef> {
  /** Read a payload (page data, parameter-area contents, CoRIM) from the source. */
  readData(ref: DataRef): Promise<Uint8Array>;
}

const CONTEXT_PAGE = 4096;
const VBS_REGISTER_SIZE = 32;

/**
 * The blobs that decoding needs at parse time (VP contexts), fetched ahead of the header walk.
 * Only well-formed VP_CONTEXT records are considered; the walk reports anything else.
 */
async function prefetchContexts(source: ByteSource, info: FixedHeaderInfo, variableHeaders: Uint8Array) {
  const chunks: { start: number; bytes: Uint8Array }[] = [];
  for (let pos = 0; pos + TLV_PREFIX_SIZE <= variableHeaders.length; ) {
    const { type, length } = TlvPrefix.read(variableHeaders, pos);
    const body = pos + TLV_PREFIX_SIZE;
    if (type === HeaderType.VP_CONTEXT && length === VpContextHeader.size && body + length <= variableHeaders.length) {
      const { fileOffset } = VpContextHeader.read(variableHeaders, body);
      if (fileOffset >= info.dataStart && fileOffset < source.size) {
        let want = Math.min(CONTEXT_PAGE, source.size - fileOffset);
        let bytes = await source.read(fileOffset, want);
        if (bytes.length >= 4) {
          const count = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
          const vbsSize = 4 + count * VBS_REGISTER_SIZE;
          if (vbsSize > want && fileOffset + vbsSize <= source.size) {
            want = vbsSize;
            bytes = await source.read(fileOffset, want);
          }
        }
        chunks.push({ start: fileOffset, bytes });
      }
    }
    if (length > variableHeaders.length) break;
    pos = body + align8(length);
  }
  return (offset: number, length: number): Uint8Array => {
    const c = chunks.find((k) => k.start <= offset && offset + length <= k.start + k.bytes.length);
    if (!c) throw new Error(`internal: VP context bytes at ${hex(offset)} were not prefetched`);
    return c.bytes.subarray(offset - c.start, offset - c.start + length);
  };
}

async function prepareLazy(source: ByteSource, options: ParseOptions) {
  const head = await source.read(0, Math.min(source.size, 32));
  const info = readFixedHeader(head, source.size, options.lenient === true);
  const variableHeaders = await source.read(info.variableHeaderOffset, info.variableHeaderSize);
  checkChecksum(info, head, variableHeaders);
  const contextBytes = await prefetchContexts(source, info, variableHeaders);
  const payloads: PayloadSource<DataRef> = {
    payload: (fileOffset, length) => ({ fileOffset, length }),
    bytes: contextBytes,
    empty: () => ({ fileOffset: 0, length: 0 }),
  };
  return { info, variableHeaders, payloads };
}

/**
 * Parse from a random-access source, reading the fixed and variable headers and the VP contexts
 * only. Page data and parameter-area contents stay in the source (`DataRef`s) until `readData`.
 */
export async function parseIgvmLazy(source: ByteSource, options: ParseOptions = {}): Promise<LazyIgvm> {
  const { info, variableHeaders, payloads } = await prepareLazy(source, options);
  const { parsed } = walkHeaders(info, variableHeaders, payloads, options);
  return {
    ...parsed,
    readData: (ref) => (ref.length === 0 ? Promise.resolve(EMPTY) : source.read(ref.fileOffset, ref.length)),
  };
}

/**
 * Check a file from a random-access source as `collectProblems` does, reading only the headers and
 * VP contexts and keeping none of them, so that checking a large file allocates little.
 */
export async function checkIgvmLazy(source: ByteSource, options: ParseOptions = {}): Promise<CheckResult> {
  const problems: IgvmFormatError[] = [];
  try {
    const { info, variableHeaders, payloads } = await prepareLazy(source, options);
    const { parsed, counts } = walkHeaders(info, variableHeaders, payloads, options, (e) => problems.push(e), false);
    return { problems, warnings: parsed.warnings, counts };
  } catch (e) {
    if (!(e instanceof IgvmFormatError)) throw e;
    problems.push(e);
    return { problems, warnings: [], counts: { headers: 0, pages: 0 } };
  }
}

/** The problems `checkIgvmLazy` finds. */
export async function collectProblemsLazy(source: ByteSource, options: ParseOptions = {}): Promise<IgvmFormatError[]> {
  return (await checkIgvmLazy(source, options)).problems;
}

