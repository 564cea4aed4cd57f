/**
 * BootCpuState -> KVM vCPU state, as small separate steps in the order QEMU writes them
 * (kvm_arch_put_registers): regs, FPU, XCRs, sregs, MSRs, debug registers, then local APIC, MP state
 * and pending events. The `...Of` functions are pure conversions; `setup...` apply them to a vCPU.
 */
import { APIC_DEFAULT_BASE, resetState, type BootCpuState, type SegmentState } from '../arch/x86/boot-state.js';
import { KVM_MP_STATE, type KvmFpu, type KvmRegs, type KvmSegment } from './kvm/abi.js';
import type { KvmSregs, MsrEntry, XcrEntry } from './kvm/codecs.js';

/** What the setup steps need of a vCPU (a `Vcpu`, or a recorder in tests). */
export interface CpuStateTarget {
  setRegs(regs: KvmRegs): void;
  setFpu(fpu: KvmFpu): void;
  setXcrs(entries: readonly XcrEntry[]): void;
  setSregs(sregs: KvmSregs): void;
  setMsrs(entries: readonly MsrEntry[]): void;
  setDebugRegs(dr6: bigint, dr7: bigint): void;
  setLapic(state: Uint8Array): void;
  setMpState(state: number): void;
  clearEvents(): void;
}

export const MSR = {
  IA32_TSC: 0x10,
  IA32_SYSENTER_CS: 0x174,
  IA32_SYSENTER_ESP: 0x175,
  IA32_SYSENTER_EIP: 0x176,
  IA32_MISC_ENABLE: 0x1a0,
  IA32_CR_PAT: 0x277,
  MTRR_DEF_TYPE: 0x2ff,
  STAR: 0xc000_0081,
  LSTAR: 0xc000_0082,
  CSTAR: 0xc000_0083,
  SYSCALL_MASK: 0xc000_0084,
  KERNEL_GS_BASE: 0xc000_0102,
} as const;

const MISC_ENABLE_FAST_STRING = 1n;
const APIC_BASE_BSP = 1n << 8n;
const APIC_BASE_ENABLE = 1n << 11n;
const XCR0 = 0;
/** Local APIC register offsets in the kvm_lapic_state page. */
const APIC_LVT0 = 0x350;
const APIC_LVT_EXTINT = 0x700;

const flag = (b: boolean) => (b ? 1 : 0);

export function kvmSegmentOf(s: SegmentState): KvmSegment {
  return {
    base: s.base,
    limit: s.limit >>> 0,
    selector: s.selector,
    type: s.type,
    present: flag(s.present),
    dpl: s.dpl,
    db: flag(s.defaultBig),
    s: flag(s.s),
    l: flag(s.long),
    g: flag(s.granularity),
    avl: flag(s.avl),
    unusable: flag(s.unusable),
    padding: 0,
  };
}

export function kvmRegsOf(state: BootCpuState): KvmRegs {
  const g = state.gprs;
  return {
    rax: g.rax, rbx: g.rbx, rcx: g.rcx, rdx: g.rdx, rsi: g.rsi, rdi: g.rdi, rsp: g.rsp, rbp: g.rbp,
    r8: g.r8, r9: g.r9, r10: g.r10, r11: g.r11, r12: g.r12, r13: g.r13, r14: g.r14, r15: g.r15,
    rip: state.rip,
    rflags: state.rflags,
  };
}

export function kvmSregsOf(state: BootCpuState): KvmSregs {
  const seg = state.segments;
  const table = (t: { base: bigint; limit: number }) => ({ base: t.base, limit: t.limit, padding: new Uint8Array(6) });
  return {
    segments: {
      cs: kvmSegmentOf(seg.cs),
      ds: kvmSegmentOf(seg.ds),
      es: kvmSegmentOf(seg.es),
      fs: kvmSegmentOf(seg.fs),
      gs: kvmSegmentOf(seg.gs),
      ss: kvmSegmentOf(seg.ss),
      tr: kvmSegmentOf(seg.tr),
      ldt: kvmSegmentOf(seg.ldt),
    },
    gdt: table(state.gdt),
    idt: table(state.idt),
    cr0: state.cr0,
    cr2: state.cr2,
    cr3: state.cr3,
    cr4: state.cr4,
    cr8: state.cr8,
    efer: state.efer,
    apic_base: state.apicBase,
    interrupt_bitmap: new Uint8Array(32),
  };
}

export function kvmFpuOf(state: BootCpuState): KvmFpu {
  return {
    fpr: new Uint8Array(128),
    fcw: state.fcw,
    fsw: 0,
    ftwx: 0,
    pad1: 0,
    last_opcode: 0,
    last_ip: 0n,
    last_dp: 0n,
    xmm: new Uint8Array(256),
    mxcsr: state.mxcsr,
    pad2: 0,
  };
}

