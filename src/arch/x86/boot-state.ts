/**
 * The boot processor's register state: the x86 reset state (as QEMU's x86_cpu_reset_hold sets it),
 * and that state with an IGVM native VP context applied in the order of QEMU's
 * qigvm_x86_load_context: EFER, CR4, CR0, CR3, CS, then DS/ES/FS/GS/SS, GDTR/IDTR, GPRs, RIP, RFLAGS.
 * TR, LDTR and everything the context does not name keep their reset values.
 */
import type { NativeVpContextX64Fields } from '../../format/structs.js';
import { CR0, CR4, EFER, checkNativeContext } from './native-context.js';
import { decodeSegmentAttributes, type SegmentAttributes } from './segment.js';

export interface SegmentState extends SegmentAttributes {
  selector: number;
  base: bigint;
  /** Byte-granular limit. */
  limit: number;
  /** A segment that is not present is unusable (VMX "unusable" bit). */
  unusable: boolean;
}

export interface TableState {
  base: bigint;
  limit: number;
}

export const GPR_ORDER = [
  'rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
] as const;
export type Gpr = (typeof GPR_ORDER)[number];

export const SEGMENT_ORDER = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const;
export type SegmentName = (typeof SEGMENT_ORDER)[number];

export interface BootCpuState {
  gprs: Record<Gpr, bigint>;
  rip: bigint;
  rflags: bigint;
  segments: Record<SegmentName, SegmentState>;
  gdt: TableState;
  idt: TableState;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
  apicBase: bigint;
  /** MSR_IA32_CR_PAT reset value. */
  pat: bigint;
  xcr0: bigint;
  mxcsr: number;
  fcw: number;
  dr6: bigint;
  dr7: bigint;
  /** Which state this is: the architectural reset state, or a context applied on top of it. */
  source: 'reset' | 'igvm-native-context';
}

/** Raised for a native context that KVM would refuse; `problems` lists each reason. */
export class InvalidContextError extends Error {
  override readonly name = 'InvalidContextError';
  constructor(readonly problems: readonly string[]) {
    super(`native VP context is not usable: ${problems.join('; ')}`);
  }
}

export const APIC_DEFAULT_BASE = 0xfee0_0000n;
const APIC_BASE_BSP = 1n << 8n;
const APIC_BASE_ENABLE = 1n << 11n;

function segment(selector: number, base: bigint, limit: number, attributes: number): SegmentState {
  const decoded = decodeSegmentAttributes(attributes);
  return { selector, base, limit, ...decoded, unusable: !decoded.present };
}

/**
 * The state of the boot processor after RESET/INIT. `cpuidVersion` is CPUID.1:EAX, which the
 * processor leaves in EDX (QEMU sets it too).
 */
export function resetState(cpuidVersion = 0x600): BootCpuState {
  const gprs = Object.fromEntries(GPR_ORDER.map((r) => [r, 0n])) as Record<Gpr, bigint>;
  gprs.rdx = BigInt(cpuidVersion);
  const data = () => segment(0, 0n, 0xffff, 0x93);
  return {
    gprs,
    rip: 0xfff0n,
    rflags: 0x2n,
    segments: {
      cs: segment(0xf000, 0xffff_0000n, 0xffff, 0x9b),
      ds: data(),
      es: data(),
      fs: data(),
      gs: data(),
      ss: data(),
      tr: segment(0, 0n, 0xffff, 0x8b), // present, busy 32-bit TSS
      ldt: segment(0, 0n, 0xffff, 0x82), // present, LDT
    },
    gdt: { base: 0n, limit: 0xffff },
    idt: { base: 0n, limit: 0xffff },
    cr0: 0x6000_0010n,
    cr2: 0n,
    cr3: 0n,
    cr4: 0n,
    cr8: 0n,
    efer: 0n,
    apicBase: APIC_DEFAULT_BASE | APIC_BASE_BSP | APIC_BASE_ENABLE,
    pat: 0x0007_0406_0007_0406n,
    xcr0: 1n,
    mxcsr: 0x1f80,
    fcw: 0x37f,
    dr6: 0xffff_0ff0n,
    dr7: 0x400n,
    source: 'reset',
  };
}

/**
 * Apply an IGVM native context to a reset state, as QEMU does, with its known deviations fixed:
 * `gs_base` sets the GS base (the spec's meaning; QEMU uses data_base), CR0/CR4 keep all 64 bits,
 * and a context KVM would refuse is an error instead of a silently different state.
 */
export function applyNativeContext(reset: BootCpuState, ctx: NativeVpContextX64Fields): BootCpuState {
  const problems = checkNativeContext(ctx);
  if (problems.length > 0) throw new InvalidContextError(problems);

  let efer = ctx.efer;
  const cr4 = ctx.cr4;
  const cr0 = ctx.cr0 | CR0.ET;
  // CR0.PG with EFER.LME (and CR4.PAE, checked above) activates long mode: the CPU sets LMA.
  if ((efer & EFER.LME) !== 0n && (cr0 & CR0.PG) !== 0n && (cr4 & CR4.PAE) !== 0n) efer |= EFER.LMA;

  const data = () => segment(ctx.dataSelector, BigInt(ctx.dataBase), ctx.dataLimit, ctx.dataAttributes);
  const gprs = Object.fromEntries(GPR_ORDER.map((r) => [r, ctx[r]])) as Record<Gpr, bigint>;
  return {
    ...reset,
    efer,
    cr4,
    cr0,
    cr3: ctx.cr3,
    segments: {
      ...reset.segments,
      cs: segment(ctx.codeSelector, BigInt(ctx.codeBase), ctx.codeLimit, ctx.codeAttributes),
      ds: data(),
      es: data(),
      fs: data(),
      gs: { ...data(), base: ctx.gsBase },
      ss: data(),
    },
    gdt: { base: ctx.gdtrBase, limit: ctx.gdtrLimit },
    idt: { base: ctx.idtrBase, limit: ctx.idtrLimit },
    gprs,
    rip: ctx.rip,
    rflags: ctx.rflags,
    source: 'igvm-native-context',
  };
}
