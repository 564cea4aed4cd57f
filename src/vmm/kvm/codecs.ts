/**
 * Encoders for the KVM structs that nest other structs or end in a flexible array (kvm_sregs,
 * kvm_msrs, kvm_cpuid2, kvm_xcrs, kvm_signal_mask), built from the layouts in abi.ts.
 */
import { SEGMENT_ORDER, type SegmentName } from '../../arch/x86/boot-state.js';
import {
  FLEXIBLE_ARRAYS,
  KVM_CPUID2,
  KVM_CPUID_ENTRY2,
  KVM_DTABLE,
  KVM_MAX_XCRS,
  KVM_MSRS,
  KVM_MSR_ENTRY,
  KVM_SEGMENT,
  KVM_SIGNAL_MASK,
  KVM_SREGS,
  KVM_XCR,
  KVM_XCRS,
  type KvmCpuidEntry2,
  type KvmDtable,
  type KvmSegment,
} from './abi.js';


export interface KvmSregs {
  segments: Record<SegmentName, KvmSegment>;
  gdt: KvmDtable;
  idt: KvmDtable;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
  apic_base: bigint;
  /** 256 bits of pending external interrupts (written as zeros on boot). */
  interrupt_bitmap: Uint8Array;
}

function offsetOf(name: string): number {
  const field = KVM_SREGS.fields.find((f) => f.name === name);
  if (!field) throw new Error(`kvm_sregs has no field ${name}`);
  return field.offset;
}

export function encodeSregs(s: KvmSregs): Uint8Array {
  const out = new Uint8Array(KVM_SREGS.size);
  KVM_SREGS.write(
    {
      cs: new Uint8Array(0), ds: new Uint8Array(0), es: new Uint8Array(0), fs: new Uint8Array(0),
      gs: new Uint8Array(0), ss: new Uint8Array(0), tr: new Uint8Array(0), ldt: new Uint8Array(0),
      gdt: new Uint8Array(0), idt: new Uint8Array(0),
      cr0: s.cr0, cr2: s.cr2, cr3: s.cr3, cr4: s.cr4, cr8: s.cr8, efer: s.efer, apic_base: s.apic_base,
      interrupt_bitmap: s.interrupt_bitmap,
    },
    out,
  );
  for (const name of SEGMENT_ORDER) KVM_SEGMENT.write(s.segments[name], out, offsetOf(name));
  KVM_DTABLE.write(s.gdt, out, offsetOf('gdt'));
  KVM_DTABLE.write(s.idt, out, offsetOf('idt'));
  return out;
}

export function decodeSregs(bytes: Uint8Array): KvmSregs {
  const flat = KVM_SREGS.read(bytes);
  const segments = Object.fromEntries(
    SEGMENT_ORDER.map((name) => [name, KVM_SEGMENT.read(bytes, offsetOf(name))]),
  ) as Record<SegmentName, KvmSegment>;
  return {
    segments,
    gdt: KVM_DTABLE.read(bytes, offsetOf('gdt')),
    idt: KVM_DTABLE.read(bytes, offsetOf('idt')),
    cr0: flat.cr0,
    cr2: flat.cr2,
    cr3: flat.cr3,
    cr4: flat.cr4,
    cr8: flat.cr8,
    efer: flat.efer,
    apic_base: flat.apic_base,
    interrupt_bitmap: flat.interrupt_bitmap.slice(),
  };
}

export interface MsrEntry {
  readonly index: number;
  readonly data: bigint;
}

export function encodeMsrs(entries: readonly MsrEntry[]): Uint8Array {
  const base = FLEXIBLE_ARRAYS['kvm_msrs.entries'];
  const out = new Uint8Array(base + entries.length * KVM_MSR_ENTRY.size);
  KVM_MSRS.write({ nmsrs: entries.length, pad: 0 }, out);
  entries.forEach((e, i) => KVM_MSR_ENTRY.write({ index: e.index, reserved: 0, data: e.data }, out, base + i * KVM_MSR_ENTRY.size));
  return out;
}

/** A kvm_cpuid2 buffer with room for `capacity` entries (for KVM_GET_SUPPORTED_CPUID). */
export function cpuid2Buffer(capacity: number): Uint8Array {
  const out = new Uint8Array(FLEXIBLE_ARRAYS['kvm_cpuid2.entries'] + capacity * KVM_CPUID_ENTRY2.size);
  KVM_CPUID2.write({ nent: capacity, padding: 0 }, out);
  return out;
}

export function encodeCpuid2(entries: readonly KvmCpuidEntry2[]): Uint8Array {
  const out = cpuid2Buffer(entries.length);
  const base = FLEXIBLE_ARRAYS['kvm_cpuid2.entries'];
  entries.forEach((e, i) => KVM_CPUID_ENTRY2.write(e, out, base + i * KVM_CPUID_ENTRY2.size));
  return out;
}

export function decodeCpuid2(bytes: Uint8Array): KvmCpuidEntry2[] {
  const { nent } = KVM_CPUID2.read(bytes);
  const base = FLEXIBLE_ARRAYS['kvm_cpuid2.entries'];
  return Array.from({ length: nent }, (_, i) => {
    const e = KVM_CPUID_ENTRY2.read(bytes, base + i * KVM_CPUID_ENTRY2.size);
    return { ...e, padding: e.padding.slice() };
  });
}

export interface XcrEntry {
  readonly xcr: number;
  readonly value: bigint;
}

export function encodeXcrs(entries: readonly XcrEntry[]): Uint8Array {
  if (entries.length > KVM_MAX_XCRS) throw new RangeError(`at most ${KVM_MAX_XCRS} XCRs, got ${entries.length}`);
  const out = new Uint8Array(KVM_XCRS.size);
  KVM_XCRS.write({ nr_xcrs: entries.length, flags: 0, xcrs: new Uint8Array(0), padding: new Uint8Array(0) }, out);
  const base = KVM_XCRS.fields.find((f) => f.name === 'xcrs')!.offset;
  entries.forEach((e, i) => KVM_XCR.write({ xcr: e.xcr, reserved: 0, value: e.value }, out, base + i * KVM_XCR.size));
  return out;
}

/** kvm_signal_mask with the kernel's 8-byte sigset (not glibc's 128-byte sigset_t). */
export function encodeSignalMask(kernelSigset: Uint8Array): Uint8Array {
  const base = FLEXIBLE_ARRAYS['kvm_signal_mask.sigset'];
  const out = new Uint8Array(base + kernelSigset.length);
  KVM_SIGNAL_MASK.write({ len: kernelSigset.length }, out);
  out.set(kernelSigset, base);
  return out;
}