/**
 * The MSRs a reset leaves defined: PAT from the state, Firecracker's boot set (SYSENTER, SYSCALL,
 * KERNEL_GS_BASE, TSC) at zero, fast strings on (IA32_MISC_ENABLE's reset value, as QEMU), and
 * MTRRs off as after RESET. Firecracker turns MTRRs on with write-back because it starts Linux
 * without firmware; an IGVM file brings its own firmware or page tables, which own that choice,
 * and without assigned devices KVM ignores guest MTRRs for EPT/NPT memory types anyway.
 */
export function bootMsrsOf(state: BootCpuState): MsrEntry[] {
  return [
    { index: MSR.IA32_SYSENTER_CS, data: 0n },
    { index: MSR.IA32_SYSENTER_ESP, data: 0n },
    { index: MSR.IA32_SYSENTER_EIP, data: 0n },
    { index: MSR.STAR, data: 0n },
    { index: MSR.CSTAR, data: 0n },
    { index: MSR.KERNEL_GS_BASE, data: 0n },
    { index: MSR.SYSCALL_MASK, data: 0n },
    { index: MSR.LSTAR, data: 0n },
    { index: MSR.IA32_TSC, data: 0n },
    { index: MSR.IA32_MISC_ENABLE, data: MISC_ENABLE_FAST_STRING },
    { index: MSR.MTRR_DEF_TYPE, data: 0n },
    { index: MSR.IA32_CR_PAT, data: state.pat },
  ];
}

export function xcrsOf(state: BootCpuState): XcrEntry[] {
  return [{ xcr: XCR0, value: state.xcr0 }];
}

/** An application processor after RESET: the reset state without the BSP flag in IA32_APIC_BASE. */
export function apResetState(cpuidVersion?: number): BootCpuState {
  const state = resetState(cpuidVersion);
  return { ...state, apicBase: APIC_DEFAULT_BASE | APIC_BASE_ENABLE };
}

/** The BSP's local APIC after reset, as QEMU's apic_reset_common: LINT0 in ExtINT mode, so PIC interrupts reach it. */
export function bspLapicOf(resetLapic: Uint8Array): Uint8Array {
  const lapic = resetLapic.slice();
  new DataView(lapic.buffer, lapic.byteOffset, lapic.byteLength).setUint32(APIC_LVT0, APIC_LVT_EXTINT, true);
  return lapic;
}

export function isBsp(state: BootCpuState): boolean {
  return (state.apicBase & APIC_BASE_BSP) !== 0n;
}

export function setupRegs(vcpu: CpuStateTarget, state: BootCpuState): void {
  vcpu.setRegs(kvmRegsOf(state));
}

export function setupFpu(vcpu: CpuStateTarget, state: BootCpuState): void {
  vcpu.setFpu(kvmFpuOf(state));
}

export function setupXcrs(vcpu: CpuStateTarget, state: BootCpuState): void {
  vcpu.setXcrs(xcrsOf(state));
}

export function setupSregs(vcpu: CpuStateTarget, state: BootCpuState): void {
  vcpu.setSregs(kvmSregsOf(state));
}

export function setupMsrs(vcpu: CpuStateTarget, state: BootCpuState): void {
  vcpu.setMsrs(bootMsrsOf(state));
}

export function setupDebugRegs(vcpu: CpuStateTarget, state: BootCpuState): void {
  vcpu.setDebugRegs(state.dr6, state.dr7);
}

export interface CpuSetupOptions {
  /** KVM_CAP_XCRS: without it XCR0 keeps KVM's default (x87 only, the reset value anyway). */
  readonly xcrs: boolean;
  /** The vCPU's local APIC as created by KVM (KVM_GET_LAPIC right after KVM_CREATE_VCPU). */
  readonly resetLapic: Uint8Array;
}

/**
 * Put a vCPU in `state`: the BSP runnable, an AP waiting for INIT/SIPI (KVM_MP_STATE_UNINITIALIZED,
 * what KVM gives a new AP when the local APIC is in the kernel, and what QEMU sets on reset).
 */
export function setupCpu(vcpu: CpuStateTarget, state: BootCpuState, options: CpuSetupOptions): void {
  const bsp = isBsp(state);
  setupRegs(vcpu, state);
  setupFpu(vcpu, state);
  if (options.xcrs) setupXcrs(vcpu, state);
  setupSregs(vcpu, state);
  setupMsrs(vcpu, state);
  setupDebugRegs(vcpu, state);
  // After sregs: KVM_SET_LAPIC interprets the registers in the mode IA32_APIC_BASE selects.
  vcpu.setLapic(bsp ? bspLapicOf(options.resetLapic) : options.resetLapic);
  vcpu.setMpState(bsp ? KVM_MP_STATE.RUNNABLE : KVM_MP_STATE.UNINITIALIZED);
  vcpu.clearEvents();
}
