import { describe, expect, it } from 'vitest';
import { coalescePageRanges, type PageEntry, type PageFlags } from '../../src/cli/page-ranges.js';

const NONE: PageFlags = { is2mbPage: false, unmeasured: false, shared: false, reserved: 0 };
const UNMEASURED: PageFlags = { ...NONE, unmeasured: true };
const BIG: PageFlags = { ...NONE, is2mbPage: true };

/** A page: [gpa, options]; header indexes are assigned in order from 1. */
type P = [gpa: number, opts?: Partial<Omit<PageEntry, 'gpa' | 'headerIndex'>>];
/** A range: [start, end, count, first header, last header, extra checks]. */
type R = [start: number, end: number, count: number, first: number, last: number, extra?: Partial<{ kind: 'zero' | 'data'; mask: number; dataType: string }>];

function pages(list: P[]): PageEntry[] {
  return list.map(([gpa, o], i) => ({
    gpa: BigInt(gpa),
    compatibilityMask: o?.compatibilityMask ?? 1,
    dataType: o?.dataType ?? 'NORMAL',
    flags: o?.flags ?? NONE,
    hasData: o?.hasData ?? true,
    headerIndex: i + 1,
  }));
}

const cases: { name: string; pages: P[]; ranges: R[] }[] = [
  { name: 'no pages', pages: [], ranges: [] },
  { name: 'one page', pages: [[0x1000]], ranges: [[0x1000, 0x1fff, 1, 1, 1]] },
  { name: 'consecutive pages merge', pages: [[0], [0x1000], [0x2000]], ranges: [[0, 0x2fff, 3, 1, 3]] },
  { name: 'a gap splits', pages: [[0], [0x1000], [0x3000]], ranges: [[0, 0x1fff, 2, 1, 2], [0x3000, 0x3fff, 1, 3, 3]] },
  { name: 'descending GPAs do not merge', pages: [[0x2000], [0x1000]], ranges: [[0x2000, 0x2fff, 1, 1, 1], [0x1000, 0x1fff, 1, 2, 2]] },
  { name: 'the same GPA twice does not merge', pages: [[0x1000], [0x1000]], ranges: [[0x1000, 0x1fff, 1, 1, 1], [0x1000, 0x1fff, 1, 2, 2]] },
  {
    name: 'different masks split',
    pages: [[0], [0x1000, { compatibilityMask: 2 }]],
    ranges: [[0, 0xfff, 1, 1, 1, { mask: 1 }], [0x1000, 0x1fff, 1, 2, 2, { mask: 2 }]],
  },
  {
    name: 'different data types split',
    pages: [[0], [0x1000, { dataType: 'SECRETS' }], [0x2000, { dataType: 'SECRETS' }]],
    ranges: [[0, 0xfff, 1, 1, 1, { dataType: 'NORMAL' }], [0x1000, 0x2fff, 2, 2, 3, { dataType: 'SECRETS' }]],
  },
  {
    name: 'different flags split',
    pages: [[0], [0x1000, { flags: UNMEASURED }], [0x2000, { flags: UNMEASURED }], [0x3000]],
    ranges: [[0, 0xfff, 1, 1, 1], [0x1000, 0x2fff, 2, 2, 3], [0x3000, 0x3fff, 1, 4, 4]],
  },
  {
    name: 'different reserved flag bits split',
    pages: [[0], [0x1000, { flags: { ...NONE, reserved: 8 } }]],
    ranges: [[0, 0xfff, 1, 1, 1], [0x1000, 0x1fff, 1, 2, 2]],
  },
  {
    name: 'zero pages and data pages split',
    pages: [[0, { hasData: false }], [0x1000, { hasData: false }], [0x2000]],
    ranges: [[0, 0x1fff, 2, 1, 2, { kind: 'zero' }], [0x2000, 0x2fff, 1, 3, 3, { kind: 'data' }]],
  },
  {
    name: '2 MB pages step by 2 MiB',
    pages: [[0x200000, { flags: BIG }], [0x400000, { flags: BIG }], [0x401000, { flags: BIG }]],
    ranges: [[0x200000, 0x5fffff, 2, 1, 2], [0x401000, 0x600fff, 1, 3, 3]],
  },
  {
    name: 'above 4 GiB',
    pages: [[0xffff_f000], [0x1_0000_0000]],
    ranges: [[0xffff_f000, 0x1_0000_0fff, 2, 1, 2]],
  },
];

describe('coalescePageRanges', () => {
  it.each(cases)('$name', ({ pages: list, ranges }) => {
    const got = coalescePageRanges(pages(list));
    expect(got.length).toBe(ranges.length);
    ranges.forEach(([start, end, count, first, last, extra], i) => {
      const r = got[i];
      expect(r).toBeDefined();
      if (!r) return;
      expect([r.startGpa, r.endGpa, r.pageCount, r.firstHeaderIndex, r.lastHeaderIndex]).toEqual([BigInt(start), BigInt(end), count, first, last]);
      if (extra?.kind) expect(r.kind).toBe(extra.kind);
      if (extra?.mask) expect(r.compatibilityMask).toBe(extra.mask);
      if (extra?.dataType) expect(r.dataType).toBe(extra.dataType);
    });
  });

  it('keeps the total page count', () => {
    const list: P[] = Array.from({ length: 1000 }, (_, i) => [i * 0x1000 + (i >= 500 ? 0x10000 : 0)] as P);
    const got = coalescePageRanges(pages(list));
    expect(got.map((r) => r.pageCount)).toEqual([500, 500]);
  });

  it('accepts any iterable, consumed once', () => {
    function* gen(): Generator<PageEntry> {
      yield* pages([[0], [0x1000]]);
    }
    expect(coalescePageRanges(gen())).toHaveLength(1);
  });
});
