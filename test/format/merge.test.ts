/**
 * mergeIgvm against the reference's `IgvmFile::merge` / `merge_simple` (microsoft/igvm e6c3ff1,
 * igvm/src/lib.rs; igvm-format.md §5.6): the merged vector v1_merged_vsm_snp byte for byte, the
 * crate's own `test_merge_*` cases transcribed onto our model, the error cases, the reference quirks
 * we keep, and properties (per-platform contents survive a merge; the indexed dedup agrees with a
 * plain transcription of the reference's loop).
 */
import fc from 'fast-check';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  equivalentDirectives,
  IgvmBuilder,
  mergeIgvm,
  parseIgvm,
  serializeIgvm,
  type DirectiveHeader,
  type IgvmFile,
  type IgvmRevision,
  type PageDataHeader,
  type ParameterAreaHeader,
  type ParameterInsertHeader,
  type ParameterUsageHeader,
  type PlatformHeader,
  type PlatformTypeName,
  type RequiredMemoryHeader,
} from '../../src/format/index.js';
import { formatErrorOf } from '../helpers/errors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const vectorsDir = path.resolve(repoRoot, '../shared/vectors');
const MERGED_VECTOR = path.join(vectorsDir, 'v1_merged_vsm_snp.igvm');
const haveMergedVector = existsSync(MERGED_VECTOR);
if (!haveMergedVector) console.warn(`[merge] ${MERGED_VECTOR} not found: skipping the v1_merged_vsm_snp byte comparison`);

// ---- model pieces (the reference test helpers, onto our model) ----

const V1: IgvmRevision = { formatVersion: 1 };
const PAGE = 4096n;

const filled = (byte: number, length = 4096): Uint8Array => new Uint8Array(length).fill(byte);
const data1 = filled(1);
const data2 = filled(2);
const data3 = filled(3);
const data4 = filled(4);

function platform(compatibilityMask: number, platformType: PlatformTypeName): PlatformHeader {
  return { type: 'SUPPORTED_PLATFORM', compatibilityMask, highestVtl: 0, platformType, platformVersion: 1, sharedGpaBoundary: 0n };
}

/** `new_page_data(page, mask, data)`. */
function page(pageNumber: number, compatibilityMask: number, data: Uint8Array): PageDataHeader {
  return {
    type: 'PAGE_DATA',
    gpa: BigInt(pageNumber) * PAGE,
    compatibilityMask,
    flags: { is2mbPage: false, unmeasured: false, shared: false, reserved: 0 },
    dataType: 'NORMAL',
    data,
  };
}

function area(parameterAreaIndex: number): ParameterAreaHeader {
  return { type: 'PARAMETER_AREA', numberOfBytes: 4096n, parameterAreaIndex, initialData: new Uint8Array(0) };
}

function usage(parameterAreaIndex: number): ParameterUsageHeader {
  return { type: 'VP_COUNT_PARAMETER', parameterAreaIndex, byteOffset: 0 };
}

function insert(pageNumber: number, parameterAreaIndex: number, compatibilityMask: number): ParameterInsertHeader {
  return { type: 'PARAMETER_INSERT', gpa: BigInt(pageNumber) * PAGE, compatibilityMask, parameterAreaIndex };
}

function required(gpa: bigint, compatibilityMask: number, numberOfBytes = 0x2000, vtl2Protectable = false, reservedFlags = 0): RequiredMemoryHeader {
  return { type: 'REQUIRED_MEMORY', gpa, compatibilityMask, numberOfBytes, vtl2Protectable, reservedFlags };
}

function file(platforms: PlatformHeader[], directives: DirectiveHeader[], revision: IgvmRevision = V1): IgvmFile {
  return { revision, platforms, initializations: [], directives };
}


function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

// ---- the vector ----

