/**
 * BootCpuState -> KVM vCPU state, as small separate steps in the order QEMU writes them
 * (kvm_arch_put_registers): IA32_FEATURE_CONTROL, regs, XSAVE (or FPU), XCRs, sregs, MSRs, debug
 * registers, then local APIC, MP state and pending events. The `...Of` functions are pure
 * conversions; `setup...` apply them to a vCPU.
 */
import { APIC_DEFAULT_BASE, resetState, type BootCpuState, type SegmentState } from '../arch/x86/boot-state.js';
import { KVM_MP_STATE, type KvmFpu, type KvmRegs, type KvmSegment } from './kvm/abi.js';
import type { KvmSregs, MsrEntry, XcrEntry } from './kvm/codecs.js';

/** What the setup steps need of a vCPU (a `Vcpu`, or a recorder in tests). */
export interface CpuStateTarget {
  setRegs(regs: KvmRegs): void;
  setFpu(fpu: KvmFpu): void;
  setXsave(image: Uint8Array): void;
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
  IA32_FEATURE_CONTROL: 0x3a,
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
  // KVM's paravirtual MSRs (Documentation/virt/kvm/x86/msr.rst).
  KVM_SYSTEM_TIME: 0x12,
  KVM_SYSTEM_TIME_NEW: 0x4b56_4d01,
  KVM_ASYNC_PF_EN: 0x4b56_4d02,
  KVM_STEAL_TIME: 0x4b56_4d03,
  KVM_PV_EOI_EN: 0x4b56_4d04,
  KVM_POLL_CONTROL: 0x4b56_4d05,
  KVM_ASYNC_PF_INT: 0x4b56_4d06,
} as const;

/** Bits of CPUID 0x40000001 EAX (KVM_FEATURE_*) that name the paravirtual MSRs above. */
export const KVM_FEATURE = {
  CLOCKSOURCE: 0,
  CLOCKSOURCE2: 3,
  ASYNC_PF: 4,
  STEAL_TIME: 5,
  PV_EOI: 6,
  POLL_CONTROL: 12,
  ASYNC_PF_INT: 14,
} as const;

const MISC_ENABLE_FAST_STRING = 1n;
const APIC_BASE_BSP = 1n << 8n;
const APIC_BASE_ENABLE = 1n << 11n;
const XCR0 = 0;
/** Size of the standard-format XSAVE image (struct kvm_xsave); KVM_CAP_XSAVE2 may ask for more. */
export const XSAVE_IMAGE_SIZE = 4096;
/** XSTATE_BV (at 512 in the image): x87 and SSE taken from the image, every other component initial. */
const XSTATE_FP_SSE = 3n;
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
 * The XSAVE image for KVM_SET_XSAVE: the x87 control word and MXCSR of the state (KVM_SET_FPU
 * ignores kvm_fpu.mxcsr), XMM zero, and XSTATE_BV naming only x87 and SSE so that KVM puts every
 * other component (AVX upper halves, AVX-512, ...) in its initial state: a reset must not leave the
 * previous boot's vector registers behind. PKRU is the one component KVM leaves alone.
 */
export function kvmXsaveOf(state: BootCpuState, size: number = XSAVE_IMAGE_SIZE): Uint8Array {
  const image = new Uint8Array(Math.max(size, XSAVE_IMAGE_SIZE));
  const dv = new DataView(image.buffer);
  dv.setUint16(0, state.fcw, true); // FCW; FSW 0, abridged FTW 0 (all empty)
  dv.setUint32(24, state.mxcsr, true); // MXCSR
  dv.setBigUint64(512, XSTATE_FP_SSE, true); // XSTATE_BV; XCOMP_BV 0 (standard format)
  return image;
}

/**
 * KVM's paravirtual MSRs back at their reset values, for the features in CPUID 0x40000001 EAX
 * (`kvmFeatures`; KVM refuses the MSR of a feature the guest's CPUID lacks when it enforces PV
 * CPUID, and steal time whenever the host cannot account it). KVM resets them only on INIT or at
 * vCPU creation; after a reset of ours the BSP would otherwise keep the previous boot's kvmclock,
 * steal-time and PV-EOI areas, which KVM goes on writing into the new boot's RAM, and its async
 * page faults. As QEMU's kvm_put_msrs at KVM_PUT_RESET_STATE.
 */
export function pvMsrsOf(kvmFeatures: number): MsrEntry[] {
  const has = (bit: number) => ((kvmFeatures >>> bit) & 1) === 1;
  const out: MsrEntry[] = [];
  if (has(KVM_FEATURE.CLOCKSOURCE2)) out.push({ index: MSR.KVM_SYSTEM_TIME_NEW, data: 0n });
  if (has(KVM_FEATURE.CLOCKSOURCE)) out.push({ index: MSR.KVM_SYSTEM_TIME, data: 0n });
  if (has(KVM_FEATURE.ASYNC_PF_INT)) out.push({ index: MSR.KVM_ASYNC_PF_INT, data: 0n });
  if (has(KVM_FEATURE.ASYNC_PF)) out.push({ index: MSR.KVM_ASYNC_PF_EN, data: 0n });
  if (has(KVM_FEATURE.PV_EOI)) out.push({ index: MSR.KVM_PV_EOI_EN, data: 0n });
  if (has(KVM_FEATURE.STEAL_TIME)) out.push({ index: MSR.KVM_STEAL_TIME, data: 0n });
  if (has(KVM_FEATURE.POLL_CONTROL)) out.push({ index: MSR.KVM_POLL_CONTROL, data: 1n });
  return out;
}

