/**
 * loadIgvm: process a parsed IGVM file against a GuestMachine with QEMU's native-mode semantics
 * (backends/igvm.c, target/i386/igvm.c), as a table of small handlers, one per header type.
 * Directives run in file order, then initialization headers, as in QEMU. Where QEMU has a known bug
 * or omission this loader does what the spec says; the README lists each difference.
 */
import { applyNativeContext, InvalidContextError, resetState, type BootCpuState } from '../arch/x86/boot-state.js';
import {
  maskOf,
  type DirectiveHeader,
  type IgvmFile,
  type IgvmHeader,
  type InitializationHeader,
  type PageDataHeader,
  type ParameterUsageHeader,
  type ParsedIgvm,
} from '../format/model.js';
import { LoadError, type LoadErrorCode } from './errors.js';
import { buildMadt } from './madt.js';
import type { GuestMachine } from './machine.js';
import { encodeMemoryMap, memoryMapCapacity, memoryMapEntries } from './memory-map.js';
import { bootCpuJson, hex, type LoadReport, type ParameterAreaReport, type ParameterValue } from './report.js';

export interface LoadOptions {
  /** Kernel command line for COMMAND_LINE parameters (QEMU has no equivalent). */
  readonly cmdline?: string;
  /** CPUID.1:EAX, left in EDX by a reset (when the file has no VP context). */
  readonly cpuidVersion?: number;
}

const PAGE_4K = 4096n;
const PAGE_2M = 2n * 1024n * 1024n;

interface ParameterArea {
  readonly index: number;
  readonly size: number;
  data: Uint8Array | undefined; // undefined once inserted
  readonly report: ParameterAreaReport;
}

/** State of one load: everything QEMU keeps in its QIgvm context. */
class LoadContext {
  readonly areas = new Map<number, ParameterArea>();
  bootCpu: BootCpuState | undefined;
  bootContextIndex: number | undefined;
  readonly report: LoadReport;

  constructor(
    readonly file: IgvmFile,
    readonly machine: GuestMachine,
    readonly mask: number,
    readonly options: LoadOptions,
    private readonly headerIndexOf: (section: 'initializations' | 'directives', i: number) => number,
  ) {
    this.report = {
      platform: { type: 'NATIVE', compatibilityMask: hex(mask) },
      machine: {
        vcpus: machine.vcpuCount,
        e820: machine.e820.map((e) => ({ gpa: hex(e.gpa), size: hex(e.size), type: e.type })),
      },
      writes: [],
      createdRam: [],
      requiredMemory: [],
      parameterAreas: [],
      skipped: [],
      warnings: [],
    };
  }

  index(section: 'initializations' | 'directives', i: number): number {
    return this.headerIndexOf(section, i);
  }

  fail(code: LoadErrorCode, detail: string, headerIndex?: number, header?: IgvmHeader): never {
    throw new LoadError(code, detail, headerIndex, header?.type);
  }

  applies(header: IgvmHeader): boolean {
    const mask = maskOf(header);
    return mask === undefined || (mask & this.mask) !== 0;
  }

  /** QEMU's qigvm_prepare_memory: RAM must cover the range, or nothing may be there (RAM is created). */
  prepareMemory(gpa: bigint, size: bigint, headerIndex: number, header: IgvmHeader, reason: string): void {
    const probe = this.machine.probe(gpa, size);
    switch (probe.kind) {
      case 'ram':
        return;
      case 'device':
        this.fail('NonRamRegion', `could not prepare memory at ${hex(gpa)} (+${hex(size)}): it overlaps the ${probe.name} region, which is not RAM`, headerIndex, header);
      case 'partial':
        this.fail('RegionSizeExceeded', `could not prepare memory at ${hex(gpa)} (+${hex(size)}): RAM covers only part of the range`, headerIndex, header);
      case 'unmapped': {
        const name = `igvm.${headerIndex.toString(16)}`;
        this.machine.addRam(gpa, size, name);
        this.report.createdRam.push({ name, gpa: hex(gpa), size: hex(size), reason });
      }
    }
  }

  area(index: number, headerIndex: number, header: IgvmHeader): ParameterArea {
    const area = this.areas.get(index);
    if (!area) this.fail('UnknownParameterArea', `parameter area ${index} is not declared`, headerIndex, header);
    if (!area.data) {
      this.fail('ParameterAreaInserted', `parameter area ${index} was already inserted at ${area.report.insertedAt}; it cannot take parameters any more`, headerIndex, header);
    }
    return area;
  }
}

