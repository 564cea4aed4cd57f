/**
 * IgvmNativeVpContextX64: the start state of the boot processor of a native (non-confidential) x64 VM.
 * QEMU loads it in the order EFER, CR4, CR0, CR3, CS, DS/ES/FS/GS/SS, GDTR/IDTR, GPRs, RIP/RFLAGS;
 * registers the struct does not cover (TR, LDTR, MSRs other than EFER) keep their reset values.
 */

import { PAGE_SIZE_4K } from '../../format/constants.js';
import { NativeVpContextX64, type NativeVpContextX64Fields } from '../../format/structs.js';
import {
  decodeSegmentAttributes,
  describeSegmentType,
  validateAttributeWord,
  type SegmentAttributes,
} from './segment.js';

export type { NativeVpContextX64Fields };

export const NATIVE_CONTEXT_SIZE = NativeVpContextX64.size;

export const CR0 = {
  PE: 1n << 0n,
  MP: 1n << 1n,
  ET: 1n << 4n,
  NE: 1n << 5n,
  WP: 1n << 16n,
  PG: 1n << 31n,
} as const;
export const CR4 = { PAE: 1n << 5n, LA57: 1n << 12n } as const;
export const EFER = { LME: 1n << 8n, LMA: 1n << 10n } as const;

/** RFLAGS bit 1 is reserved and always 1. */
const RFLAGS_INITIAL = 0x2n;
const FLAT_LIMIT = 0xffff_ffff;
const FLAT_CODE32_ATTRIBUTES = 0xc09b; // G, D/B, P, S, type 0xb (execute/read, accessed)
const CODE64_ATTRIBUTES = 0xa09b; // G, L, P, S, type 0xb
const FLAT_DATA_ATTRIBUTES = 0xc093; // G, D/B, P, S, type 0x3 (read/write, accessed)
const FOUR_GIB = 1n << 32n;

// ---- bytes ----

/** Decode the 232-byte struct at the start of `bytes` (the 4096-byte page form is accepted too). */
export function decodeNativeContext(bytes: Uint8Array): NativeVpContextX64Fields {
  return NativeVpContextX64.read(bytes);
}

/** Encode to the 232-byte struct. */
export function encodeNativeContext(fields: NativeVpContextX64Fields): Uint8Array {
  return NativeVpContextX64.encode(fields);
}

/** Encode to the form stored in an IGVM file: one 4 KiB page, the struct followed by zeros. */
export function toContextPage(fields: NativeVpContextX64Fields): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE_4K);
  NativeVpContextX64.write(fields, page, 0);
  return page;
}

// ---- decoded view ----

export type EntryMode = 'real16' | 'protected32' | 'compat32' | 'long64';

const GPR_NAMES = [
  'rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
] as const;
export type GprName = (typeof GPR_NAMES)[number];

export interface SegmentView {
  selector: number;
  base: number;
  limit: number;
  /** The raw 16-bit attribute word. */
  attributes: number;
  decoded: SegmentAttributes;
  /** describeSegmentType of the decoded type. */
  typeName: string;
}

export interface DescriptorTableView {
  base: bigint;
  limit: number;
}

export interface NativeContextView {
  mode: EntryMode;
  gprs: Record<GprName, bigint>;
  rip: bigint;
  rflags: bigint;
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  gdtr: DescriptorTableView;
  idtr: DescriptorTableView;
  cs: SegmentView;
  /** Loaded into DS, ES, FS, GS and SS. */
  data: SegmentView;
  gsBase: bigint;
}

function has(value: bigint, bit: bigint): boolean {
  return (value & bit) !== 0n;
}

/**
 * Long mode is active when EFER.LME, CR0.PG and CR4.PAE are all set. EFER.LMA is only a status bit:
 * QEMU and KVM derive it, so a context may leave it clear.
 */
export function isLongModeEnabled(fields: NativeVpContextX64Fields): boolean {
  return has(fields.efer, EFER.LME) && has(fields.cr0, CR0.PG) && has(fields.cr4, CR4.PAE);
}

