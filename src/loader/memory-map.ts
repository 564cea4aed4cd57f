/**
 * The IGVM memory-map parameter from the machine's e820 table, as QEMU's qigvm_directive_memory_map
 * builds it (type mapping, sorted by GPA, whole 4 KiB pages), with its bugs fixed: the entries start
 * at the parameter's byte_offset, the capacity check is exact, and a zero terminator is written when
 * there is room for one.
 */
import { MemoryMapEntryType, type MemoryMapEntryTypeName } from '../format/constants.js';
import { MemoryMapEntry } from '../format/structs.js';
import type { E820Entry, E820Type } from '../arch/x86/q35-layout.js';

const ENTRY_SIZE = MemoryMapEntry.size;

/** e820 type -> IGVM entry type, as QEMU's SEV provider maps them (the native one knows only RAM/reserved). */
const TYPE_MAP: Record<E820Type, MemoryMapEntryTypeName> = {
  ram: 'MEMORY',
  reserved: 'PLATFORM_RESERVED',
  acpi: 'PLATFORM_RESERVED',
  nvs: 'PERSISTENT',
  unusable: 'PLATFORM_RESERVED',
};

export interface MemoryMapEntryValue {
  readonly startingGpaPageNumber: bigint;
  readonly numberOfPages: bigint;
  readonly entryType: MemoryMapEntryTypeName;
}

export function memoryMapEntries(e820: readonly E820Entry[]): MemoryMapEntryValue[] {
  return e820
    .map((e) => ({ startingGpaPageNumber: e.gpa >> 12n, numberOfPages: e.size >> 12n, entryType: TYPE_MAP[e.type] }))
    .sort((a, b) => (a.startingGpaPageNumber < b.startingGpaPageNumber ? -1 : a.startingGpaPageNumber > b.startingGpaPageNumber ? 1 : 0));
}

/** How many entries fit in `areaSize - byteOffset` bytes. */
export function memoryMapCapacity(areaSize: number, byteOffset: number): number {
  return byteOffset >= areaSize ? 0 : Math.floor((areaSize - byteOffset) / ENTRY_SIZE);
}

/** Encode entries followed by a terminator entry if `capacity` leaves room for one. */
export function encodeMemoryMap(entries: readonly MemoryMapEntryValue[], capacity: number): Uint8Array {
  const count = Math.min(capacity, entries.length + 1);
  const out = new Uint8Array(count * ENTRY_SIZE);
  entries.forEach((e, i) =>
    MemoryMapEntry.write(
      { ...e, entryType: MemoryMapEntryType.values[e.entryType], flags: 0, reserved: 0 },
      out,
      i * ENTRY_SIZE,
    ),
  );
  return out;
}
