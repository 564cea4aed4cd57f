/**
 * Loader compatibility: what a given native-mode loader would refuse in a file, or load differently
 * from what the file asks for, found by reading the headers (no machine is needed). Three loaders:
 *
 * - `qemu-10.2`: QEMU 10.2's native IGVM mode (backends/igvm.c, target/i386/igvm.c), as measured
 *   against QEMU 10.2.2 by test/qemu/native.test.ts;
 * - `igvm-ts`: this project's loader (load.ts) and `igvm run`;
 * - `spec`: what the IGVM specification requires of a native-mode file.
 *
 * A warning names the header (its index among all headers, as `igvm inspect` numbers them) and
 * whether the loader `refuses` the file (stops with an error) or `mishandles` it (boots, but the
 * guest gets something other than what the file asks for). Either way the file fails on that loader.
 */
import { q35Layout } from '../arch/x86/q35-layout.js';
import type { HeaderTypeName } from '../format/constants.js';
import {
  maskOf,
  type DirectiveHeader,
  type IgvmFile,
  type IgvmHeader,
  type PageDataHeader,
  type ParsedIgvm,
} from '../format/model.js';
import { memoryMapCapacity } from './memory-map.js';

export const LOADER_NAMES = ['qemu-10.2', 'igvm-ts', 'spec'] as const;
export type LoaderName = (typeof LOADER_NAMES)[number];

export function isLoaderName(name: string): name is LoaderName {
  return (LOADER_NAMES as readonly string[]).includes(name);
}

export type CompatEffect = 'refuses' | 'mishandles';

export interface CompatWarning {
  readonly loader: LoaderName;
  readonly effect: CompatEffect;
  /** Index among all headers of the file; absent for file-level findings. */
  readonly headerIndex?: number;
  readonly headerType?: HeaderTypeName;
  readonly message: string;
}

/** `header #12 (MEMORY_MAP): qemu-10.2 mishandles it: …` */
export function formatCompatWarning(w: CompatWarning): string {
  const where = w.headerIndex === undefined ? 'file' : `header #${w.headerIndex}${w.headerType ? ` (${w.headerType})` : ''}`;
  return `${where}: ${w.loader} ${w.effect} it: ${w.message}`;
}

/** Header types QEMU 10.2 has a handler for; any other stops it, whatever the header's mask. */
const QEMU_10_2_TYPES: ReadonlySet<HeaderTypeName> = new Set<HeaderTypeName>([
  'SUPPORTED_PLATFORM',
  'GUEST_POLICY',
  'PAGE_DATA',
  'PARAMETER_AREA',
  'PARAMETER_INSERT',
  'VP_CONTEXT',
  'REQUIRED_MEMORY',
  'VP_COUNT_PARAMETER',
  'MEMORY_MAP',
  'ENVIRONMENT_INFO_PARAMETER',
  'SNP_ID_BLOCK',
]);

/** Parameters igvm-ts (like QEMU) cannot fill in native mode. */
const IGVM_TS_REFUSED_PARAMETERS: ReadonlySet<HeaderTypeName> = new Set<HeaderTypeName>(['SRAT', 'SLIT', 'PPTT', 'MMIO_RANGES', 'DEVICE_TREE']);

/** Non-RAM regions of QEMU 10.2's q35 that page data may not land in (measured). */
const QEMU_DEVICE_RANGES = [
  { name: 'I/O APIC', gpa: 0xfec0_0000n, size: 0x1000n },
  { name: 'local APIC (1 MiB)', gpa: 0xfee0_0000n, size: 0x10_0000n },
] as const;

/** The most e820 entries each loader's q35 machine has (QEMU: low RAM, KVM's range, high RAM, AMD's HyperTransport hole). */
const QEMU_MAX_E820 = 4;
const IGVM_TS_MAX_E820 = 3;
const MEMORY_MAP_ENTRY = 24;

const CR0_PG = 1n << 31n;
const CR4_PAE = 1n << 5n;
const EFER_LME = 1n << 8n;
const PAGE = 4096n;

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

interface AreaState {
  readonly size: bigint;
  inserted: boolean;
  memoryMapAt?: number;
  readonly otherOffsets: number[];
  overlapWarned?: boolean;
}

