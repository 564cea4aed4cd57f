// BootCpuState -> KVM structs: the bytes KVM_SET_REGS/SREGS/FPU/MSRS get, and the order setupCpu applies them.
import { describe, expect, it } from 'vitest';
import { applyNativeContext, resetState } from '../../src/arch/x86/boot-state.js';
import { longMode64Context, protectedMode32Context } from '../../src/arch/x86/native-context.js';
import {
  apResetState,
  bootMsrsOf,
  bspLapicOf,
  isBsp,
  kvmFpuOf,
  kvmRegsOf,
  kvmSregsOf,
  kvmXsaveOf,
  KVM_FEATURE,
  MSR,
  pvMsrsOf,
  setupCpu,
  xcrsOf,
  type CpuStateTarget,
} from '../../src/vmm/cpu-setup.js';
import { KVM_FPU, KVM_MP_STATE, KVM_REGS } from '../../src/vmm/kvm/abi.js';
import { decodeSregs, encodeSregs } from '../../src/vmm/kvm/codecs.js';

const longMode = applyNativeContext(
  resetState(),
  longMode64Context({ entry: 0x10_0000n, stack: 0x8000n, gdtrBase: 0x5000n, gdtrLimit: 0x17, cr3: 0x9000n, rsi: 0x7000n }),
);

/** The raw kvm_segment at `offset` in kvm_sregs bytes, read without the layout code. */
function rawSegment(bytes: Uint8Array, offset: number) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, 24);
  return {
    base: dv.getBigUint64(0, true),
    limit: dv.getUint32(8, true),
    selector: dv.getUint16(12, true),
    type: dv.getUint8(14),
    present: dv.getUint8(15),
    dpl: dv.getUint8(16),
    db: dv.getUint8(17),
    s: dv.getUint8(18),
    l: dv.getUint8(19),
    g: dv.getUint8(20),
    avl: dv.getUint8(21),
    unusable: dv.getUint8(22),
  };
}

describe('kvm_sregs from a boot state', () => {
  it('gives a 64-bit code segment l=1, db=0, type 11, and EFER with LMA', () => {
    const bytes = encodeSregs(kvmSregsOf(longMode));
    expect(rawSegment(bytes, 0)).toEqual({
      base: 0n, limit: 0xffff_ffff, selector: 0x08, type: 11, present: 1, dpl: 0, db: 0, s: 1, l: 1, g: 1, avl: 0, unusable: 0,
    });
    for (const offset of [24, 48, 72, 96, 120]) {
      expect(rawSegment(bytes, offset)).toMatchObject({ selector: 0x10, type: 3, db: 1, l: 0, s: 1, present: 1, g: 1 });
    }
    const dv = new DataView(bytes.buffer);
    expect(dv.getBigUint64(224, true)).toBe(0x8001_0033n); // CR0 = PE MP ET NE WP PG
    expect(dv.getBigUint64(240, true)).toBe(0x9000n); // CR3
    expect(dv.getBigUint64(248, true)).toBe(0x20n); // CR4.PAE
    expect(dv.getBigUint64(264, true)).toBe(0x500n); // EFER = LME | LMA
    expect(dv.getBigUint64(272, true)).toBe(0xfee0_0900n); // APIC base, BSP, enabled
    expect(dv.getBigUint64(192, true)).toBe(0x5000n); // GDT base
    expect(dv.getUint16(200, true)).toBe(0x17);
    expect(bytes.subarray(280, 312).every((b) => b === 0)).toBe(true); // no pending interrupts
  });

  it('keeps the reset values of TR and LDTR', () => {
    const bytes = encodeSregs(kvmSregsOf(longMode));
    expect(rawSegment(bytes, 144)).toMatchObject({ type: 11, s: 0, present: 1, limit: 0xffff, unusable: 0 });
    expect(rawSegment(bytes, 168)).toMatchObject({ type: 2, s: 0, present: 1, limit: 0xffff });
  });

  it('gives 32-bit protected mode db=1, l=0 and no long mode', () => {
    const state = applyNativeContext(resetState(), protectedMode32Context({ entry: 0x10_0000n, gdtrBase: 0x5000n, gdtrLimit: 0x17 }));
    const s = kvmSregsOf(state);
    expect(s.segments.cs).toMatchObject({ type: 11, db: 1, l: 0, g: 1, present: 1 });
    expect(s.efer).toBe(0n);
    expect(s.cr0).toBe(0x11n);
  });

  it('describes the architectural reset state (real mode at 0xffff_fff0)', () => {
    const s = kvmSregsOf(resetState());
    expect(s.segments.cs).toMatchObject({ selector: 0xf000, base: 0xffff_0000n, limit: 0xffff, type: 11, s: 1, db: 0, l: 0, g: 0 });
    expect(s.segments.ss).toMatchObject({ selector: 0, base: 0n, limit: 0xffff, type: 3, present: 1 });
    expect(s.cr0).toBe(0x6000_0010n);
    expect(s.gdt).toMatchObject({ base: 0n, limit: 0xffff });
  });

  it('marks a not-present segment unusable', () => {
    const state = resetState();
    state.segments.fs = { ...state.segments.fs, present: false, unusable: true };
    expect(kvmSregsOf(state).segments.fs).toMatchObject({ present: 0, unusable: 1 });
  });

  it('round-trips through the kvm_sregs bytes', () => {
    const sregs = kvmSregsOf(longMode);
    expect(decodeSregs(encodeSregs(sregs))).toEqual(sregs);
  });
});

