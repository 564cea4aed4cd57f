/**
 * IgvmBuilder: assemble an IGVM file from platforms, memory contents, parameters and VP contexts.
 * Invalid combinations are refused with an IgvmFormatError as soon as they are added (and the whole
 * file is checked again by `build`), so every file it produces is one the parser accepts.
 */
import { PAGE_SIZE_4K, type ParameterUsageType, type PageDataTypeName, type PlatformTypeName } from './constants.js';
import { hex, IgvmFormatError, type IgvmErrorCode } from './errors.js';
import type {
  DirectiveHeader,
  IgvmFile,
  IgvmRevision,
  InitializationHeader,
  PageDataFlagsValue,
  PlatformHeader,
  VpContext,
} from './model.js';
import { serializeIgvm } from './serialize.js';
import type { NativeVpContextX64Fields } from './structs.js';
import { modelLocator, validateFile, validateHeader } from './validate.js';

const PAGE = BigInt(PAGE_SIZE_4K);

export interface PlatformOptions {
  readonly highestVtl?: number;
  readonly sharedGpaBoundary?: bigint;
}

export interface PageDataOptions {
  /** Platforms the pages apply to (default: every platform declared so far). */
  readonly mask?: number;
  readonly dataType?: PageDataTypeName;
  readonly unmeasured?: boolean;
  readonly shared?: boolean;
}

function fail(code: IgvmErrorCode, detail: string): never {
  throw new IgvmFormatError(code, detail, { headerType: 'IgvmBuilder' });
}

function isAllZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

export class IgvmBuilder {
  private readonly platforms: PlatformHeader[] = [];
  private readonly initializations: InitializationHeader[] = [];
  private readonly directives: DirectiveHeader[] = [];
  /** Page GPAs already loaded, per mask bit, to refuse overlapping page data. */
  private readonly loadedPages = new Map<bigint, number>();
  private readonly areas = new Map<number, { size: bigint; inserted: boolean }>();

  constructor(readonly revision: IgvmRevision = { formatVersion: 1 }) {}

  /** Declare a platform; returns its compatibility mask (the lowest free bit). */
  addPlatform(platformType: PlatformTypeName, options: PlatformOptions = {}): number {
    const used = this.allPlatformsMask();
    let bit = 0;
    while (bit < 32 && (used >>> bit) & 1) bit++;
    if (bit === 32) fail('NoFreeCompatibilityMasks', 'all 32 compatibility mask bits are in use');
    const header: PlatformHeader = {
      type: 'SUPPORTED_PLATFORM',
      compatibilityMask: (1 << bit) >>> 0,
      highestVtl: options.highestVtl ?? 0,
      platformType,
      platformVersion: 1,
      sharedGpaBoundary: options.sharedGpaBoundary ?? 0n,
    };
    if (this.platforms.some((p) => p.platformType === platformType)) {
      fail('MultiplePlatformHeadersWithSameIsolation', `platform ${platformType} is already declared`);
    }
    this.check(header);
    this.platforms.push(header);
    return header.compatibilityMask;
  }

  /** Mask of every platform declared so far. */
  allPlatformsMask(): number {
    return this.platforms.reduce((m, p) => (m | p.compatibilityMask) >>> 0, 0);
  }

  maskOf(platformType: PlatformTypeName): number {
    const p = this.platforms.find((x) => x.platformType === platformType);
    return p ? p.compatibilityMask : fail('InvalidCompatibilityMask', `platform ${platformType} is not declared`);
  }

  private resolveMask(mask: number | undefined): number {
    const all = this.allPlatformsMask();
    if (all === 0) fail('NoPlatformHeaders', 'declare a platform before adding headers that apply to one');
    const m = mask ?? all;
    if (m === 0 || (m & ~all) !== 0) fail('InvalidCompatibilityMask', `mask ${hex(m)} names platforms that are not declared (declared: ${hex(all)})`);
    return m;
  }