describe('vector v1_merged_vsm_snp (§6.3)', () => {
  // a = VSM{page0=01s, page 0x1000=02s}; b = SNP{policy 0x30000, page0=01s, page 0x2000=03s}; a.merge(b)
  const build = (): IgvmFile => {
    const a = new IgvmBuilder();
    a.addPlatform('VSM_ISOLATION');
    a.addPageData(0n, filled(1));
    a.addPageData(0x1000n, filled(2));
    const b = new IgvmBuilder();
    b.addPlatform('SEV_SNP');
    b.addGuestPolicy(0x30000n);
    b.addPageData(0n, filled(1));
    b.addPageData(0x2000n, filled(3));
    return mergeIgvm(a.build(), b.build());
  };

  it('merges to the header list of §6.3', () => {
    const m = build();
    expect(m.platforms).toEqual([platform(1, 'VSM_ISOLATION'), platform(2, 'SEV_SNP')]);
    expect(m.initializations).toEqual([{ type: 'GUEST_POLICY', policy: 0x30000n, compatibilityMask: 2 }]);
    expect(m.directives).toEqual([page(0, 3, data1), page(2, 2, data3), page(1, 1, data2)]);
  });

  it.skipIf(!haveMergedVector)('serializes byte for byte to the reference file', () => {
    const expected = new Uint8Array(readFileSync(MERGED_VECTOR));
    const bytes = serializeIgvm(build());
    expect(bytes.length).toBe(expected.length);
    expect(firstDifference(bytes, expected)).toBe(-1);
  });

  it('parses back with the platform filters of §6.3', () => {
    const bytes = serializeIgvm(build());
    const snp = parseIgvm(bytes, { platform: 'SEV_SNP' });
    expect([snp.platforms.length, snp.initializations.length, snp.directives.length]).toEqual([2, 1, 2]);
    const tdx = parseIgvm(bytes, { platform: 'TDX' });
    expect(tdx.directives.length).toBe(3);
  });
});

// ---- the crate's test_merge_* cases ----

