/**
 * The guest physical memory layout of the machine igvm-ts emulates, after QEMU's q35: RAM from 0,
 * all of it below 4 GiB up to 2.75 GiB, else 2 GiB below and the rest above 4 GiB; the 32-bit PCI
 * hole between, and fixed device ranges near the top of 4 GiB. Every magic address lives here.
 */

export const KiB = 1024n;
export const MiB = 1024n * KiB;
export const GiB = 1024n * MiB;
export const FOUR_GIB = 4n * GiB;

/** With this much RAM or more, RAM below 4 GiB ends at LOW_RAM_LIMIT and the rest goes above 4 GiB. */
export const LOW_RAM_SPLIT = 0xb000_0000n;
/** RAM below 4 GiB ends here when it is split (q35's lowmem). */
export const LOW_RAM_LIMIT = 2n * GiB;
export const IOAPIC_BASE = 0xfec0_0000n;
export const IOAPIC_SIZE = 0x1000n;
export const LAPIC_BASE = 0xfee0_0000n;
export const LAPIC_SIZE = 0x1000n;
/** KVM's identity-map page followed by the 3-page TSS area (KVM_SET_IDENTITY_MAP_ADDR / KVM_SET_TSS_ADDR). */
export const KVM_IDENTITY_MAP_ADDR = 0xfeff_c000n;
export const KVM_TSS_ADDR = 0xfeff_d000n;
export const KVM_PRIVATE_SIZE = 0x4000n;

export type E820Type = 'ram' | 'reserved' | 'acpi' | 'nvs' | 'unusable';

export interface E820Entry {
  readonly gpa: bigint;
  readonly size: bigint;
  readonly type: E820Type;
}

export interface DeviceRange {
  readonly name: string;
  readonly gpa: bigint;
  readonly size: bigint;
}

export interface MachineLayout {
  readonly ramSize: bigint;
  /** Guest RAM ranges, ascending. */
  readonly ram: readonly { readonly gpa: bigint; readonly size: bigint }[];
  /** The e820 table, in the order QEMU's pc_memory_init and KVM setup add entries. */
  readonly e820: readonly E820Entry[];
  /** Ranges that belong to devices or KVM: nothing may be loaded there. */
  readonly devices: readonly DeviceRange[];
}

export function q35Layout(ramSize: bigint): MachineLayout {
  if (ramSize <= 0n || ramSize % (4n * KiB) !== 0n) {
    throw new RangeError(`memory size ${ramSize} must be a positive multiple of 4 KiB`);
  }
  // As pc_q35_init: up to 2.75 GiB all below 4 GiB, from there 2 GiB below and the rest above.
  const low = ramSize < LOW_RAM_SPLIT ? ramSize : LOW_RAM_LIMIT;
  const high = ramSize - low;
  const ram = [{ gpa: 0n, size: low }, ...(high > 0n ? [{ gpa: FOUR_GIB, size: high }] : [])];
  const e820: E820Entry[] = [
    { gpa: 0n, size: low, type: 'ram' },
    { gpa: KVM_IDENTITY_MAP_ADDR, size: KVM_PRIVATE_SIZE, type: 'reserved' },
    ...(high > 0n ? [{ gpa: FOUR_GIB, size: high, type: 'ram' as const }] : []),
  ];
  const devices: DeviceRange[] = [
    { name: 'ioapic', gpa: IOAPIC_BASE, size: IOAPIC_SIZE },
    { name: 'lapic', gpa: LAPIC_BASE, size: LAPIC_SIZE },
    { name: 'kvm-tss', gpa: KVM_IDENTITY_MAP_ADDR, size: KVM_PRIVATE_SIZE },
  ];
  return { ramSize, ram, e820, devices };
}

const UNITS: Record<string, bigint> = { '': MiB, B: 1n, K: KiB, M: MiB, G: GiB, T: 1024n * GiB };

/** Parse a QEMU-style size (`256M`, `5G`, `1024`: a bare number means MiB, as in `-m`). */
export function parseMemorySize(text: string): bigint {
  const m = /^(\d+)([BKMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) throw new RangeError(`"${text}" is not a memory size (examples: 256M, 5G)`);
  return BigInt(m[1]!) * UNITS[m[2]!.toUpperCase()]!;
}