type Handler<H> = (ctx: LoadContext, header: H, headerIndex: number) => void;

// ---- page data ----

function pageSizeOf(h: PageDataHeader): bigint {
  return h.flags.is2mbPage ? PAGE_2M : PAGE_4K;
}

function sameRun(a: PageDataHeader, b: PageDataHeader): boolean {
  return (
    a.compatibilityMask === b.compatibilityMask &&
    a.dataType === b.dataType &&
    a.flags.is2mbPage === b.flags.is2mbPage &&
    a.flags.unmeasured === b.flags.unmeasured &&
    a.flags.shared === b.flags.shared &&
    a.flags.reserved === b.flags.reserved &&
    (a.data.length === 0) === (b.data.length === 0) &&
    a.gpa + pageSizeOf(a) === b.gpa
  );
}

/**
 * A run of consecutive PAGE_DATA headers that QEMU loads as one region (same attributes, contiguous
 * GPAs, adjacent in the file). Memory for the whole run is prepared at once, so created RAM regions
 * match QEMU's; pages are written in file order.
 */
function loadPageRun(ctx: LoadContext, run: readonly PageDataHeader[], first: number, last: number): void {
  const head = run[0]!;
  const pageSize = pageSizeOf(head);
  const size = pageSize * BigInt(run.length);
  ctx.prepareMemory(head.gpa, size, first, head, `page data of headers #${first}..#${last}`);
  for (const page of run) {
    ctx.machine.zero(page.gpa, pageSize);
    if (page.data.length > 0) ctx.machine.write(page.gpa, page.data);
  }
  ctx.report.writes.push({
    kind: head.data.length === 0 ? 'zero-pages' : 'page-data',
    gpa: hex(head.gpa),
    size: hex(size),
    pages: run.length,
    pageSize: Number(pageSize),
    headers: [first, last],
  });
}

// ---- parameters ----

function checkBounds(ctx: LoadContext, area: ParameterArea, byteOffset: number, length: number, header: IgvmHeader, headerIndex: number): void {
  if (byteOffset + length > area.size) {
    ctx.fail(
      'ParameterOutOfBounds',
      `${header.type} needs ${length} bytes at byte_offset ${hex(byteOffset)}, but parameter area ${area.index} holds ${hex(area.size)} bytes`,
      headerIndex,
      header,
    );
  }
}

function writeU32(area: ParameterArea, byteOffset: number, value: number): void {
  new DataView(area.data!.buffer, area.data!.byteOffset).setUint32(byteOffset, value, true);
}