describe('reference crate tests, transcribed', () => {
  const vsmPages = () => [
    page(0, 1, data1), page(1, 1, data2), page(2, 1, data3), page(4, 1, data4),
    page(10, 1, data1), page(11, 1, data2), page(12, 1, data3), page(14, 1, data4),
  ];
  const snpPages = () => [
    page(0, 1, data1), page(1, 1, data2), page(2, 1, data3), page(4, 1, data4),
    page(20, 1, data1), page(21, 1, data2), page(22, 1, data3), page(24, 1, data4),
  ];

  it('test_merge_basic: both files use mask 1; b is remapped to 2 and shared pages are ORed to 3', () => {
    const a = file([platform(1, 'VSM_ISOLATION')], vsmPages());
    const b = file([platform(1, 'SEV_SNP')], snpPages());
    expect(mergeIgvm(a, b)).toEqual(
      file(
        [platform(1, 'VSM_ISOLATION'), platform(2, 'SEV_SNP')],
        [
          page(0, 3, data1), page(1, 3, data2), page(2, 3, data3), page(4, 3, data4),
          page(20, 2, data1), page(21, 2, data2), page(22, 2, data3), page(24, 2, data4),
          page(10, 1, data1), page(11, 1, data2), page(12, 1, data3), page(14, 1, data4),
        ],
      ),
    );
  });

  it('test_merge_simple: merge_simple appends b (masks remapped, nothing deduplicated)', () => {
    const a = file([platform(1, 'VSM_ISOLATION')], vsmPages());
    const b = file([platform(1, 'SEV_SNP')], snpPages());
    expect(mergeIgvm(a, b, { simple: true })).toEqual(
      file(
        [platform(1, 'VSM_ISOLATION'), platform(2, 'SEV_SNP')],
        [...vsmPages(), ...snpPages().map((p) => ({ ...p, compatibilityMask: 2 }))],
      ),
    );
  });

  it('test_multiple_compat_masks: three files merged in turn; a mask 2 in c is remapped to 4', () => {
    const a = file([platform(1, 'VSM_ISOLATION')], [page(0, 1, data1), page(1, 1, data2)]);
    const b = file([platform(1, 'SEV_SNP')], [page(0, 1, data1), page(1, 1, data2)]);
    const c = file([platform(2, 'TDX')], [page(0, 2, data1), page(1, 2, data2)]);
    expect(mergeIgvm(mergeIgvm(a, b), c)).toEqual(
      file(
        [platform(1, 'VSM_ISOLATION'), platform(2, 'SEV_SNP'), platform(4, 'TDX')],
        [page(0, 7, data1), page(1, 7, data2)],
      ),
    );
  });

  it('test_merge_page_data_should_not_merge: same gpa, different data', () => {
    const a = file([platform(1, 'VSM_ISOLATION')], [page(0, 1, data2), page(1, 1, data1)]);
    const b = file([platform(1, 'SEV_SNP')], [page(0, 1, data1), page(1, 1, data2)]);
    expect(mergeIgvm(a, b).directives).toEqual([page(0, 2, data1), page(1, 2, data2), page(0, 1, data2), page(1, 1, data1)]);
  });

  it('test_merge_stable_ordering: a match far ahead makes the headers of b in between land after it', () => {
    const a = file([platform(1, 'VSM_ISOLATION')], vsmPages());
    const b = file(
      [platform(1, 'SEV_SNP')],
      [
        page(0, 1, data1), page(14, 1, data4), page(1, 1, data2), page(2, 1, data3),
        page(4, 1, data4), page(10, 1, data1), page(11, 1, data2), page(12, 1, data3),
      ],
    );
    expect(mergeIgvm(a, b).directives).toEqual([
      page(0, 3, data1), page(1, 1, data2), page(2, 1, data3), page(4, 1, data4),
      page(10, 1, data1), page(11, 1, data2), page(12, 1, data3), page(14, 3, data4),
      page(1, 2, data2), page(2, 2, data3), page(4, 2, data4),
      page(10, 2, data1), page(11, 2, data2), page(12, 2, data3),
    ]);
  });

  it('test_merge_parameter_areas: colliding indices move to the lowest unused one; usages and inserts follow', () => {
    const a = file(
      [platform(1, 'VSM_ISOLATION')],
      [area(1), area(2), area(7), usage(1), usage(2), usage(7), insert(1, 1, 1), insert(2, 2, 1), insert(10, 7, 1)],
    );
    const b = file(
      [platform(1, 'SEV_SNP')],
      [area(1), area(2), area(10), usage(1), usage(2), usage(10), insert(1, 1, 1), insert(4, 2, 1), insert(12, 10, 1)],
    );
    // 1 -> 0 (lowest unused of {1,2,7}), 2 -> 3 (lowest unused of {0,1,2,7}), 10 kept.
    expect(mergeIgvm(a, b)).toEqual(
      file(
        [platform(1, 'VSM_ISOLATION'), platform(2, 'SEV_SNP')],
        [
          area(0), area(3), area(10), usage(0), usage(3), usage(10), insert(1, 0, 2), insert(4, 3, 2), insert(12, 10, 2),
          area(1), area(2), area(7), usage(1), usage(2), usage(7), insert(1, 1, 1), insert(2, 2, 1), insert(10, 7, 1),
        ],
      ),
    );
  });
});

// ---- errors ----

describe('errors', () => {
  it('different revisions → MergeRevision', () => {
    const a = file([platform(1, 'VSM_ISOLATION')], [page(0, 1, data1)]);
    const b = file([platform(1, 'SEV_SNP')], [page(0, 1, data1)], { formatVersion: 2, architecture: 'X64', pageSize: 4096 });
    expect(formatErrorOf(() => mergeIgvm(a, b)).code).toBe('MergeRevision');
    expect(formatErrorOf(() => mergeIgvm(b, a)).code).toBe('MergeRevision');
    const arm = file([platform(1, 'VSM_ISOLATION')], [page(0, 1, data1)], { formatVersion: 2, architecture: 'AARCH64', pageSize: 4096 });
    expect(formatErrorOf(() => mergeIgvm(b, arm)).code).toBe('MergeRevision');
  });

  it('a platform type in both files → MultiplePlatformHeadersWithSameIsolation', () => {
    const a = file([platform(1, 'VSM_ISOLATION'), platform(2, 'SEV_SNP')], [page(0, 3, data1)]);
    const b = file([platform(1, 'SEV_SNP')], [page(0, 1, data1)]);
    const e = formatErrorOf(() => mergeIgvm(a, b));
    expect(e.code).toBe('MultiplePlatformHeadersWithSameIsolation');
    expect(e.headerType).toContain('b.platforms[0]');
  });

  it('every platform of the combined list is checked', () => {
    const a = file([platform(1, 'VSM_ISOLATION')], [page(0, 1, data1)]);
    const bad = file([{ ...platform(1, 'SEV_SNP'), highestVtl: 1 }], [page(0, 1, data1)]);
    expect(formatErrorOf(() => mergeIgvm(a, bad)).code).toBe('InvalidVtl');
  });

  it('a parameter area declared twice in b (the reference panics) → InvalidParameterAreaIndex', () => {
    const a = file([platform(1, 'VSM_ISOLATION')], [page(0, 1, data1), area(0)]);
    const b = file([platform(1, 'SEV_SNP')], [page(0, 1, data1), area(0), area(0)]);
    expect(formatErrorOf(() => mergeIgvm(a, b)).code).toBe('InvalidParameterAreaIndex');
  });

  it('two colliding platforms of b on one mask (the reference asserts) → InvalidModel', () => {
    const a = file([platform(1, 'TDX')], [page(0, 1, data1)]);
    const b = file([platform(1, 'VSM_ISOLATION'), platform(1, 'SEV_SNP')], [page(0, 1, data1)]);
    expect(formatErrorOf(() => mergeIgvm(a, b)).code).toBe('InvalidModel');
  });
});

