/**
 * Coalescing PAGE_DATA directives into GPA ranges, for display. A pure function of the page list.
 *
 * Pages are taken in file order. A page joins the range before it when its GPA is exactly the next page
 * after that range, and it has the same compatibility mask, data type, flags (all bits, reserved ones
 * included) and kind (zero page, i.e. file_offset 0, versus a page with file data). A page with the
 * 2 MB flag covers 2 MiB, so the next page of its range starts 2 MiB later; every other page covers
 * 4 KiB. Pages are never reordered: a file that lists GPAs out of order gives one range per run.
 */

export const PAGE_4K = 0x1000n;
export const PAGE_2M = 0x20_0000n;

export interface PageFlags {
  readonly is2mbPage: boolean;
  readonly unmeasured: boolean;
  readonly shared: boolean;
  /** Flag bits 3..31 as found in the file. */
  readonly reserved: number;
}

export interface PageEntry {
  readonly gpa: bigint;
  readonly compatibilityMask: number;
  readonly dataType: string;
  readonly flags: PageFlags;
  /** false for a zero page (file_offset 0). */
  readonly hasData: boolean;
  /** Index of the PAGE_DATA header among all headers of the file. */
  readonly headerIndex: number;
}

export interface PageRange {
  readonly startGpa: bigint;
  /** Last byte of the range (inclusive). */
  readonly endGpa: bigint;
  readonly pageCount: number;
  readonly compatibilityMask: number;
  readonly dataType: string;
  readonly flags: PageFlags;
  readonly kind: 'zero' | 'data';
  readonly firstHeaderIndex: number;
  readonly lastHeaderIndex: number;
}

function pageSpan(flags: PageFlags): bigint {
  return flags.is2mbPage ? PAGE_2M : PAGE_4K;
}

function sameFlags(a: PageFlags, b: PageFlags): boolean {
  return a.is2mbPage === b.is2mbPage && a.unmeasured === b.unmeasured && a.shared === b.shared && a.reserved === b.reserved;
}

interface OpenRange {
  startGpa: bigint;
  /** GPA where the next page of this range would start. */
  next: bigint;
  pageCount: number;
  first: PageEntry;
  lastHeaderIndex: number;
}

function close(r: OpenRange): PageRange {
  return {
    startGpa: r.startGpa,
    endGpa: r.next - 1n,
    pageCount: r.pageCount,
    compatibilityMask: r.first.compatibilityMask,
    dataType: r.first.dataType,
    flags: r.first.flags,
    kind: r.first.hasData ? 'data' : 'zero',
    firstHeaderIndex: r.first.headerIndex,
    lastHeaderIndex: r.lastHeaderIndex,
  };
}

function extends_(r: OpenRange, page: PageEntry): boolean {
  const f = r.first;
  return (
    page.gpa === r.next &&
    page.compatibilityMask === f.compatibilityMask &&
    page.dataType === f.dataType &&
    page.hasData === f.hasData &&
    sameFlags(page.flags, f.flags)
  );
}

/** Coalesce pages (in file order) into ranges; see the module comment for the rule. */
export function coalescePageRanges(pages: Iterable<PageEntry>): PageRange[] {
  const out: PageRange[] = [];
  let open: OpenRange | undefined;
  for (const page of pages) {
    if (open && extends_(open, page)) {
      open.next += pageSpan(page.flags);
      open.pageCount++;
      open.lastHeaderIndex = page.headerIndex;
      continue;
    }
    if (open) out.push(close(open));
    open = { startGpa: page.gpa, next: page.gpa + pageSpan(page.flags), pageCount: 1, first: page, lastHeaderIndex: page.headerIndex };
  }
  if (open) out.push(close(open));
  return out;
}