class Checker {
  readonly warnings: CompatWarning[] = [];
  readonly areas = new Map<number, AreaState>();
  /** GPAs of the page run QEMU has not written yet (it writes a run when the next one starts). */
  pendingRun = new Set<bigint>();
  lastPage: { header: PageDataHeader; index: number } | undefined;

  constructor(
    readonly loaders: ReadonlySet<LoaderName>,
    readonly nativeMask: number | undefined,
  ) {}

  warn(loader: LoaderName, effect: CompatEffect, message: string, headerIndex?: number, header?: IgvmHeader): void {
    if (!this.loaders.has(loader)) return;
    this.warnings.push({ loader, effect, message, ...(headerIndex === undefined ? {} : { headerIndex }), ...(header ? { headerType: header.type } : {}) });
  }

  applies(h: IgvmHeader): boolean {
    const mask = maskOf(h);
    return this.nativeMask !== undefined && (mask === undefined || (mask & this.nativeMask) !== 0);
  }
}

function overlaps(gpa: bigint, size: bigint, at: bigint, length: bigint): boolean {
  return gpa < at + length && at < gpa + size;
}

function checkMemoryRange(c: Checker, gpa: bigint, size: bigint, what: string, i: number, h: IgvmHeader): void {
  for (const d of QEMU_DEVICE_RANGES) {
    if (overlaps(gpa, size, d.gpa, d.size)) {
      c.warn('qemu-10.2', 'refuses', `${what} at ${hex(gpa)} (+${hex(size)}) overlaps QEMU's ${d.name} region at ${hex(d.gpa)}, which is not RAM`, i, h);
    }
  }
  for (const d of q35Layout(PAGE).devices) {
    if (overlaps(gpa, size, d.gpa, d.size)) {
      c.warn('igvm-ts', 'refuses', `${what} at ${hex(gpa)} (+${hex(size)}) overlaps igvm-ts's ${d.name} region at ${hex(d.gpa)}, which is not RAM`, i, h);
    }
  }
}

function checkPage(c: Checker, h: PageDataHeader, i: number): void {
  const size = h.flags.is2mbPage ? 2n << 20n : PAGE;
  checkMemoryRange(c, h.gpa, size, 'page data', i, h);
  const prev = c.lastPage;
  const continues =
    prev !== undefined &&
    prev.index + 1 === i &&
    prev.header.gpa + (prev.header.flags.is2mbPage ? 2n << 20n : PAGE) === h.gpa &&
    prev.header.compatibilityMask === h.compatibilityMask &&
    prev.header.dataType === h.dataType &&
    prev.header.flags.is2mbPage === h.flags.is2mbPage &&
    prev.header.flags.unmeasured === h.flags.unmeasured &&
    (prev.header.data.length === 0) === (h.data.length === 0);
  if (!continues) c.pendingRun = new Set();
  for (let at = h.gpa; at < h.gpa + size; at += PAGE) c.pendingRun.add(at);
  c.lastPage = { header: h, index: i };
}

/** The area a parameter or insert names, or undefined after warning that it cannot be used. */
function usableArea(c: Checker, areaIndex: number, i: number, h: IgvmHeader): AreaState | undefined {
  const area = c.areas.get(areaIndex);
  if (!area) {
    c.warn('qemu-10.2', 'mishandles', `parameter area ${areaIndex} is not declared before it: QEMU warns "No parameter area" and skips the header`, i, h);
    c.warn('igvm-ts', 'refuses', `parameter area ${areaIndex} is not declared before it`, i, h);
    c.warn('spec', 'refuses', `parameter area ${areaIndex} must be declared before it is used`, i, h);
    return undefined;
  }
  if (area.inserted) {
    c.warn('qemu-10.2', 'refuses', `parameter area ${areaIndex} was already inserted; QEMU then dereferences the freed area (a crash)`, i, h);
    c.warn('igvm-ts', 'refuses', `parameter area ${areaIndex} was already inserted`, i, h);
    c.warn('spec', 'refuses', `parameter area ${areaIndex} was already inserted: its index is no longer valid`, i, h);
    return undefined;
  }
  return area;
}