// ---- details of the semantics ----

describe('mask and index remapping', () => {
  it('only colliding masks are remapped, to the lowest free bit', () => {
    const a = file([platform(1, 'VSM_ISOLATION'), platform(4, 'TDX')], [page(0, 5, data1)]);
    const b = file([platform(2, 'SEV_SNP'), platform(1, 'NATIVE')], [page(0, 3, data1), page(1, 1, data2)]);
    const m = mergeIgvm(a, b);
    // SEV_SNP (2) does not collide and keeps 2; NATIVE (1) collides: used = 0b101, lowest free bit 1 -> 2 (!).
    expect(m.platforms.map((p) => [p.platformType, p.compatibilityMask])).toEqual([
      ['VSM_ISOLATION', 1], ['TDX', 4], ['SEV_SNP', 2], ['NATIVE', 2],
    ]);
  });

  it('init headers and every directive mask of b are rewritten', () => {
    const a = file([platform(1, 'VSM_ISOLATION'), platform(2, 'TDX')], [page(0, 3, data1)]);
    const b: IgvmFile = {
      revision: V1,
      platforms: [platform(1, 'SEV_SNP')],
      initializations: [{ type: 'GUEST_POLICY', policy: 0x30000n, compatibilityMask: 1 }],
      directives: [page(5, 1, data2), area(0), usage(0), insert(9, 0, 1), required(0x10_0000n, 1)],
    };
    const m = mergeIgvm(a, b);
    expect(m.platforms[2]).toEqual(platform(4, 'SEV_SNP'));
    expect(m.initializations).toEqual([{ type: 'GUEST_POLICY', policy: 0x30000n, compatibilityMask: 4 }]);
    expect(m.directives).toEqual([page(5, 4, data2), area(0), usage(0), insert(9, 0, 4), required(0x10_0000n, 4), page(0, 3, data1)]);
  });

  it('a mask of several bits is rewritten one bit at a time, lowest first, as the reference does (map {1→2, 2→4}: 3 → 4)', () => {
    // Reference fixup_mask: old bit 1 -> (3 & ~1) | 2 = 2; then old bit 2 -> (2 & ~2) | 4 = 4.
    const a = file([platform(1, 'TDX')], [page(0, 1, data1)]);
    const b = file([platform(1, 'VSM_ISOLATION'), platform(2, 'SEV_SNP')], [page(1, 3, data2), page(2, 1, data3), page(3, 2, data4)]);
    const m = mergeIgvm(a, b);
    expect(m.platforms.map((p) => p.compatibilityMask)).toEqual([1, 2, 4]);
    expect(m.directives.map((d) => (d.type === 'PAGE_DATA' ? [Number(d.gpa / PAGE), d.compatibilityMask] : []))).toEqual([
      [1, 4], [2, 2], [3, 4], [0, 1],
    ]);
  });

  it('a kept index of b can meet a remapped one (the reference returns that file; validation refuses it)', () => {
    // used {0}; b's area 1 does not collide (kept, not recorded), b's area 0 collides -> lowest unused = 1.
    const a = file([platform(1, 'VSM_ISOLATION')], [page(0, 1, data1), area(0)]);
    const b = file([platform(1, 'SEV_SNP')], [page(0, 1, data1), area(1), area(0)]);
    expect(formatErrorOf(() => mergeIgvm(a, b)).code).toBe('InvalidParameterAreaIndex');
  });
});

