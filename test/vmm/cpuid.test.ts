// Per-vCPU CPUID from a KVM_GET_SUPPORTED_CPUID table: APIC IDs, topology, hypervisor bit.
import { describe, expect, it } from 'vitest';
import { cpuidVersion, cpuVendor, hasVmx, kvmFeatures, vcpuCpuid } from '../../src/vmm/cpuid.js';
import type { KvmCpuidEntry2 } from '../../src/vmm/kvm/abi.js';

function e(fn: number, index: number, eax: number, ebx: number, ecx: number, edx: number, flags = 0): KvmCpuidEntry2 {
  return { function: fn, index, flags, eax, ebx, ecx, edx, padding: new Uint8Array(12) };
}

function vendorRegs(id: string): { ebx: number; edx: number; ecx: number } {
  const dv = new DataView(new TextEncoder().encode(id).buffer);
  return { ebx: dv.getUint32(0, true), edx: dv.getUint32(4, true), ecx: dv.getUint32(8, true) };
}

function table(vendor: string, maxBasic = 0x1f): KvmCpuidEntry2[] {
  const v = vendorRegs(vendor);
  return [
    e(0, 0, maxBasic, v.ebx, v.ecx, v.edx),
    e(1, 0, 0x000806f1, 0x07_02_08_00 | (5 << 24), 0x0000_0001, 0x1789_fbff),
    e(4, 0, 0x1c00_4121, 0, 0, 0, 1), // L1d, level 1
    e(4, 1, 0x1c00_4163, 0, 0, 0, 1), // L3, level 3
    e(0xb, 0, 0, 0, 0, 9, 1),
    e(0x1f, 0, 0, 0, 0, 9, 1),
    e(0x4000_0000, 0, 0x4000_0001, 0x4b4d564b, 0x564b4d56, 0x4d),
    e(0x8000_0008, 0, 0x3030, 0, 0xf0ff, 0),
    e(0x8000_001e, 0, 7, 0x107, 0x301, 0),
  ];
}

const leaf = (entries: KvmCpuidEntry2[], fn: number, index = 0) => entries.find((x) => x.function === fn && x.index === index)!;

describe('vcpuCpuid', () => {
  it('knows the vendor', () => {
    expect(cpuVendor(table('GenuineIntel'))).toBe('intel');
    expect(cpuVendor(table('AuthenticAMD'))).toBe('amd');
    expect(cpuVendor(table('HygonGenuine'))).toBe('amd');
    expect(cpuVendor(table('VIA VIA VIA '))).toBe('other');
    expect(cpuidVersion(table('GenuineIntel'))).toBe(0x806f1);
  });

  it('sets the APIC ID, logical count and CLFLUSH size in leaf 1 EBX, the hypervisor bit and HTT', () => {
    const out = vcpuCpuid(table('GenuineIntel'), { vcpuIndex: 2, vcpuCount: 4, tscDeadline: true });
    const l1 = leaf(out, 1);
    expect(l1.ebx >>> 24).toBe(2);
    expect((l1.ebx >>> 16) & 0xff).toBe(4);
    expect((l1.ebx >>> 8) & 0xff).toBe(8);
    expect(l1.ecx >>> 31).toBe(1);
    expect((l1.ecx >>> 24) & 1).toBe(1);
    expect((l1.edx >>> 28) & 1).toBe(1);
    const single = leaf(vcpuCpuid(table('GenuineIntel'), { vcpuIndex: 0, vcpuCount: 1, tscDeadline: false }), 1);
    expect((single.edx >>> 28) & 1).toBe(0);
    expect((single.ecx >>> 24) & 1).toBe(0);
  });

  it('rebuilds leaves 0xb and 0x1f: one thread per core, N cores, x2APIC ID in EDX', () => {
    const out = vcpuCpuid(table('GenuineIntel'), { vcpuIndex: 3, vcpuCount: 6, tscDeadline: false });
    for (const fn of [0xb, 0x1f]) {
      const sub = out.filter((x) => x.function === fn).sort((a, b) => a.index - b.index);
      expect(sub.map((x) => [x.index, x.eax, x.ebx, x.ecx, x.edx, x.flags])).toEqual([
        [0, 0, 1, 0x100, 3, 1],
        [1, 3, 6, 0x201, 3, 1],
        [2, 0, 0, 2, 3, 1],
      ]);
    }
  });

  it('adds no topology leaves the CPU does not have', () => {
    const out = vcpuCpuid(table('GenuineIntel', 0xd).filter((x) => x.function !== 0x1f), { vcpuIndex: 0, vcpuCount: 2, tscDeadline: false });
    expect(out.some((x) => x.function === 0xb)).toBe(true);
    expect(out.some((x) => x.function === 0x1f)).toBe(false);
    const old = vcpuCpuid(table('GenuineIntel', 0xa), { vcpuIndex: 0, vcpuCount: 2, tscDeadline: false });
    expect(old.some((x) => x.function === 0xb)).toBe(false);
  });

  it('sets the core and sharing counts of Intel leaf 4', () => {
    const out = vcpuCpuid(table('GenuineIntel'), { vcpuIndex: 0, vcpuCount: 4, tscDeadline: false });
    expect(leaf(out, 4, 0).eax >>> 26).toBe(3);
    expect((leaf(out, 4, 0).eax >>> 14) & 0xfff).toBe(0);
    expect((leaf(out, 4, 1).eax >>> 14) & 0xfff).toBe(3);
    expect(leaf(out, 4, 1).eax & 0x3fff).toBe(0x0163);
  });

  it('sets the AMD core count and extended APIC ID', () => {
    const out = vcpuCpuid(table('AuthenticAMD'), { vcpuIndex: 5, vcpuCount: 8, tscDeadline: false });
    expect(leaf(out, 0x8000_0008).ecx).toBe((3 << 12) | 7);
    expect(leaf(out, 0x8000_001e)).toMatchObject({ eax: 5, ebx: 5, ecx: 0 });
    const intel = vcpuCpuid(table('GenuineIntel'), { vcpuIndex: 5, vcpuCount: 8, tscDeadline: false });
    expect(leaf(intel, 0x8000_001e)).toMatchObject({ eax: 7, ebx: 0x107 });
  });

  it('passes other leaves through and leaves its input alone', () => {
    const input = table('GenuineIntel');
    const before = JSON.stringify(input, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v));
    const out = vcpuCpuid(input, { vcpuIndex: 1, vcpuCount: 2, tscDeadline: false });
    expect(leaf(out, 0x4000_0000)).toEqual(leaf(input, 0x4000_0000));
    expect(JSON.stringify(input, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v))).toBe(before);
  });

  it('reads the KVM paravirtual features and the VMX bit', () => {
    const t = [...table('GenuineIntel'), e(0x4000_0001, 0, 0x0100_7afb, 0, 0, 0)];
    expect(kvmFeatures(t)).toBe(0x0100_7afb);
    expect(kvmFeatures(table('GenuineIntel'))).toBe(0);
    expect(hasVmx(t)).toBe(false);
    const vmx = t.map((x) => (x.function === 1 ? { ...x, ecx: x.ecx | 0x20 } : x));
    expect(hasVmx(vmx)).toBe(true);
    expect(hasVmx(vcpuCpuid(vmx, { vcpuIndex: 0, vcpuCount: 1, tscDeadline: false }))).toBe(true);
  });

  it('refuses vCPU counts that 8-bit APIC IDs cannot number', () => {
    expect(() => vcpuCpuid(table('GenuineIntel'), { vcpuIndex: 0, vcpuCount: 256, tscDeadline: false })).toThrow(/1\.\.255/);
  });
});