describe('kvm_regs, kvm_fpu, MSRs and XCRs from a boot state', () => {
  it('puts GPRs, RIP and RFLAGS at their kvm_regs offsets', () => {
    const bytes = KVM_REGS.encode(kvmRegsOf(longMode));
    const dv = new DataView(bytes.buffer);
    expect(dv.getBigUint64(32, true)).toBe(0x7000n); // rsi
    expect(dv.getBigUint64(48, true)).toBe(0x8000n); // rsp
    expect(dv.getBigUint64(128, true)).toBe(0x10_0000n); // rip
    expect(dv.getBigUint64(136, true)).toBe(0x2n); // rflags
    const reset = KVM_REGS.encode(kvmRegsOf(resetState(0x806f1)));
    expect(new DataView(reset.buffer).getBigUint64(24, true)).toBe(0x806f1n); // rdx = CPUID.1:EAX
    expect(new DataView(reset.buffer).getBigUint64(128, true)).toBe(0xfff0n);
  });

  it('sets the x87 control word and MXCSR to their reset values', () => {
    const bytes = KVM_FPU.encode(kvmFpuOf(longMode));
    const dv = new DataView(bytes.buffer);
    expect(dv.getUint16(128, true)).toBe(0x37f);
    expect(dv.getUint32(408, true)).toBe(0x1f80);
    expect(bytes[132]).toBe(0); // abridged tag word: all empty
  });

  it('builds an XSAVE image with FCW, MXCSR and XSTATE_BV = x87|SSE (KVM_SET_FPU cannot set MXCSR)', () => {
    const state = { ...longMode, mxcsr: 0x1f80, fcw: 0x37f };
    const image = kvmXsaveOf(state);
    expect(image.length).toBe(4096);
    const dv = new DataView(image.buffer);
    expect(dv.getUint16(0, true)).toBe(0x37f); // FCW
    expect(dv.getUint16(2, true)).toBe(0); // FSW
    expect(image[4]).toBe(0); // abridged FTW: all empty
    expect(dv.getUint32(24, true)).toBe(0x1f80); // MXCSR
    expect(dv.getBigUint64(512, true)).toBe(3n); // XSTATE_BV: x87 and SSE from the image, the rest initial
    expect(dv.getBigUint64(520, true)).toBe(0n); // XCOMP_BV: standard format, as KVM requires
    expect(image.subarray(160, 416).every((b) => b === 0)).toBe(true); // XMM0-15
    expect(image.subarray(528, 576).every((b) => b === 0)).toBe(true); // header reserved bytes
    expect(kvmXsaveOf(state, 11008).length).toBe(11008); // KVM_CAP_XSAVE2 larger than 4096
    expect(kvmXsaveOf(state, 0).length).toBe(4096);
  });

  it('writes the reset MSRs with PAT from the state', () => {
    const msrs = new Map(bootMsrsOf(longMode).map((e) => [e.index, e.data]));
    expect(msrs.get(MSR.IA32_CR_PAT)).toBe(0x0007_0406_0007_0406n);
    expect(msrs.get(MSR.IA32_MISC_ENABLE)).toBe(1n);
    expect(msrs.get(MSR.MTRR_DEF_TYPE)).toBe(0n);
    for (const zero of [MSR.IA32_SYSENTER_CS, MSR.IA32_SYSENTER_ESP, MSR.IA32_SYSENTER_EIP, MSR.STAR, MSR.LSTAR, MSR.CSTAR, MSR.SYSCALL_MASK, MSR.KERNEL_GS_BASE, MSR.IA32_TSC]) {
      expect(msrs.get(zero)).toBe(0n);
    }
    expect(xcrsOf(longMode)).toEqual([{ xcr: 0, value: 1n }]);
    expect(bootMsrsOf(longMode)).toHaveLength(12); // no KVM features, no paravirtual MSRs
  });

  it('resets the paravirtual MSRs of the KVM features the guest has (kvmclock, async PF, PV EOI, steal time, poll control)', () => {
    const all = Object.values(KVM_FEATURE).reduce((a: number, bit: number) => a | (1 << bit), 0);
    expect(pvMsrsOf(all)).toEqual([
      { index: MSR.KVM_SYSTEM_TIME_NEW, data: 0n },
      { index: MSR.KVM_SYSTEM_TIME, data: 0n },
      { index: MSR.KVM_ASYNC_PF_INT, data: 0n },
      { index: MSR.KVM_ASYNC_PF_EN, data: 0n },
      { index: MSR.KVM_PV_EOI_EN, data: 0n },
      { index: MSR.KVM_STEAL_TIME, data: 0n },
      { index: MSR.KVM_POLL_CONTROL, data: 1n },
    ]);
    expect(MSR.KVM_SYSTEM_TIME_NEW).toBe(0x4b56_4d01);
    expect(MSR.KVM_POLL_CONTROL).toBe(0x4b56_4d05);
    // A host that cannot account steal time does not offer it, and KVM would refuse its MSR.
    const noSteal = pvMsrsOf(all & ~(1 << KVM_FEATURE.STEAL_TIME)).map((m) => m.index);
    expect(noSteal).not.toContain(MSR.KVM_STEAL_TIME);
    expect(pvMsrsOf(1 << KVM_FEATURE.CLOCKSOURCE2)).toEqual([{ index: MSR.KVM_SYSTEM_TIME_NEW, data: 0n }]);
    const msrs = bootMsrsOf(longMode, all);
    expect(msrs.slice(-7)).toEqual(pvMsrsOf(all));
  });
});