const parameterHandlers: Partial<Record<ParameterUsageHeader['type'], Handler<ParameterUsageHeader>>> = {
  VP_COUNT_PARAMETER(ctx, h, i) {
    const area = ctx.area(h.parameterAreaIndex, i, h);
    checkBounds(ctx, area, h.byteOffset, 4, h, i);
    writeU32(area, h.byteOffset, ctx.machine.vcpuCount);
    record(area, { type: 'VP_COUNT_PARAMETER', byteOffset: h.byteOffset, vpCount: ctx.machine.vcpuCount });
  },
  ENVIRONMENT_INFO_PARAMETER(ctx, h, i) {
    const area = ctx.area(h.parameterAreaIndex, i, h);
    checkBounds(ctx, area, h.byteOffset, 4, h, i);
    // As QEMU: memory_is_shared = 1 (in native mode all memory is host-visible).
    writeU32(area, h.byteOffset, 1);
    record(area, { type: 'ENVIRONMENT_INFO_PARAMETER', byteOffset: h.byteOffset, memoryIsShared: true });
  },
  MEMORY_MAP(ctx, h, i) {
    const area = ctx.area(h.parameterAreaIndex, i, h);
    const entries = memoryMapEntries(ctx.machine.e820);
    const capacity = memoryMapCapacity(area.size, h.byteOffset);
    if (entries.length > capacity) {
      ctx.fail(
        'MemoryMapTooSmall',
        `memory map has ${entries.length} entries, parameter area ${area.index} holds ${capacity} (at byte_offset ${hex(h.byteOffset)})`,
        i,
        h,
      );
    }
    area.data!.set(encodeMemoryMap(entries, capacity), h.byteOffset);
    record(area, {
      type: 'MEMORY_MAP',
      byteOffset: h.byteOffset,
      capacity,
      entries: entries.map((e) => ({
        gpa: hex(e.startingGpaPageNumber << 12n),
        size: hex(e.numberOfPages << 12n),
        type: e.entryType,
      })),
    });
  },
  COMMAND_LINE(ctx, h, i) {
    const area = ctx.area(h.parameterAreaIndex, i, h);
    const text = ctx.options.cmdline ?? '';
    const bytes = new TextEncoder().encode(text);
    if (h.byteOffset + bytes.length + 1 > area.size) {
      ctx.fail(
        'CommandLineTooLong',
        `command line of ${bytes.length} bytes (+1 NUL) does not fit parameter area ${area.index} at byte_offset ${hex(h.byteOffset)} (${hex(area.size)} bytes)`,
        i,
        h,
      );
    }
    area.data!.set(bytes, h.byteOffset);
    area.data![h.byteOffset + bytes.length] = 0;
    record(area, { type: 'COMMAND_LINE', byteOffset: h.byteOffset, commandLine: text });
  },
  MADT(ctx, h, i) {
    const area = ctx.area(h.parameterAreaIndex, i, h);
    const madt = buildMadt(ctx.machine.vcpuCount);
    if (h.byteOffset + madt.length > area.size) {
      ctx.fail('MadtTooSmall', `MADT of ${madt.length} bytes does not fit parameter area ${area.index} at byte_offset ${hex(h.byteOffset)} (${hex(area.size)} bytes)`, i, h);
    }
    area.data!.set(madt, h.byteOffset);
    record(area, { type: 'MADT', byteOffset: h.byteOffset, length: madt.length, vcpus: ctx.machine.vcpuCount });
  },
};

function record(area: ParameterArea, value: ParameterValue): void {
  area.report.parameters.push(value);
}

// ---- directive handlers ----

const directiveHandlers: { [T in DirectiveHeader['type']]?: Handler<Extract<DirectiveHeader, { type: T }>> } = {
  PARAMETER_AREA(ctx, h, i) {
    const ramTotal = ctx.machine.e820.reduce((s, e) => (e.type === 'ram' ? s + e.size : s), 0n);
    if (h.numberOfBytes > ramTotal) {
      ctx.fail('ParameterOutOfBounds', `parameter area ${h.parameterAreaIndex} of ${hex(h.numberOfBytes)} bytes is larger than guest RAM (${hex(ramTotal)})`, i, h);
    }
    const size = Number(h.numberOfBytes);
    const data = new Uint8Array(size);
    // The spec: a file_offset gives the area's initial contents (QEMU ignores it and starts from zeros).
    data.set(h.initialData.subarray(0, size));
    const report: ParameterAreaReport = { index: h.parameterAreaIndex, size: hex(size), initialData: h.initialData.length > 0, parameters: [] };
    ctx.areas.set(h.parameterAreaIndex, { index: h.parameterAreaIndex, size, data, report });
    ctx.report.parameterAreas.push(report);
  },
  PARAMETER_INSERT(ctx, h, i) {
    const area = ctx.area(h.parameterAreaIndex, i, h);
    const size = BigInt(area.size);
    ctx.prepareMemory(h.gpa, size, i, h, `parameter area ${area.index} insert`);
    ctx.machine.write(h.gpa, area.data!);
    area.data = undefined;
    area.report.insertedAt = hex(h.gpa);
    ctx.report.writes.push({ kind: 'parameter-area', gpa: hex(h.gpa), size: hex(size), headers: [i, i] });
  },
  REQUIRED_MEMORY(ctx, h, i) {
    ctx.prepareMemory(h.gpa, BigInt(h.numberOfBytes), i, h, 'required memory');
    ctx.report.requiredMemory.push({ gpa: hex(h.gpa), size: hex(h.numberOfBytes), headerIndex: i });
  },
  VP_CONTEXT(ctx, h, i) {
    const context = h.context;
    if (context.format !== 'native-x64') {
      return ctx.fail('VpContextFormat', `a ${context.format} VP context cannot be loaded in native mode`, i, h);
    }
    if (h.vpIndex !== 0) {
      ctx.fail('VpContextNotBsp', `native VP context can be set for the boot processor only (vp_index ${h.vpIndex})`, i, h);
    }
    if (h.gpa !== 0n) ctx.fail('VpContextGpa', `native VP context gpa must be 0, is ${hex(h.gpa)}`, i, h);
    if (ctx.bootContextIndex !== undefined) {
      ctx.report.warnings.push(`header #${i}: a second native VP context for vp_index 0 replaces the one of header #${ctx.bootContextIndex}`);
    }
    try {
      ctx.bootCpu = applyNativeContext(resetState(ctx.options.cpuidVersion), context.registers);
    } catch (e) {
      if (e instanceof InvalidContextError) ctx.fail('InvalidContext', e.message, i, h);
      throw e;
    }
    ctx.bootContextIndex = i;
  },
};