  private check(header: PlatformHeader | InitializationHeader | DirectiveHeader): void {
    validateHeader(header, (code, detail) => fail(code, `${header.type}: ${detail}`));
  }

  /**
   * Load `data` at `gpa` (4 KiB aligned), split into 4 KiB pages; a short last page is zero-padded.
   * All-zero pages are written as zero pages (no file data).
   */
  addPageData(gpa: bigint, data: Uint8Array, options: PageDataOptions = {}): this {
    if (gpa % PAGE !== 0n) fail('UnalignedAddress', `page data gpa ${hex(gpa)} is not 4 KiB aligned`);
    const pages = Math.max(1, Math.ceil(data.length / PAGE_SIZE_4K));
    for (let i = 0; i < pages; i++) {
      const chunk = data.subarray(i * PAGE_SIZE_4K, (i + 1) * PAGE_SIZE_4K);
      this.addPage(gpa + BigInt(i) * PAGE, isAllZero(chunk) ? new Uint8Array(0) : chunk, options);
    }
    return this;
  }

  /** `size` bytes (a multiple of 4 KiB) of zero pages at `gpa`. */
  addZeroPages(gpa: bigint, size: bigint, options: PageDataOptions = {}): this {
    if (gpa % PAGE !== 0n || size % PAGE !== 0n) fail('UnalignedSize', `zero range ${hex(gpa)}+${hex(size)} is not 4 KiB aligned`);
    for (let at = gpa; at < gpa + size; at += PAGE) this.addPage(at, new Uint8Array(0), options);
    return this;
  }

  private addPage(gpa: bigint, data: Uint8Array, options: PageDataOptions): void {
    const mask = this.resolveMask(options.mask);
    const prior = this.loadedPages.get(gpa) ?? 0;
    if ((prior & mask) !== 0) fail('InvalidModel', `page ${hex(gpa)} is already loaded for mask ${hex(prior & mask)}`);
    this.loadedPages.set(gpa, prior | mask);
    const flags: PageDataFlagsValue = {
      is2mbPage: false,
      unmeasured: options.unmeasured ?? false,
      shared: options.shared ?? false,
      reserved: 0,
    };
    this.pushDirective({ type: 'PAGE_DATA', gpa, compatibilityMask: mask, flags, dataType: options.dataType ?? 'NORMAL', data });
  }

  /** Declare a parameter area of `size` bytes (a multiple of 4 KiB); returns its index. */
  addParameterArea(size: bigint, options: { index?: number; initialData?: Uint8Array } = {}): number {
    const index = options.index ?? this.nextAreaIndex();
    if (this.areas.has(index)) fail('InvalidParameterAreaIndex', `parameter area ${index} is already declared`);
    this.pushDirective({
      type: 'PARAMETER_AREA',
      numberOfBytes: size,
      parameterAreaIndex: index,
      initialData: options.initialData ?? new Uint8Array(0),
    });
    this.areas.set(index, { size, inserted: false });
    return index;
  }

  private nextAreaIndex(): number {
    let i = 0;
    while (this.areas.has(i)) i++;
    return i;
  }

  private liveArea(index: number, what: string): { size: bigint; inserted: boolean } {
    const area = this.areas.get(index);
    if (!area) fail('InvalidParameterAreaIndex', `${what}: parameter area ${index} is not declared`);
    if (area.inserted) fail('InvalidParameterAreaIndex', `${what}: parameter area ${index} was already inserted`);
    return area;
  }

  /** Ask the loader to write a parameter (VP count, memory map, ...) at `byteOffset` in an area. */
  addParameter(type: ParameterUsageType, parameterAreaIndex: number, byteOffset = 0): this {
    const area = this.liveArea(parameterAreaIndex, type);
    if (BigInt(byteOffset) >= area.size) {
      fail('InvalidModel', `${type}: byte_offset ${hex(byteOffset)} is outside parameter area ${parameterAreaIndex} (${hex(area.size)} bytes)`);
    }
    this.pushDirective({ type, parameterAreaIndex, byteOffset });
    return this;
  }