describe('equivalence', () => {
  const base = page(3, 1, data1);

  it('PAGE_DATA: mask ignored; gpa, flags, data type and bytes compared', () => {
    expect(equivalentDirectives(base, { ...base, compatibilityMask: 6 })).toBe(true);
    expect(equivalentDirectives(base, { ...base, gpa: 0x4000n })).toBe(false);
    expect(equivalentDirectives(base, { ...base, dataType: 'SECRETS' })).toBe(false);
    expect(equivalentDirectives(base, { ...base, flags: { ...base.flags, unmeasured: true } })).toBe(false);
    expect(equivalentDirectives(base, { ...base, flags: { ...base.flags, reserved: 8 } })).toBe(false);
    expect(equivalentDirectives(base, { ...base, data: filled(1, 4095) })).toBe(false);
    expect(equivalentDirectives(base, { ...base, data: filled(1) })).toBe(true);
  });

  it('PAGE_DATA: an empty (zero) page is not 4096 zero bytes', () => {
    const zero = page(0, 1, new Uint8Array(0));
    expect(equivalentDirectives(zero, { ...zero, data: new Uint8Array(4096) })).toBe(false);
    const a = file([platform(1, 'VSM_ISOLATION')], [zero, page(1, 1, data1)]);
    const b = file([platform(1, 'SEV_SNP')], [page(0, 1, new Uint8Array(4096)), page(1, 1, data1)]);
    expect(mergeIgvm(a, b).directives).toEqual([page(0, 2, new Uint8Array(4096)), zero, page(1, 3, data1)]);
  });

  it('REQUIRED_MEMORY: mask (and the flag bits the reference does not keep) ignored; masks ORed on a hit', () => {
    const r = required(0x20_0000n, 1);
    expect(equivalentDirectives(r, { ...r, compatibilityMask: 2, reservedFlags: 6 })).toBe(true);
    expect(equivalentDirectives(r, { ...r, vtl2Protectable: true })).toBe(false);
    expect(equivalentDirectives(r, { ...r, numberOfBytes: 0x1000 })).toBe(false);
    const a = file([platform(1, 'VSM_ISOLATION')], [page(0, 1, data1), r]);
    const b = file([platform(1, 'SEV_SNP')], [required(0x20_0000n, 1, 0x2000, false, 6)]);
    expect(mergeIgvm(a, b).directives).toEqual([page(0, 1, data1), required(0x20_0000n, 3)]);
  });

  it('other headers need full equality, mask included', () => {
    const i = insert(4, 0, 1);
    expect(equivalentDirectives(i, { ...i })).toBe(true);
    expect(equivalentDirectives(i, { ...i, compatibilityMask: 2 })).toBe(false);
    expect(equivalentDirectives(usage(0), usage(0))).toBe(true);
    expect(equivalentDirectives(usage(0), { ...usage(0), type: 'MEMORY_MAP' })).toBe(false);
    expect(equivalentDirectives(area(0), { ...area(0), initialData: filled(1, 16) })).toBe(false);
    // A header of b with a mask bit no platform of a owns (so not remapped) that equals one of a: merged, unchanged.
    const a = file([platform(1, 'VSM_ISOLATION')], [page(0, 1, data1), { type: 'ERROR_RANGE', gpa: 0x5000n, compatibilityMask: 2, sizeBytes: 0x1000 }]);
    const b = file([platform(2, 'SEV_SNP')], [{ type: 'ERROR_RANGE', gpa: 0x5000n, compatibilityMask: 2, sizeBytes: 0x1000 }, page(0, 2, data1)]);
    // The hit on a's ERROR_RANGE moves the insertion point past it, so b's page (equivalent to a's
    // first page, now behind the window) is inserted at the end.
    expect(mergeIgvm(a, b).directives).toEqual([
      page(0, 1, data1),
      { type: 'ERROR_RANGE', gpa: 0x5000n, compatibilityMask: 2, sizeBytes: 0x1000 },
      page(0, 2, data1),
    ]);
  });
});

