/**
 * The CPUID a vCPU sees: KVM_GET_SUPPORTED_CPUID with the per-vCPU and topology fields filled in
 * (after Firecracker's CPUID normalization): one package of `vcpuCount` cores, one thread each,
 * APIC ID = vCPU index. Pure, so it is tested on recorded tables.
 */
import { KVM_CPUID_FLAG_SIGNIFCANT_INDEX, type KvmCpuidEntry2 } from './kvm/abi.js';

export interface CpuidOptions {
  readonly vcpuIndex: number;
  readonly vcpuCount: number;
  /** KVM_CAP_TSC_DEADLINE_TIMER: the in-kernel local APIC emulates the TSC-deadline timer. */
  readonly tscDeadline: boolean;
}

export type CpuVendor = 'intel' | 'amd' | 'other';

const LEAF1_ECX_VMX = 1 << 5;
const LEAF1_ECX_TSC_DEADLINE = 1 << 24;
const LEAF1_ECX_HYPERVISOR = 1 << 31;
const LEAF1_EDX_HTT = 1 << 28;
/** CLFLUSH line size in 8-byte units (64 bytes). */
const CLFLUSH_LINE = 8;
const LEVEL_SMT = 1;
const LEVEL_CORE = 2;

function find(entries: readonly KvmCpuidEntry2[], fn: number, index = 0): KvmCpuidEntry2 | undefined {
  return entries.find((e) => e.function === fn && e.index === index);
}

export function cpuVendor(entries: readonly KvmCpuidEntry2[]): CpuVendor {
  const leaf0 = find(entries, 0);
  if (!leaf0) return 'other';
  const bytes = new Uint8Array(12);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, leaf0.ebx, true);
  dv.setUint32(4, leaf0.edx, true);
  dv.setUint32(8, leaf0.ecx, true);
  const id = new TextDecoder().decode(bytes);
  if (id === 'GenuineIntel') return 'intel';
  if (id === 'AuthenticAMD' || id === 'HygonGenuine') return 'amd';
  return 'other';
}

/** Bits needed to number `n` things: ceil(log2(n)). */
function bitsFor(n: number): number {
  let bits = 0;
  while (1 << bits < n) bits++;
  return bits;
}

function entry(fn: number, index: number, regs: { eax: number; ebx: number; ecx: number; edx: number }): KvmCpuidEntry2 {
  return { function: fn, index, flags: KVM_CPUID_FLAG_SIGNIFCANT_INDEX, ...regs, padding: new Uint8Array(12) };
}

/** Leaf 0xb / 0x1f: SMT level (1 thread per core), core level (`count` cores), then the invalid level. */
function topologyLeaf(fn: number, apicId: number, count: number): KvmCpuidEntry2[] {
  return [
    entry(fn, 0, { eax: 0, ebx: 1, ecx: (LEVEL_SMT << 8) | 0, edx: apicId }),
    entry(fn, 1, { eax: bitsFor(count), ebx: count, ecx: (LEVEL_CORE << 8) | 1, edx: apicId }),
    entry(fn, 2, { eax: 0, ebx: 0, ecx: 2, edx: apicId }),
  ];
}

/** The CPUID table for one vCPU. `supported` is left untouched. */
export function vcpuCpuid(supported: readonly KvmCpuidEntry2[], options: CpuidOptions): KvmCpuidEntry2[] {
  const { vcpuIndex: apicId, vcpuCount: count } = options;
  if (!Number.isInteger(count) || count < 1 || count > 255) throw new RangeError(`vCPU count must be 1..255, got ${count}`);
  const vendor = cpuVendor(supported);
  const maxBasic = find(supported, 0)?.eax ?? 0;
  const hadLeaf1f = supported.some((e) => e.function === 0x1f);
  const out: KvmCpuidEntry2[] = [];

  for (const original of supported) {
    const e = { ...original, padding: original.padding.slice() };
    switch (e.function) {
      case 0x1:
        e.ebx = ((apicId << 24) | (Math.min(count, 255) << 16) | (CLFLUSH_LINE << 8) | (e.ebx & 0xff)) >>> 0;
        e.ecx = (e.ecx | LEAF1_ECX_HYPERVISOR | (options.tscDeadline ? LEAF1_ECX_TSC_DEADLINE : 0)) >>> 0;
        e.edx = (count > 1 ? e.edx | LEAF1_EDX_HTT : e.edx & ~LEAF1_EDX_HTT) >>> 0;
        break;
      case 0x4:
        if (vendor === 'intel' && (e.eax & 0x1f) !== 0) {
          // EAX[31:26] cores per package - 1; EAX[25:14] threads sharing this cache - 1.
          const level = (e.eax >>> 5) & 0x7;
          const sharing = level >= 3 ? count - 1 : 0;
          e.eax = ((e.eax & 0x3fff) | (Math.min(sharing, 0xfff) << 14) | (Math.min(count - 1, 63) << 26)) >>> 0;
        }
        break;
      case 0xb:
      case 0x1f:
        continue; // rebuilt below
      case 0x8000_0008:
        if (vendor === 'amd') e.ecx = ((e.ecx & ~0xf0ff) | (bitsFor(count) << 12) | (count - 1)) >>> 0;
        break;
      case 0x8000_001e:
        if (vendor === 'amd') {
          e.eax = apicId;
          e.ebx = apicId & 0xff; // compute unit (core) id; threads per unit - 1 = 0
          e.ecx = 0; // node 0, one node per processor
        }
        break;
    }
    out.push(e);
  }
  if (maxBasic >= 0xb) out.push(...topologyLeaf(0xb, apicId, count));
  if (hadLeaf1f && maxBasic >= 0x1f) out.push(...topologyLeaf(0x1f, apicId, count));
  return out;
}

/** CPUID 0x40000001 EAX: the KVM_FEATURE_* bits KVM offers (0 without KVM's leaves). */
export function kvmFeatures(entries: readonly KvmCpuidEntry2[]): number {
  return find(entries, 0x4000_0001)?.eax ?? 0;
}

/** CPUID.1:ECX.VMX: the guest may enter VMX operation (nested virtualization on Intel). */
export function hasVmx(entries: readonly KvmCpuidEntry2[]): boolean {
  return ((find(entries, 1)?.ecx ?? 0) & LEAF1_ECX_VMX) !== 0;
}

/** CPUID.1:EAX (family, model, stepping), which a reset leaves in EDX. */
export function cpuidVersion(entries: readonly KvmCpuidEntry2[]): number | undefined {
  return find(entries, 1)?.eax;
}

/** CPUID.80000008H:EAX[7:0], the guest's physical-address width (MAXPHYADDR); 36 where KVM reports none, as the SDM's default. */
export function physicalAddressBits(entries: readonly KvmCpuidEntry2[]): number {
  return (find(entries, 0x8000_0008)?.eax ?? 36) & 0xff || 36;
}