function checkDirective(c: Checker, h: DirectiveHeader, i: number): void {
  if (!QEMU_10_2_TYPES.has(h.type)) {
    const later = h.type === 'MADT' ? ' (MADT support came with QEMU 11.0)' : '';
    c.warn('qemu-10.2', 'refuses', `QEMU 10.2 has no handler for ${h.type} and stops ("Unknown header type")${later}`, i, h);
  }
  if (!c.applies(h)) return;
  switch (h.type) {
    case 'PAGE_DATA':
      return checkPage(c, h, i);
    case 'PARAMETER_AREA': {
      c.areas.set(h.parameterAreaIndex, { size: h.numberOfBytes, inserted: false, otherOffsets: [] });
      if (h.initialData.length > 0 && h.initialData.some((b) => b !== 0)) {
        c.warn('qemu-10.2', 'mishandles', `parameter area ${h.parameterAreaIndex} has initial contents (file_offset); QEMU ignores them and starts the area zeroed`, i, h);
      }
      return;
    }
    case 'PARAMETER_INSERT': {
      const area = usableArea(c, h.parameterAreaIndex, i, h);
      if (!area) return;
      area.inserted = true;
      checkMemoryRange(c, h.gpa, area.size, `parameter area ${h.parameterAreaIndex}`, i, h);
      for (let at = h.gpa; at < h.gpa + area.size; at += PAGE) {
        if (c.pendingRun.has(at)) {
          c.warn('qemu-10.2', 'mishandles', `the page data just before it covers ${hex(at)}: QEMU writes that page run after the insert, over the parameter area`, i, h);
          break;
        }
      }
      return;
    }
    case 'REQUIRED_MEMORY':
      return checkMemoryRange(c, h.gpa, BigInt(h.numberOfBytes), 'required memory', i, h);
    case 'VP_CONTEXT':
      return checkVpContext(c, h, i);
    case 'ERROR_RANGE':
    case 'SNP_ID_BLOCK':
    case 'VBS_MEASUREMENT':
      return;
    default:
      return checkParameter(c, h, i);
  }
}

function checkParameter(c: Checker, h: Extract<DirectiveHeader, { byteOffset: number }>, i: number): void {
  if (IGVM_TS_REFUSED_PARAMETERS.has(h.type)) c.warn('igvm-ts', 'refuses', `igvm-ts cannot fill a ${h.type} parameter in native mode`, i, h);
  const area = usableArea(c, h.parameterAreaIndex, i, h);
  if (!area) return;
  const offset = h.byteOffset;
  if (h.type === 'MEMORY_MAP') {
    if (offset !== 0) {
      c.warn('qemu-10.2', 'mishandles', `QEMU ignores byte_offset ${hex(offset)} and writes the memory map from offset 0 of parameter area ${h.parameterAreaIndex}`, i, h);
    }
    const capacity = memoryMapCapacity(Number(area.size), offset);
    if (capacity < IGVM_TS_MAX_E820) {
      c.warn('igvm-ts', 'refuses', `parameter area ${h.parameterAreaIndex} holds ${capacity} memory-map entries from byte_offset ${hex(offset)}; igvm-ts's map can have ${IGVM_TS_MAX_E820}`, i, h);
    }
    area.memoryMapAt = offset;
  } else {
    area.otherOffsets.push(offset);
    if ((h.type === 'VP_COUNT_PARAMETER' || h.type === 'ENVIRONMENT_INFO_PARAMETER') && BigInt(offset) + 4n > area.size) {
      c.warn('qemu-10.2', 'mishandles', `the 4-byte value at byte_offset ${hex(offset)} ends past parameter area ${h.parameterAreaIndex} (${hex(area.size)} bytes); QEMU writes it there unchecked`, i, h);
      c.warn('igvm-ts', 'refuses', `the 4-byte value at byte_offset ${hex(offset)} ends past parameter area ${h.parameterAreaIndex} (${hex(area.size)} bytes)`, i, h);
      c.warn('spec', 'refuses', `the 4-byte value at byte_offset ${hex(offset)} ends past parameter area ${h.parameterAreaIndex} (${hex(area.size)} bytes)`, i, h);
    }
  }
  const qemuMapEnd = (QEMU_MAX_E820 + 1) * MEMORY_MAP_ENTRY;
  if (area.memoryMapAt !== undefined && !area.overlapWarned && area.otherOffsets.some((o) => o < qemuMapEnd)) {
    area.overlapWarned = true;
    c.warn('qemu-10.2', 'mishandles', `parameter area ${h.parameterAreaIndex} also holds the memory map, which QEMU writes from offset 0 (up to ${hex(qemuMapEnd)} bytes): it overlaps a parameter at byte_offset ${hex(Math.min(...area.otherOffsets))}; give the memory map an area of its own`, i, h);
  }
}