describe('setupCpu', () => {
  function recorder() {
    const calls: string[] = [];
    const seen: Record<string, unknown> = {};
    const target: CpuStateTarget = {
      setRegs: (v) => { calls.push('regs'); seen.regs = v; },
      setFpu: () => calls.push('fpu'),
      setXsave: (v) => { calls.push('xsave'); seen.xsave = v; },
      setXcrs: () => calls.push('xcrs'),
      setSregs: (v) => { calls.push('sregs'); seen.sregs = v; },
      setMsrs: (v) => { calls.push('msrs'); ((seen.msrs ??= []) as unknown[]).push(v); },
      setDebugRegs: (dr6, dr7) => { calls.push('debugregs'); seen.dr = [dr6, dr7]; },
      setLapic: (v) => { calls.push('lapic'); seen.lapic = v; },
      setMpState: (v) => { calls.push('mp_state'); seen.mp = v; },
      clearEvents: () => calls.push('events'),
    };
    return { calls, seen, target };
  }
  const resetLapic = new Uint8Array(1024);
  new DataView(resetLapic.buffer).setUint32(0x350, 0x10000, true); // LVT0 masked
  new DataView(resetLapic.buffer).setUint32(0x360, 0x10000, true); // LVT1 masked

  it('writes the BSP in QEMU order: regs, FPU, XCRs, sregs, MSRs, debug registers, LAPIC, MP state, events', () => {
    const r = recorder();
    setupCpu(r.target, longMode, { xcrs: true, resetLapic });
    expect(r.calls).toEqual(['regs', 'fpu', 'xcrs', 'sregs', 'msrs', 'debugregs', 'lapic', 'mp_state', 'events']);
    expect(r.seen.mp).toBe(KVM_MP_STATE.RUNNABLE);
    expect(r.seen.dr).toEqual([0xffff_0ff0n, 0x400n]);
    const lapic = r.seen.lapic as Uint8Array;
    expect(new DataView(lapic.buffer).getUint32(0x350, true)).toBe(0x700); // LINT0 ExtINT, as QEMU
    expect(new DataView(lapic.buffer).getUint32(0x360, true)).toBe(0x10000);
    expect(new DataView(resetLapic.buffer).getUint32(0x350, true)).toBe(0x10000); // the snapshot is untouched
  });

  it('with KVM_CAP_XSAVE, writes an XSAVE image instead of kvm_fpu; on a VMX guest, IA32_FEATURE_CONTROL first', () => {
    const r = recorder();
    setupCpu(r.target, resetState(), { xcrs: true, resetLapic, xsaveSize: 4096, vmx: true, kvmFeatures: 1 << KVM_FEATURE.CLOCKSOURCE2 });
    expect(r.calls).toEqual(['msrs', 'regs', 'xsave', 'xcrs', 'sregs', 'msrs', 'debugregs', 'lapic', 'mp_state', 'events']);
    const [featureControl, boot] = r.seen.msrs as { index: number; data: bigint }[][];
    // Written as 0 by the host, it takes the vCPU out of VMX operation before the reset state's CR0/CR4.
    expect(featureControl).toEqual([{ index: MSR.IA32_FEATURE_CONTROL, data: 0n }]);
    expect(boot).toContainEqual({ index: MSR.KVM_SYSTEM_TIME_NEW, data: 0n });
    expect(new DataView((r.seen.xsave as Uint8Array).buffer).getUint32(24, true)).toBe(0x1f80);
  });

  it('leaves XCRs alone without KVM_CAP_XCRS', () => {
    const r = recorder();
    setupCpu(r.target, longMode, { xcrs: false, resetLapic });
    expect(r.calls).not.toContain('xcrs');
  });

  it('puts an AP in reset state, not BSP, waiting for INIT/SIPI with its LAPIC as created', () => {
    const ap = apResetState(0x806f1);
    expect(isBsp(ap)).toBe(false);
    expect(isBsp(longMode)).toBe(true);
    expect(ap.apicBase).toBe(0xfee0_0800n);
    const r = recorder();
    setupCpu(r.target, ap, { xcrs: true, resetLapic });
    expect(r.seen.mp).toBe(KVM_MP_STATE.UNINITIALIZED);
    expect(r.seen.lapic).toBe(resetLapic);
    expect((r.seen.sregs as { apic_base: bigint }).apic_base).toBe(0xfee0_0800n);
  });

  it('copies the LAPIC snapshot for the BSP', () => {
    expect(bspLapicOf(resetLapic)).not.toBe(resetLapic);
  });
});
