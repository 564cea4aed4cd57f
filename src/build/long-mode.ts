/**
 * What a guest entered directly in 64-bit mode needs in memory: identity-mapped page tables and a
 * flat GDT, placed at GPAs the caller chooses, plus the matching native VP context.
 */
import { longMode64Context } from '../arch/x86/native-context.js';
import type { IgvmBuilder, NativeVpContextX64Fields } from '../format/index.js';

const PRESENT_WRITABLE = 0x3n;
const LARGE_PAGE = 0x80n;
const PAGE = 4096;

export interface PageTableOptions {
  /** GPA of the 4 KiB-aligned table area. */
  readonly base: bigint;
  /** Bytes of address space identity-mapped from 0 (a multiple of 2 MiB; default 4 GiB). */
  readonly mapSize?: bigint;
  /** '2M': PML4, PDPT and page directories of 2 MiB pages; '4K': page tables of 4 KiB pages too. */
  readonly pageSize?: '2M' | '4K';
}

export interface PageTables {
  readonly cr3: bigint;
  readonly bytes: Uint8Array;
}

/** Identity-mapped 4-level page tables for [0, mapSize), laid out from `base`. */
export function identityPageTables(options: PageTableOptions): PageTables {
  const mapSize = options.mapSize ?? 4n << 30n;
  const twoMiB = 2n << 20n;
  if (options.base % 4096n !== 0n || mapSize <= 0n || mapSize % twoMiB !== 0n || mapSize > 512n << 30n) {
    throw new RangeError('page tables: base must be 4 KiB aligned and mapSize a multiple of 2 MiB up to 512 GiB');
  }
  const directories = Number((mapSize + (1n << 30n) - 1n) >> 30n);
  const largePages = Number(mapSize / twoMiB);
  const pageTables = options.pageSize === '4K' ? largePages : 0;
  const tables = 2 + directories + pageTables;
  const bytes = new Uint8Array(tables * PAGE);
  const dv = new DataView(bytes.buffer);
  const at = (table: number) => options.base + BigInt(table * PAGE);
  dv.setBigUint64(0, at(1) | PRESENT_WRITABLE, true); // PML4[0] -> PDPT
  for (let d = 0; d < directories; d++) dv.setBigUint64(PAGE + d * 8, at(2 + d) | PRESENT_WRITABLE, true);
  for (let i = 0; i < largePages; i++) {
    const entry = 2 * PAGE + i * 8;
    if (pageTables === 0) {
      dv.setBigUint64(entry, (BigInt(i) * twoMiB) | PRESENT_WRITABLE | LARGE_PAGE, true);
      continue;
    }
    const table = 2 + directories + i;
    dv.setBigUint64(entry, at(table) | PRESENT_WRITABLE, true);
    for (let p = 0; p < 512; p++) {
      dv.setBigUint64(table * PAGE + p * 8, BigInt(i) * twoMiB + BigInt(p * PAGE) | PRESENT_WRITABLE, true);
    }
  }
  return { cr3: options.base, bytes };
}

/**
 * A flat GDT: null, 64-bit code at 0x08, data at 0x10 and 32-bit code at 0x18 (for guests that
 * start in 16- or 32-bit mode), all with base 0 and a 4 GiB limit.
 */
export function flatGdt64(): Uint8Array {
  const gdt = new Uint8Array(32);
  const dv = new DataView(gdt.buffer);
  dv.setBigUint64(8, 0x00af_9b00_0000_ffffn, true);
  dv.setBigUint64(16, 0x00cf_9300_0000_ffffn, true);
  dv.setBigUint64(24, 0x00cf_9b00_0000_ffffn, true);
  return gdt;
}

export const GDT_SELECTORS = { code64: 0x08, data: 0x10, code32: 0x18 } as const;

/** Add identity page tables and the flat GDT to `builder`; returns CR3 and the GDT limit. */
export function addPagingStructures(builder: IgvmBuilder, pageTables: PageTableOptions, gdtBase: bigint): { cr3: bigint; gdtLimit: number } {
  const tables = identityPageTables(pageTables);
  builder.addPageData(pageTables.base, tables.bytes);
  const gdt = flatGdt64();
  builder.addPageData(gdtBase, gdt);
  return { cr3: tables.cr3, gdtLimit: gdt.length - 1 };
}

export interface LongModeEntry {
  readonly entry: bigint;
  readonly pageTables: PageTableOptions;
  readonly gdtBase: bigint;
  readonly stack?: bigint;
  readonly rsi?: bigint;
}

/** Add page tables and a GDT to `builder` and return the native context that enters at `entry`. */
export function addLongModeEntry(builder: IgvmBuilder, options: LongModeEntry): NativeVpContextX64Fields {
  const { cr3, gdtLimit } = addPagingStructures(builder, options.pageTables, options.gdtBase);
  return longMode64Context({
    entry: options.entry,
    cr3,
    gdtrBase: options.gdtBase,
    gdtrLimit: gdtLimit,
    ...(options.stack === undefined ? {} : { stack: options.stack }),
    ...(options.rsi === undefined ? {} : { rsi: options.rsi }),
  });
}