export function entryModeOf(fields: NativeVpContextX64Fields): EntryMode {
  if (!has(fields.cr0, CR0.PE)) return 'real16';
  if (!isLongModeEnabled(fields)) return 'protected32';
  return decodeSegmentAttributes(fields.codeAttributes).long ? 'long64' : 'compat32';
}

function segmentView(selector: number, base: number, limit: number, attributes: number, longMode: boolean): SegmentView {
  const decoded = decodeSegmentAttributes(attributes);
  return { selector, base, limit, attributes, decoded, typeName: describeSegmentType(decoded.type, decoded.s, longMode) };
}

export function describeNativeContext(fields: NativeVpContextX64Fields): NativeContextView {
  const longMode = isLongModeEnabled(fields);
  const gprs = Object.fromEntries(GPR_NAMES.map((name) => [name, fields[name]])) as Record<GprName, bigint>;
  return {
    mode: entryModeOf(fields),
    gprs,
    rip: fields.rip,
    rflags: fields.rflags,
    cr0: fields.cr0,
    cr3: fields.cr3,
    cr4: fields.cr4,
    efer: fields.efer,
    gdtr: { base: fields.gdtrBase, limit: fields.gdtrLimit },
    idtr: { base: fields.idtrBase, limit: fields.idtrLimit },
    cs: segmentView(fields.codeSelector, fields.codeBase, fields.codeLimit, fields.codeAttributes, longMode),
    data: segmentView(fields.dataSelector, fields.dataBase, fields.dataLimit, fields.dataAttributes, longMode),
    gsBase: fields.gsBase,
  };
}

// ---- presets ----

function zeroContext(): NativeVpContextX64Fields {
  return NativeVpContextX64.read(new Uint8Array(NativeVpContextX64.size));
}

/** The architectural x86 reset state (Intel SDM vol. 3 §10.1.1, QEMU x86_cpu_reset_hold), RDX = 0. */
export function realModeResetContext(): NativeVpContextX64Fields {
  return {
    ...zeroContext(),
    rip: 0xfff0n,
    rflags: RFLAGS_INITIAL,
    cr0: 0x6000_0010n, // CD | NW | ET
    codeSelector: 0xf000,
    codeBase: 0xffff_0000,
    codeLimit: 0xffff,
    codeAttributes: 0x9b,
    dataSelector: 0,
    dataBase: 0,
    dataLimit: 0xffff,
    dataAttributes: 0x93,
    gdtrLimit: 0xffff,
    idtrLimit: 0xffff,
  };
}

export interface FlatContextOptions {
  entry: bigint;
  /** Initial RSP; 0 when omitted. */
  stack?: bigint;
  gdtrBase: bigint;
  gdtrLimit: number;
  /** Default 0x08. */
  codeSelector?: number;
  /** Default 0x10. */
  dataSelector?: number;
}

export interface LongModeContextOptions extends FlatContextOptions {
  cr3: bigint;
  /** Initial RSI, e.g. a boot_params pointer for the Linux 64-bit boot protocol. */
  rsi?: bigint;
}

function throwIfInvalid(fields: NativeVpContextX64Fields): NativeVpContextX64Fields {
  const problems = checkNativeContext(fields);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  return fields;
}

/** Flat-segment context shared by the protected- and long-mode presets. IDTR is empty (base 0, limit 0). */
function flatContext(options: FlatContextOptions, codeAttributes: number): NativeVpContextX64Fields {
  return {
    ...zeroContext(),
    rip: options.entry,
    rsp: options.stack ?? 0n,
    rflags: RFLAGS_INITIAL,
    gdtrBase: options.gdtrBase,
    gdtrLimit: options.gdtrLimit,
    codeSelector: options.codeSelector ?? 0x08,
    codeAttributes,
    codeBase: 0,
    codeLimit: FLAT_LIMIT,
    dataSelector: options.dataSelector ?? 0x10,
    dataAttributes: FLAT_DATA_ATTRIBUTES,
    dataBase: 0,
    dataLimit: FLAT_LIMIT,
  };
}