function checkVpContext(c: Checker, h: Extract<DirectiveHeader, { type: 'VP_CONTEXT' }>, i: number): void {
  if (h.vpIndex !== 0) {
    c.warn('qemu-10.2', 'refuses', `QEMU loads a native context for the boot processor only ("context can be set for BSP only"), not vp_index ${h.vpIndex}`, i, h);
    c.warn('igvm-ts', 'refuses', `igvm-ts loads a native context for the boot processor only, not vp_index ${h.vpIndex}`, i, h);
  }
  if (h.gpa !== 0n) {
    c.warn('igvm-ts', 'refuses', `a native VP context must have gpa 0, not ${hex(h.gpa)}`, i, h);
    c.warn('spec', 'refuses', `a native VP context must have gpa 0, not ${hex(h.gpa)}`, i, h);
  }
  if (h.context.format !== 'native-x64') {
    c.warn('igvm-ts', 'refuses', `a ${h.context.format} context cannot be loaded in native mode`, i, h);
    return;
  }
  const r = h.context.registers;
  if (r.gsBase !== BigInt(r.dataBase)) {
    c.warn('qemu-10.2', 'mishandles', `QEMU ignores gs_base ${hex(r.gsBase)} and gives GS the data segment's base ${hex(r.dataBase)}`, i, h);
  }
  for (const [name, value] of [['CR0', r.cr0], ['CR4', r.cr4]] as const) {
    if (value >> 32n !== 0n) c.warn('qemu-10.2', 'mishandles', `QEMU loads ${name} through a 32-bit value: ${hex(value)} loses its high bits`, i, h);
  }
  if ((r.efer & EFER_LME) !== 0n && (r.cr0 & CR0_PG) !== 0n && (r.cr4 & CR4_PAE) === 0n) {
    c.warn('qemu-10.2', 'mishandles', `EFER.LME and CR0.PG without CR4.PAE: QEMU leaves CR0 at its reset value`, i, h);
  }
}

function headerIndexer(file: IgvmFile): (section: 'platforms' | 'initializations' | 'directives', i: number) => number {
  if ('locations' in file) {
    const parsed = file as ParsedIgvm;
    return (section, i) => parsed.locations[section][i]?.index ?? i;
  }
  const before = { platforms: 0, initializations: file.platforms.length, directives: file.platforms.length + file.initializations.length };
  return (section, i) => before[section] + i;
}

/** What the named loaders would refuse or mishandle in `file`, in header order. */
export function checkLoaderCompat(file: IgvmFile, loaders: readonly LoaderName[] = LOADER_NAMES): CompatWarning[] {
  const native = file.platforms.find((p) => p.platformType === 'NATIVE');
  const c = new Checker(new Set(loaders), native?.compatibilityMask);
  const index = headerIndexer(file);
  if (!native) {
    const has = file.platforms.map((p) => p.platformType).join(', ') || 'none';
    c.warn('qemu-10.2', 'refuses', `no NATIVE platform (the file has: ${has}): QEMU without a confidential-guest object finds no platform`);
    c.warn('igvm-ts', 'refuses', `no NATIVE platform (the file has: ${has})`);
  }
  file.initializations.forEach((h, i) => {
    if (!QEMU_10_2_TYPES.has(h.type)) {
      c.warn('qemu-10.2', 'refuses', `QEMU 10.2 has no handler for ${h.type} and stops ("Unknown header type")`, index('initializations', i), h);
    }
  });
  file.directives.forEach((h, i) => checkDirective(c, h, index('directives', i)));
  return c.warnings;
}

/** Whether any warning means the file fails on one of `loaders`. */
export function failsOn(warnings: readonly CompatWarning[], loaders: readonly LoaderName[]): boolean {
  return warnings.some((w) => loaders.includes(w.loader));
}