describe('purity', () => {
  it('leaves both inputs as they were and shares payload bytes', () => {
    const makeA = () =>
      file([platform(1, 'VSM_ISOLATION')], [page(0, 1, data1), page(1, 1, data2), area(0), usage(0), insert(8, 0, 1), required(0x10_0000n, 1)]);
    const makeB = (): IgvmFile => ({
      ...file([platform(1, 'SEV_SNP')], [page(0, 1, data1), page(2, 1, data3), area(0), usage(0), insert(9, 0, 1), required(0x10_0000n, 1)]),
      initializations: [{ type: 'GUEST_POLICY', policy: 0x30000n, compatibilityMask: 1 }],
    });
    const a = makeA();
    const b = makeB();
    for (const simple of [false, true]) {
      const m = mergeIgvm(a, b, { simple });
      expect(a).toEqual(makeA());
      expect(b).toEqual(makeB());
      // No header object of the result is one of the inputs'.
      const inputs = new Set<object>([...a.platforms, ...a.directives, ...b.platforms, ...b.initializations, ...b.directives]);
      for (const h of [...m.platforms, ...m.initializations, ...m.directives]) expect(inputs.has(h)).toBe(false);
      const firstPage = m.directives[0];
      expect(firstPage?.type === 'PAGE_DATA' && firstPage.data).toBe(data1);
    }
  });
});

// ---- properties ----

/** A plain transcription of the reference's `merge_dedup_directives` loop (splicing into a list). */
function referenceDedup(self: DirectiveHeader[], other: readonly DirectiveHeader[]): DirectiveHeader[] {
  const out = self.map((h) => structuredClone(h));
  let insertIndex = 0;
  outer: for (const o of other) {
    for (let i = out.length - 1; i >= insertIndex; i--) {
      const h = out[i]!;
      if (equivalentDirectives(h, o)) {
        if ('compatibilityMask' in h && 'compatibilityMask' in o) h.compatibilityMask |= o.compatibilityMask;
        insertIndex = i + 1;
        continue outer;
      }
    }
    out.splice(insertIndex, 0, structuredClone(o));
    insertIndex++;
  }
  return out;
}

const X64_PLATFORMS: readonly PlatformTypeName[] = ['NATIVE', 'VSM_ISOLATION', 'SEV_SNP', 'TDX', 'SEV', 'SEV_ES'];

