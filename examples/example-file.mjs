// Builds the bundled example: a native-mode IGVM file that enters a 64-bit guest at 1 MiB with
// identity-mapped page tables, a GDT, and a parameter area that the loader fills with the memory
// map and the vCPU count.
import { IgvmBuilder } from '../dist/format/index.js';
import { longMode64Context } from '../dist/arch/x86/index.js';

const PML4 = 0x1000n;
const PDPT = 0x2000n;
const PD = 0x3000n;
const GDT = 0x4000n;
const PARAMS = 0x5000n;
const ENTRY = 0x10_0000n;

function pageTables() {
  const bytes = new Uint8Array(3 * 4096);
  const dv = new DataView(bytes.buffer);
  dv.setBigUint64(0, PDPT | 0x3n, true); // PML4[0] -> PDPT, present + writable
  dv.setBigUint64(4096, PD | 0x3n, true); // PDPT[0] -> PD
  for (let i = 0n; i < 512n; i++) dv.setBigUint64(8192 + Number(i) * 8, (i << 21n) | 0x83n, true); // 2 MiB pages
  return bytes;
}

function gdt() {
  const bytes = new Uint8Array(24);
  const dv = new DataView(bytes.buffer);
  dv.setBigUint64(8, 0x00af9b000000ffffn, true); // 0x08: 64-bit code
  dv.setBigUint64(16, 0x00cf93000000ffffn, true); // 0x10: data
  return bytes;
}

export function buildExample() {
  const b = new IgvmBuilder({ formatVersion: 1 });
  b.addPlatform('NATIVE');
  b.addPageData(PML4, pageTables());
  b.addPageData(GDT, gdt());
  // mov $0x2a, %eax; out %al, $0xf4 (isa-debug-exit); hlt; jmp .-1
  b.addPageData(ENTRY, Uint8Array.of(0xb8, 0x2a, 0, 0, 0, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd));
  const area = b.addParameterArea(4096n);
  b.addParameter('VP_COUNT_PARAMETER', area, 0);
  b.addParameter('MEMORY_MAP', area, 8);
  b.addParameterInsert(area, PARAMS);
  b.addRequiredMemory(0n, 2 * 1024 * 1024);
  b.setNativeContext(longMode64Context({ entry: ENTRY, cr3: PML4, gdtrBase: GDT, gdtrLimit: 23, stack: 0x8_0000n, rsi: PARAMS }));
  return b.serialize();
}