const UNSUPPORTED_PARAMETERS = new Set(['SRAT', 'SLIT', 'PPTT', 'MMIO_RANGES', 'DEVICE_TREE']);

function runDirective(ctx: LoadContext, h: DirectiveHeader, i: number): void {
  if (!ctx.applies(h)) return;
  const handler = (directiveHandlers as Record<string, Handler<DirectiveHeader> | undefined>)[h.type];
  if (handler) return handler(ctx, h, i);
  const parameter = (parameterHandlers as Record<string, Handler<DirectiveHeader> | undefined>)[h.type];
  if (parameter) return parameter(ctx, h, i);
  if (UNSUPPORTED_PARAMETERS.has(h.type)) {
    ctx.fail('UnsupportedParameter', `the ${h.type} parameter is not supported in native mode (QEMU rejects it too)`, i, h);
  }
  ctx.report.skipped.push({ headerIndex: i, type: h.type, reason: 'has no meaning in native mode' });
}

function runInitialization(ctx: LoadContext, h: InitializationHeader, i: number): void {
  if (!ctx.applies(h)) return;
  const reason =
    h.type === 'RELOCATABLE_REGION' || h.type === 'PAGE_TABLE_RELOCATION_REGION'
      ? 'relocation is optional: loaded at the preferred address'
      : 'has no meaning in native mode';
  ctx.report.skipped.push({ headerIndex: i, type: h.type, reason });
}

function isParsed(file: IgvmFile): file is ParsedIgvm {
  return 'locations' in file;
}

export interface LoadResult {
  readonly report: LoadReport;
  readonly bootCpu: BootCpuState;
}

/** Load `file` into `machine` in native mode. Throws LoadError (or InvalidContextError's wrapper) on failure. */
export function loadIgvm(file: IgvmFile, machine: GuestMachine, options: LoadOptions = {}): LoadResult {
  const native = file.platforms.find((p) => p.platformType === 'NATIVE');
  if (!native) {
    const has = file.platforms.map((p) => p.platformType).join(', ') || 'none';
    throw new LoadError('NoNativePlatform', `the file has no NATIVE platform (it has: ${has}); igvm-ts loads native-mode files only`);
  }
  const headerIndexOf = isParsed(file)
    ? (section: 'initializations' | 'directives', i: number) => file.locations[section][i]?.index ?? i
    : (section: 'initializations' | 'directives', i: number) => (section === 'directives' ? file.platforms.length + file.initializations.length + i : file.platforms.length + i);
  const ctx = new LoadContext(file, machine, native.compatibilityMask, options, headerIndexOf);

  const directives = file.directives;
  for (let i = 0; i < directives.length; ) {
    const h = directives[i]!;
    if (h.type === 'PAGE_DATA' && ctx.applies(h)) {
      const run: PageDataHeader[] = [h];
      let j = i + 1;
      while (j < directives.length) {
        const next = directives[j]!;
        if (next.type !== 'PAGE_DATA' || !sameRun(run[run.length - 1]!, next)) break;
        run.push(next);
        j++;
      }
      loadPageRun(ctx, run, ctx.index('directives', i), ctx.index('directives', j - 1));
      i = j;
      continue;
    }
    runDirective(ctx, h, ctx.index('directives', i));
    i++;
  }
  file.initializations.forEach((h, i) => runInitialization(ctx, h, ctx.index('initializations', i)));

  const bootCpu = ctx.bootCpu ?? resetState(options.cpuidVersion);
  machine.setBootCpuState(bootCpu);
  ctx.report.bootCpu = bootCpuJson(bootCpu);
  return { report: ctx.report, bootCpu };
}