/**
 * The MSRs a reset leaves defined: PAT from the state, Firecracker's boot set (SYSENTER, SYSCALL,
 * KERNEL_GS_BASE, TSC) at zero, fast strings on (IA32_MISC_ENABLE's reset value, as QEMU), and
 * MTRRs off as after RESET. Firecracker turns MTRRs on with write-back because it starts Linux
 * without firmware; an IGVM file brings its own firmware or page tables, which own that choice,
 * and without assigned devices KVM ignores guest MTRRs for EPT/NPT memory types anyway. Then KVM's
 * paravirtual MSRs for `kvmFeatures` (pvMsrsOf).
 */
export function bootMsrsOf(state: BootCpuState, kvmFeatures = 0): MsrEntry[] {
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
    ...pvMsrsOf(kvmFeatures),
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

export function setupXsave(vcpu: CpuStateTarget, state: BootCpuState, size?: number): void {
  vcpu.setXsave(kvmXsaveOf(state, size));
}

export function setupXcrs(vcpu: CpuStateTarget, state: BootCpuState): void {
  vcpu.setXcrs(xcrsOf(state));
}

export function setupSregs(vcpu: CpuStateTarget, state: BootCpuState): void {
  vcpu.setSregs(kvmSregsOf(state));
}

export function setupMsrs(vcpu: CpuStateTarget, state: BootCpuState, kvmFeatures = 0): void {
  vcpu.setMsrs(bootMsrsOf(state, kvmFeatures));
}

/**
 * IA32_FEATURE_CONTROL = 0, its reset value. Written by the host with 0, it also takes the vCPU
 * out of VMX operation (KVM's vmx_leave_nested), which a guest that ran a hypervisor of its own
 * may still be in: KVM_SET_SREGS would then refuse the reset state's CR0/CR4 (EINVAL), and in L2
 * the registers would land in the nested guest. So it goes first, as in QEMU.
 */
export function setupFeatureControl(vcpu: CpuStateTarget): void {
  vcpu.setMsrs([{ index: MSR.IA32_FEATURE_CONTROL, data: 0n }]);
}

export function setupDebugRegs(vcpu: CpuStateTarget, state: BootCpuState): void {
  vcpu.setDebugRegs(state.dr6, state.dr7);
}

export interface CpuSetupOptions {
  /** KVM_CAP_XCRS: without it XCR0 keeps KVM's default (x87 only, the reset value anyway). */
  readonly xcrs: boolean;
  /**
   * With KVM_CAP_XSAVE, the XSAVE image size KVM_SET_XSAVE reads (KVM_CAP_XSAVE2, at least 4096);
   * without, KVM_SET_FPU (which cannot set MXCSR or reset the other XSAVE components).
   */
  readonly xsaveSize?: number;
  /** CPUID 0x40000001 EAX of the guest: which of KVM's paravirtual MSRs to reset. */
  readonly kvmFeatures?: number;
  /** The guest's CPUID has VMX (nested virtualization on Intel): leave VMX operation first. */
  readonly vmx?: boolean;
  /** The vCPU's local APIC as created by KVM (KVM_GET_LAPIC right after KVM_CREATE_VCPU). */
  readonly resetLapic: Uint8Array;
}

/**
 * Put a vCPU in `state`: the BSP runnable, an AP waiting for INIT/SIPI (KVM_MP_STATE_UNINITIALIZED,
 * what KVM gives a new AP when the local APIC is in the kernel, and what QEMU sets on reset).
 */
export function setupCpu(vcpu: CpuStateTarget, state: BootCpuState, options: CpuSetupOptions): void {
  const bsp = isBsp(state);
  if (options.vmx) setupFeatureControl(vcpu);
  setupRegs(vcpu, state);
  if (options.xsaveSize !== undefined) setupXsave(vcpu, state, options.xsaveSize);
  else setupFpu(vcpu, state);
  if (options.xcrs) setupXcrs(vcpu, state);
  setupSregs(vcpu, state);
  setupMsrs(vcpu, state, options.kvmFeatures);
  setupDebugRegs(vcpu, state);
  // After sregs: KVM_SET_LAPIC interprets the registers in the mode IA32_APIC_BASE selects.
  vcpu.setLapic(bsp ? bspLapicOf(options.resetLapic) : options.resetLapic);
  vcpu.setMpState(bsp ? KVM_MP_STATE.RUNNABLE : KVM_MP_STATE.UNINITIALIZED);
  vcpu.clearEvents();
}