describe('properties', () => {
  const smallPage = fc.record({
    page: fc.integer({ min: 0, max: 5 }),
    fill: fc.integer({ min: 0, max: 2 }),
    unmeasured: fc.boolean(),
  });
  const smallDirective: fc.Arbitrary<DirectiveHeader> = fc.oneof(
    smallPage.map(({ page: p, fill, unmeasured }) => {
      // Short payloads keep the comparisons cheap; equivalence looks at the bytes as they are.
      const h = page(p, 1, fill === 0 ? new Uint8Array(0) : filled(fill, 8));
      h.flags.unmeasured = unmeasured;
      return h;
    }),
    fc.record({ gpa: fc.integer({ min: 0, max: 3 }), protectable: fc.boolean() }).map(({ gpa, protectable }) =>
      required(BigInt(gpa) * PAGE, 1, 0x1000, protectable),
    ),
    fc.constant<DirectiveHeader>({ type: 'ERROR_RANGE', gpa: 0x9000n, compatibilityMask: 1, sizeBytes: 0x1000 }),
  );

  it('the indexed dedup agrees with a transcription of the reference loop', () => {
    fc.assert(
      fc.property(fc.array(smallDirective, { maxLength: 14 }), fc.array(smallDirective, { maxLength: 14 }), (da, db) => {
        const a = file([platform(1, 'VSM_ISOLATION')], da);
        const b = file([platform(1, 'SEV_SNP')], db);
        const remapped = db.map((h) => ('compatibilityMask' in h ? { ...h, compatibilityMask: 2 } : h));
        expect(mergeIgvm(a, b).directives).toEqual(referenceDedup(da, remapped));
        expect(mergeIgvm(a, b, { simple: true }).directives).toEqual([...da, ...remapped]);
      }),
      { numRuns: 300 },
    );
  });

  interface PageSpec {
    page: number;
    fill: number;
    short: boolean;
    unmeasured: boolean;
    maskSelect: number;
  }
  const pageSpec: fc.Arbitrary<PageSpec> = fc.record({
    page: fc.integer({ min: 0, max: 11 }),
    fill: fc.integer({ min: 0, max: 3 }),
    short: fc.boolean(),
    unmeasured: fc.boolean(),
    maskSelect: fc.integer({ min: 0, max: 7 }),
  });
  const fileSpec = fc.record({
    pages: fc.uniqueArray(pageSpec, { selector: (p) => p.page, minLength: 1, maxLength: 8 }),
    areaIndex: fc.option(fc.integer({ min: 0, max: 2 })),
    required: fc.option(fc.integer({ min: 0, max: 3 })),
  });

  function buildFile(types: readonly PlatformTypeName[], spec: typeof fileSpec extends fc.Arbitrary<infer T> ? T : never): IgvmFile {
    const builder = new IgvmBuilder();
    for (const t of types) builder.addPlatform(t);
    const all = builder.allPlatformsMask();
    const pages = spec.pages.every((p) => p.fill === 0) ? [{ ...spec.pages[0]!, fill: 1 }, ...spec.pages.slice(1)] : spec.pages;
    for (const p of pages) {
      const mask = p.maskSelect & all || all;
      builder.addPageData(BigInt(p.page) * PAGE, filled(p.fill, p.short ? 100 : 4096), { mask, unmeasured: p.unmeasured });
    }
    if (spec.areaIndex !== null) {
      const index = builder.addParameterArea(0x1000n, { index: spec.areaIndex });
      builder.addParameter('MEMORY_MAP', index, 0x10);
      builder.addParameterInsert(index, 0x10_0000n + BigInt(spec.areaIndex) * PAGE);
    }
    if (spec.required !== null) builder.addRequiredMemory(0x20_0000n + BigInt(spec.required) * PAGE, 0x1000);
    return builder.build();
  }

  /** What a platform sees of a file: its pages, required memory and parameter inserts, in order. */
  function view(bytes: Uint8Array, platformType: PlatformTypeName): unknown[] {
    return parseIgvm(bytes, { platform: platformType }).directives.flatMap((d): unknown[] => {
      switch (d.type) {
        case 'PAGE_DATA':
          return [{ gpa: d.gpa, data: Array.from(d.data), flags: d.flags, dataType: d.dataType }];
        case 'REQUIRED_MEMORY':
          return [{ required: d.gpa, size: d.numberOfBytes }];
        case 'PARAMETER_INSERT':
          return [{ insert: d.gpa }];
        default:
          return [];
      }
    });
  }

  it('each platform sees in the merged file what it saw in its own file', () => {
    // b gets no more platforms than a: with more, the reference's bit-at-a-time mask rewrite can
    // drop a platform from a shared header (pinned in 'mask and index remapping' above).
    const platformSplit = fc
      .shuffledSubarray([...X64_PLATFORMS], { minLength: 2, maxLength: 6 })
      .chain((types) =>
        fc.integer({ min: 1, max: types.length - 1 }).chain((k) =>
          fc.integer({ min: 1, max: Math.min(k, types.length - k) }).map((m) => ({ aTypes: types.slice(0, k), bTypes: types.slice(k, k + m) })),
        ),
      );
    fc.assert(
      fc.property(platformSplit, fileSpec, fileSpec, fc.boolean(), ({ aTypes, bTypes }, specA, specB, simple) => {
        const a = buildFile(aTypes, specA);
        const b = buildFile(bTypes, specB);
        const merged = serializeIgvm(mergeIgvm(a, b, { simple }));
        const back = parseIgvm(merged);
        expect(back.platforms.map((p) => p.platformType)).toEqual([...aTypes, ...bTypes]);
        const aBytes = serializeIgvm(a);
        const bBytes = serializeIgvm(b);
        for (const t of aTypes) expect(view(merged, t)).toEqual(view(aBytes, t));
        for (const t of bTypes) expect(view(merged, t)).toEqual(view(bBytes, t));
      }),
      { numRuns: 150 },
    );
  });
});