  /** Import the parameter area at `gpa`; the area can take no parameters afterwards. */
  addParameterInsert(parameterAreaIndex: number, gpa: bigint, mask?: number): this {
    const area = this.liveArea(parameterAreaIndex, 'PARAMETER_INSERT');
    this.pushDirective({ type: 'PARAMETER_INSERT', gpa, compatibilityMask: this.resolveMask(mask), parameterAreaIndex });
    area.inserted = true;
    return this;
  }

  addRequiredMemory(gpa: bigint, size: number, options: { mask?: number; vtl2Protectable?: boolean } = {}): this {
    this.pushDirective({
      type: 'REQUIRED_MEMORY',
      gpa,
      compatibilityMask: this.resolveMask(options.mask),
      numberOfBytes: size,
      vtl2Protectable: options.vtl2Protectable ?? false,
      reservedFlags: 0,
    });
    return this;
  }

  addGuestPolicy(policy: bigint, mask?: number): this {
    const header: InitializationHeader = { type: 'GUEST_POLICY', policy, compatibilityMask: this.resolveMask(mask) };
    this.check(header);
    this.initializations.push(header);
    return this;
  }

  addInitialization(header: InitializationHeader): this {
    this.check(header);
    this.initializations.push(header);
    return this;
  }

  /** The native x64 register state of `vpIndex` (the boot processor by default) on the NATIVE platform. */
  setNativeContext(registers: NativeVpContextX64Fields, vpIndex = 0): this {
    return this.addVpContext({ format: 'native-x64', registers }, { mask: this.maskOf('NATIVE'), vpIndex });
  }

  addVpContext(context: VpContext, options: { mask: number; vpIndex?: number; gpa?: bigint }): this {
    const mask = this.resolveMask(options.mask);
    if (!this.platforms.some((p) => p.compatibilityMask === mask)) {
      fail('InvalidVpContextPlatformType', `a VP context mask must name exactly one platform, got ${hex(mask)}`);
    }
    const vpIndex = options.vpIndex ?? 0;
    const duplicate = this.directives.some(
      (d) => d.type === 'VP_CONTEXT' && d.compatibilityMask === mask && d.vpIndex === vpIndex,
    );
    if (duplicate) fail('InvalidModel', `a VP context for vp_index ${vpIndex} and mask ${hex(mask)} is already set`);
    this.pushDirective({ type: 'VP_CONTEXT', compatibilityMask: mask, vpIndex, gpa: options.gpa ?? 0n, context });
    return this;
  }

  /** Any other directive, checked like the rest. */
  addDirective(header: DirectiveHeader): this {
    this.pushDirective(header);
    return this;
  }

  private pushDirective(header: DirectiveHeader): void {
    this.check(header);
    this.directives.push(header);
  }

  /** The finished, validated model. */
  build(): IgvmFile {
    const file: IgvmFile = {
      revision: this.revision,
      platforms: [...this.platforms],
      initializations: [...this.initializations],
      directives: [...this.directives],
    };
    validateFile(file, modelLocator(file));
    const hasFileData = file.directives.some(
      (d) => (d.type === 'PAGE_DATA' && d.data.length > 0) || (d.type === 'PARAMETER_AREA' && d.initialData.length > 0) || d.type === 'VP_CONTEXT',
    ) || file.initializations.some((h) => (h.type === 'CORIM_DOCUMENT' || h.type === 'CORIM_SIGNATURE') && h.data.length > 0);
    if (!hasFileData) {
      fail('EmptyFileData', 'the file would have no file data (only zero pages); the reference parser rejects such files');
    }
    return file;
  }

  /** The finished file as bytes. */
  serialize(): Uint8Array {
    return serializeIgvm(this.build());
  }
}
