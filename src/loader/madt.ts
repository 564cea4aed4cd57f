/**
 * An ACPI MADT ("APIC" table) for the machine's vCPUs: one enabled local APIC per vCPU (APIC ID =
 * index), the I/O APIC, the ISA IRQ0 -> GSI 2 override, and LINT1 as NMI on every processor.
 */
import { defineStruct } from '../format/layout.js';
import { IOAPIC_BASE, LAPIC_BASE } from '../arch/x86/q35-layout.js';

const AcpiHeader = defineStruct('ACPI_TABLE_HEADER+MADT', 44, [
  { name: 'signature', offset: 0, kind: { bytes: 4 } },
  { name: 'length', offset: 4, kind: 'u32' },
  { name: 'revision', offset: 8, kind: 'u8' },
  { name: 'checksum', offset: 9, kind: 'u8' },
  { name: 'oemId', offset: 10, kind: { bytes: 6 } },
  { name: 'oemTableId', offset: 16, kind: { bytes: 8 } },
  { name: 'oemRevision', offset: 24, kind: 'u32' },
  { name: 'creatorId', offset: 28, kind: { bytes: 4 } },
  { name: 'creatorRevision', offset: 32, kind: 'u32' },
  { name: 'localApicAddress', offset: 36, kind: 'u32' },
  { name: 'flags', offset: 40, kind: 'u32' },
] as const);

const LocalApic = defineStruct('MADT_LOCAL_APIC', 8, [
  { name: 'type', offset: 0, kind: 'u8' },
  { name: 'length', offset: 1, kind: 'u8' },
  { name: 'processorUid', offset: 2, kind: 'u8' },
  { name: 'apicId', offset: 3, kind: 'u8' },
  { name: 'flags', offset: 4, kind: 'u32' },
] as const);

const IoApic = defineStruct('MADT_IO_APIC', 12, [
  { name: 'type', offset: 0, kind: 'u8' },
  { name: 'length', offset: 1, kind: 'u8' },
  { name: 'ioApicId', offset: 2, kind: 'u8' },
  { name: 'reserved', offset: 3, kind: 'u8' },
  { name: 'address', offset: 4, kind: 'u32' },
  { name: 'gsiBase', offset: 8, kind: 'u32' },
] as const);

const SourceOverride = defineStruct('MADT_INTERRUPT_OVERRIDE', 10, [
  { name: 'type', offset: 0, kind: 'u8' },
  { name: 'length', offset: 1, kind: 'u8' },
  { name: 'bus', offset: 2, kind: 'u8' },
  { name: 'source', offset: 3, kind: 'u8' },
  { name: 'gsi', offset: 4, kind: 'u32' },
  { name: 'flags', offset: 8, kind: 'u16' },
] as const);

const LocalApicNmi = defineStruct('MADT_LOCAL_APIC_NMI', 6, [
  { name: 'type', offset: 0, kind: 'u8' },
  { name: 'length', offset: 1, kind: 'u8' },
  { name: 'processorUid', offset: 2, kind: 'u8' },
  { name: 'flags', offset: 3, kind: 'u16' },
  { name: 'lint', offset: 5, kind: 'u8' },
] as const);

const ascii = (s: string) => new TextEncoder().encode(s);
const PCAT_COMPAT = 1;
const LAPIC_ENABLED = 1;
/** The I/O APIC's ID follows the local APIC IDs. */
export const MAX_MADT_VCPUS = 255;

export function buildMadt(vcpuCount: number): Uint8Array {
  if (!Number.isInteger(vcpuCount) || vcpuCount < 1 || vcpuCount > MAX_MADT_VCPUS - 1) {
    throw new RangeError(`MADT: vCPU count ${vcpuCount} must be 1..${MAX_MADT_VCPUS - 1}`);
  }
  const length = AcpiHeader.size + vcpuCount * LocalApic.size + IoApic.size + SourceOverride.size + LocalApicNmi.size;
  const out = new Uint8Array(length);
  AcpiHeader.write(
    {
      signature: ascii('APIC'),
      length,
      revision: 3,
      checksum: 0,
      oemId: ascii('IGVMTS'),
      oemTableId: ascii('IGVMMADT'),
      oemRevision: 1,
      creatorId: ascii('IGTS'),
      creatorRevision: 1,
      localApicAddress: Number(LAPIC_BASE),
      flags: PCAT_COMPAT,
    },
    out,
  );
  let at = AcpiHeader.size;
  for (let i = 0; i < vcpuCount; i++, at += LocalApic.size) {
    LocalApic.write({ type: 0, length: LocalApic.size, processorUid: i, apicId: i, flags: LAPIC_ENABLED }, out, at);
  }
  IoApic.write({ type: 1, length: IoApic.size, ioApicId: vcpuCount, reserved: 0, address: Number(IOAPIC_BASE), gsiBase: 0 }, out, at);
  at += IoApic.size;
  SourceOverride.write({ type: 2, length: SourceOverride.size, bus: 0, source: 0, gsi: 2, flags: 0 }, out, at);
  at += SourceOverride.size;
  LocalApicNmi.write({ type: 4, length: LocalApicNmi.size, processorUid: 0xff, flags: 0, lint: 1 }, out, at);
  let sum = 0;
  for (const b of out) sum = (sum + b) & 0xff;
  out[9] = (0x100 - sum) & 0xff;
  return out;
}
