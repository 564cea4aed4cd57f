// Guest RAM over real anonymous mappings (no KVM needed), with the KVM slot table recorded.
import { afterEach, describe, expect, it } from 'vitest';
import { resetState } from '../../src/arch/x86/boot-state.js';
import { q35Layout } from '../../src/arch/x86/q35-layout.js';
import type { KvmUserspaceMemoryRegion } from '../../src/vmm/kvm/abi.js';
import { GuestMemory, PhysicalAddressError } from '../../src/vmm/memory.js';

const MiB = 1n << 20n;
const GiB = 1n << 30n;

const opened: GuestMemory[] = [];
afterEach(() => {
  for (const m of opened.splice(0)) m.close();
});

function memory(size: bigint, maxSlots = 32) {
  const slots: KvmUserspaceMemoryRegion[] = [];
  const m = new GuestMemory(q35Layout(size), 2, { setUserMemoryRegion: (r) => slots.push(r) }, maxSlots);
  opened.push(m);
  return { m, slots };
}

describe('GuestMemory', () => {
  it('maps the layout RAM as KVM slots: below 4 GiB up to 2 GiB, the rest above', () => {
    const { m, slots } = memory(3n * GiB);
    expect(slots.map((s) => [s.slot, s.guest_phys_addr, s.memory_size])).toEqual([
      [0, 0n, 2n * GiB],
      [1, 4n * GiB, GiB],
    ]);
    expect(slots.every((s) => s.userspace_addr % 4096n === 0n && s.flags === 0)).toBe(true);
    expect(m.vcpuCount).toBe(2);
    expect(m.e820).toEqual(q35Layout(3n * GiB).e820);
    expect(m.regionList.map((r) => r.name)).toEqual(['ram-below-4g', 'ram-above-4g']);
  });

  it('writes and reads back, zero-filled elsewhere', () => {
    const { m } = memory(16n * MiB);
    m.write(0x1000n, Uint8Array.of(1, 2, 3));
    expect([...m.read(0xfffn, 5)]).toEqual([0, 1, 2, 3, 0]);
    m.zero(0x1001n, 1n);
    expect([...m.read(0x1000n, 3)]).toEqual([1, 0, 3]);
  });

  it('crosses the 1 GiB boundary between native views', () => {
    const { m } = memory(2n * GiB);
    const at = GiB - 8n;
    m.write(at, Uint8Array.from({ length: 16 }, (_, i) => i + 1));
    expect([...m.read(at, 16)]).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect([...m.read(GiB, 2)]).toEqual([9, 10]);
  });

  it('zeroes large ranges by dropping whole pages, keeping the bytes around them', () => {
    const { m } = memory(16n * MiB);
    m.write(0x10_0000n - 4n, new Uint8Array(0x20_0010).fill(0xaa));
    m.zero(0x10_0000n - 2n, 0x20_0004n);
    expect([...m.read(0x10_0000n - 4n, 4)]).toEqual([0xaa, 0xaa, 0, 0]);
    expect(m.read(0x10_0000n, 0x20_0000).every((b) => b === 0)).toBe(true);
    expect([...m.read(0x30_0000n, 4)]).toEqual([0, 0, 0xaa, 0xaa]);
  });

  it('refuses accesses that leave guest RAM, changing nothing', () => {
    const { m } = memory(16n * MiB);
    const end = 16n * MiB;
    expect(() => m.write(end - 2n, Uint8Array.of(1, 2, 3, 4))).toThrow('guest write at 0xfffffe (+0x4) reaches 0x1000000, which is not guest RAM');
    expect([...m.read(end - 2n, 2)]).toEqual([0, 0]);
    expect(() => m.read(end, 1)).toThrow(/not guest RAM/);
    expect(() => m.zero(end - 4096n, 8192n)).toThrow(/not guest RAM/);
  });

  it('probes like the loader expects: RAM, devices, holes, partial', () => {
    const { m } = memory(16n * MiB);
    expect(m.probe(0n, 4096n)).toEqual({ kind: 'ram' });
    expect(m.probe(0xfee0_0000n, 4096n)).toEqual({ kind: 'device', name: 'lapic' });
    expect(m.probe(0xffe0_0000n, 2n * MiB)).toEqual({ kind: 'unmapped' });
    expect(m.probe(16n * MiB - 4096n, 8192n)).toEqual({ kind: 'partial' });
  });

  it('creates RAM where nothing is mapped (igvm.N regions) as new slots', () => {
    const { m, slots } = memory(16n * MiB);
    m.addRam(0xffe0_0000n, 2n * MiB, 'igvm.5');
    expect(slots.at(-1)).toMatchObject({ slot: 1, guest_phys_addr: 0xffe0_0000n, memory_size: 2n * MiB });
    expect(m.probe(0xffe0_0000n, 2n * MiB)).toEqual({ kind: 'ram' });
    m.write(0xffff_fff0n, Uint8Array.of(0xea));
    expect(m.read(0xffff_fff0n, 1)[0]).toBe(0xea);
    expect(() => m.addRam(0x1000n, 4096n, 'overlap')).toThrow(/overlaps RAM/);
    expect(() => m.addRam(0xfee0_0000n, 4096n, 'apic')).toThrow(/overlaps lapic/);
    expect(() => m.addRam(0xd000_0800n, 4096n, 'unaligned')).toThrow(/whole 4 KiB pages/);
  });

  it('resets to power-on: RAM zeroed, created regions unmapped and their slots deleted and reused', () => {
    const { m, slots } = memory(16n * MiB);
    m.write(0x2000n, Uint8Array.of(7));
    m.addRam(0xffe0_0000n, 2n * MiB, 'igvm.5');
    m.setBootCpuState(resetState());
    slots.length = 0;
    m.reset();
    expect(slots).toEqual([expect.objectContaining({ slot: 1, guest_phys_addr: 0xffe0_0000n, memory_size: 0n })]);
    expect(m.read(0x2000n, 1)[0]).toBe(0);
    expect(m.probe(0xffe0_0000n, 2n * MiB)).toEqual({ kind: 'unmapped' });
    expect(() => m.read(0xffe0_0000n, 1)).toThrow(/not guest RAM/);
    expect(m.bootCpuState).toBeUndefined();
    m.addRam(0xffe0_0000n, 2n * MiB, 'igvm.5');
    expect(slots.at(-1)).toMatchObject({ slot: 1, memory_size: 2n * MiB });
    expect(m.read(0xffff_fff0n, 1)[0]).toBe(0);
  });

  it('stops at the slot limit KVM reports', () => {
    const { m } = memory(16n * MiB, 2);
    m.addRam(0xd000_0000n, 4096n, 'igvm.1');
    expect(() => m.addRam(0xd000_1000n, 4096n, 'igvm.2')).toThrow('RAM region igvm.2 needs memory slot 2, but KVM offers 2');
    expect(m.probe(0xd000_1000n, 4096n)).toEqual({ kind: 'unmapped' });
  });

  it('is unusable once closed', () => {
    const { m } = memory(16n * MiB);
    m.close();
    expect(() => m.read(0n, 1)).toThrow(/closed/);
    m.close();
  });

  it('refuses RAM beyond the guest physical-address width, naming it, before any slot', () => {
    const slots: KvmUserspaceMemoryRegion[] = [];
    // 6 GiB reaches 0x1_8000_0000 (RAM above 4 GiB), beyond a 32-bit width.
    expect(() => new GuestMemory(q35Layout(6n * GiB), 1, { setUserMemoryRegion: (r) => slots.push(r) }, 32, 32)).toThrow(
      /^RAM region ram-above-4g at 0x100000000 \(\+0x100000000\) ends beyond 0x100000000, the 32-bit guest physical-address width/,
    );
    const { m } = memory(64n * MiB);
    expect(() => m.addRam(1n << 52n, 4096n, 'igvm.0')).toThrow(PhysicalAddressError);
  });

  it('touches no RAM the file does not write: views are made on first access', () => {
    const { m } = memory(64n * GiB);
    m.write(0x10_0000n, Uint8Array.of(1, 2, 3));
    expect(m.read(0x10_0000n, 3)).toEqual(Uint8Array.of(1, 2, 3));
    expect(m.read(60n * GiB, 2)).toEqual(new Uint8Array(2));
  });
});