/** 32-bit protected mode, paging off, flat 4 GiB code and data segments. CR0 = PE | ET. */
export function protectedMode32Context(options: FlatContextOptions): NativeVpContextX64Fields {
  return throwIfInvalid({ ...flatContext(options, FLAT_CODE32_ATTRIBUTES), cr0: CR0.PE | CR0.ET });
}

/**
 * CR0 for the long-mode preset: PE | MP | ET | NE | WP | PG (0x80010033), the bits a 64-bit kernel runs with:
 * NE for native x87 error reporting (MP goes with it) and WP so that supervisor writes honour read-only pages.
 */
export const LONG_MODE_CR0 = CR0.PE | CR0.MP | CR0.ET | CR0.NE | CR0.WP | CR0.PG;

/**
 * 64-bit mode with 4-level paging rooted at `cr3`: CS L=1, flat data segments, CR0 = LONG_MODE_CR0,
 * CR4 = PAE only, EFER = LME | LMA.
 */
export function longMode64Context(options: LongModeContextOptions): NativeVpContextX64Fields {
  return throwIfInvalid({
    ...flatContext(options, CODE64_ATTRIBUTES),
    rsi: options.rsi ?? 0n,
    cr0: LONG_MODE_CR0,
    cr3: options.cr3,
    cr4: CR4.PAE,
    efer: EFER.LME | EFER.LMA,
  });
}

// ---- consistency checks ----

function hex(value: bigint | number): string {
  return `0x${value.toString(16)}`;
}

function isCanonical(address: bigint, linearBits: bigint): boolean {
  const top = address >> (linearBits - 1n);
  return top === 0n || top === (1n << (65n - linearBits)) - 1n;
}

/**
 * Problems that KVM would refuse (kvm_is_valid_sregs, VM-entry guest-state checks) or that make no sense.
 * An empty list means none were found.
 */
export function checkNativeContext(fields: NativeVpContextX64Fields): string[] {
  const problems: string[] = [];
  const { cr0, cr4, efer, rip } = fields;
  const lmeAndPg = has(efer, EFER.LME) && has(cr0, CR0.PG);

  if (has(cr0, CR0.PG) && !has(cr0, CR0.PE)) {
    problems.push(`CR0 ${hex(cr0)} sets PG without PE: paging requires protected mode`);
  }
  if (lmeAndPg && !has(cr4, CR4.PAE)) {
    problems.push(
      `EFER ${hex(efer)} sets LME and CR0 ${hex(cr0)} sets PG, but CR4 ${hex(cr4)} lacks PAE: long mode requires PAE paging`,
    );
  }
  if (has(efer, EFER.LMA) && !lmeAndPg) {
    problems.push(`EFER ${hex(efer)} sets LMA, but LMA needs EFER.LME and CR0.PG (CR0 ${hex(cr0)})`);
  }
  if (decodeSegmentAttributes(fields.codeAttributes).long && !lmeAndPg) {
    problems.push(
      `CS attributes ${hex(fields.codeAttributes)} set L (64-bit code), but long mode is not enabled ` +
        `(EFER ${hex(efer)}, CR0 ${hex(cr0)}): 64-bit code needs EFER.LME and CR0.PG`,
    );
  }

  const mode = entryModeOf(fields);
  if (mode === 'long64') {
    const linearBits = has(cr4, CR4.LA57) ? 57n : 48n;
    if (!isCanonical(rip, linearBits)) {
      problems.push(
        `RIP ${hex(rip)} is not canonical: in 64-bit mode bits 63:${linearBits - 1n} must all be equal`,
      );
    }
  } else if (rip >= FOUR_GIB) {
    // VM entry requires RIP[63:32] = 0 unless CS.L = 1 in long mode, so compatibility mode counts here too.
    problems.push(`RIP ${hex(rip)} is above 4 GiB, but the context starts in ${mode} mode, not 64-bit mode`);
  }

  const codeProblem = validateAttributeWord(fields.codeAttributes);
  if (codeProblem) problems.push(`CS ${codeProblem}`);
  const dataProblem = validateAttributeWord(fields.dataAttributes);
  if (dataProblem) problems.push(`data segment (DS/ES/FS/GS/SS) ${dataProblem}`);
  return problems;
}
