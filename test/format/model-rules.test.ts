/**
 * The builder-level rules of igvm-format.md §6.4 ("Builder-level (IgvmFile::new)"): models built by
 * hand and handed to `serializeIgvm`, which validates them as the reference's `IgvmFile::new` does.
 * A model the reference accepts must serialize, and parse back to itself.
 */
import { describe, expect, it } from 'vitest';
import {
  CcaVpContext,
  IgvmFormatError,
  mergeIgvm,
  NativeVpContextX64,
  parseIgvm,
  serializeIgvm,
  SevVmsa,
  type CcaPolicyHeader,
  type CcaVpContextFields,
  type NativeVpContextX64Fields,
  type SevVmsaFields,
  type DirectiveHeader,
  type IgvmErrorCode,
  type IgvmFile,
  type IgvmRevision,
  type InitializationHeader,
  type PageDataHeader,
  type PageTableRelocationHeader,
  type ParameterAreaHeader,
  type ParameterInsertHeader,
  type ParameterUsageHeader,
  type PlatformHeader,
  type PlatformTypeName,
  type RelocatableRegionHeader,
  type VpContextHeader,
} from '../../src/format/index.js';

// ---- model pieces ----

const V1: IgvmRevision = { formatVersion: 1 };
const V2_AARCH64: IgvmRevision = { formatVersion: 2, architecture: 'AARCH64', pageSize: 4096 };
const MIB = 0x10_0000n;

function zeroFields<F extends readonly { name: string; kind: unknown }[]>(fields: F): Record<string, unknown> {
  return Object.fromEntries(
    fields.map((f) => [f.name, f.kind === 'u64' ? 0n : typeof f.kind === 'object' ? new Uint8Array((f.kind as { bytes: number }).bytes) : 0]),
  );
}

function platform(platformType: PlatformTypeName, compatibilityMask = 1, highestVtl = 0): PlatformHeader {
  return { type: 'SUPPORTED_PLATFORM', compatibilityMask, highestVtl, platformType, platformVersion: 1, sharedGpaBoundary: 0n };
}

function page(gpa: bigint, compatibilityMask = 1, data: Uint8Array = new Uint8Array(4096).fill(0xab)): PageDataHeader {
  return {
    type: 'PAGE_DATA',
    gpa,
    compatibilityMask,
    flags: { is2mbPage: false, unmeasured: false, shared: false, reserved: 0 },
    dataType: 'NORMAL',
    data,
  };
}

function area(parameterAreaIndex: number, numberOfBytes = 4096n): ParameterAreaHeader {
  return { type: 'PARAMETER_AREA', numberOfBytes, parameterAreaIndex, initialData: new Uint8Array(0) };
}

function usage(parameterAreaIndex: number, type: ParameterUsageHeader['type'] = 'VP_COUNT_PARAMETER'): ParameterUsageHeader {
  return { type, parameterAreaIndex, byteOffset: 0 };
}

function insert(parameterAreaIndex: number, gpa = 0x10_0000n, compatibilityMask = 1): ParameterInsertHeader {
  return { type: 'PARAMETER_INSERT', gpa, compatibilityMask, parameterAreaIndex };
}

function nativeContext(compatibilityMask = 1, vpIndex = 0): VpContextHeader {
  const registers = { ...zeroFields(NativeVpContextX64.fields), rip: 0xfff0n } as unknown as NativeVpContextX64Fields;
  return { type: 'VP_CONTEXT', compatibilityMask, vpIndex, gpa: 0n, context: { format: 'native-x64', registers } };
}

function snpContext(compatibilityMask = 1): VpContextHeader {
  const vmsa = { ...zeroFields(SevVmsa.fields), rip: 0xfff0n, sevFeatures: 1n } as unknown as SevVmsaFields;
  return { type: 'VP_CONTEXT', compatibilityMask, vpIndex: 0, gpa: 0xffff_f000n, context: { format: 'sev-vmsa', vmsa } };
}

function ccaContext(compatibilityMask = 1): VpContextHeader {
  const registers = { ...zeroFields(CcaVpContext.fields), pc: 0x8000_0000n } as unknown as CcaVpContextFields;
  return { type: 'VP_CONTEXT', compatibilityMask, vpIndex: 0, gpa: 0n, context: { format: 'cca', registers } };
}

function vbsContext(compatibilityMask = 1, vtl = 2): VpContextHeader {
  return {
    type: 'VP_CONTEXT',
    compatibilityMask,
    vpIndex: 0,
    gpa: 0n,
    context: {
      format: 'vbs-x64',
      vtl,
      registers: [
        { name: 'Rip', value: { kind: 'scalar', value: 0x20_0000n } },
        { name: 'Cs', value: { kind: 'segment', base: 0n, limit: 0xffff_ffff, selector: 8, attributes: 0xa09b } },
        { name: 'Gdtr', value: { kind: 'table', base: 0x20_1000n, limit: 0x17 } },
      ],
    },
  };
}

function relocatable(gpa: bigint, size: bigint, overrides: Partial<RelocatableRegionHeader> = {}): RelocatableRegionHeader {
  return {
    type: 'RELOCATABLE_REGION',
    compatibilityMask: 1,
    vpIndex: 0,
    vtl: 2,
    isVtl2: true,
    applyRip: true,
    applyGdtr: true,
    relocationAlignment: 2n * MIB,
    relocationRegionGpa: gpa,
    relocationRegionSize: size,
    minimumRelocationGpa: 2n * MIB,
    maximumRelocationGpa: 1024n * MIB,
    ...overrides,
  };
}

function pageTable(gpa: bigint, size: bigint, usedSize = size, compatibilityMask = 1): PageTableRelocationHeader {
  return { type: 'PAGE_TABLE_RELOCATION_REGION', compatibilityMask, vpIndex: 0, vtl: 2, gpa, size, usedSize };
}

function ccaPolicy(compatibilityMask: number, zeroes: bigint, ones: bigint): CcaPolicyHeader {
  return {
    type: 'CCA_POLICY',
    compatibilityMask,
    attributesRequiredZeroes: zeroes,
    attributesRequiredOnes: ones,
    hashAlgorithm: 1,
    lfaPolicy: 1,
  };
}

function file(
  platforms: PlatformHeader[],
  directives: DirectiveHeader[],
  initializations: InitializationHeader[] = [],
  revision: IgvmRevision = V1,
): IgvmFile {
  return { revision, platforms, initializations, directives };
}

/** The base every case starts from: a NATIVE platform and one page with data. */
const basePage = () => page(0x1000n);
const native = () => [platform('NATIVE')];
/** VSM with VTL2, one page, and the VBS context that relocation headers need. */
const vsm = () => [platform('VSM_ISOLATION', 1, 2)];

// ---- the rules ----

interface Rule {
  rule: string;
  reference: string;
  model: () => IgvmFile;
  expect: 'ok' | IgvmErrorCode;
}

const RULES: Rule[] = [
  // Parameter areas.
  {
    rule: 'parameter usage before its area',
    reference: 'InvalidParameterAreaIndex',
    model: () => file(native(), [basePage(), usage(0), area(0), insert(0)]),
    expect: 'InvalidParameterAreaIndex',
  },
  {
    rule: 'parameter area declared twice',
    reference: 'InvalidParameterAreaIndex',
    model: () => file(native(), [basePage(), area(0), area(0)]),
    expect: 'InvalidParameterAreaIndex',
  },
  {
    rule: 'parameter area inserted twice',
    reference: 'InvalidParameterAreaIndex',
    model: () => file(native(), [basePage(), area(0), insert(0), insert(0, 0x20_0000n)]),
    expect: 'InvalidParameterAreaIndex',
  },
  {
    rule: 'parameter usage after the insert',
    reference: 'InvalidParameterAreaIndex',
    model: () => file(native(), [basePage(), area(0), insert(0), usage(0, 'MEMORY_MAP')]),
    expect: 'InvalidParameterAreaIndex',
  },
  {
    rule: 'insert of an area never declared',
    reference: 'InvalidParameterAreaIndex',
    model: () => file(native(), [basePage(), insert(3)]),
    expect: 'InvalidParameterAreaIndex',
  },
  {
    rule: 'an area never inserted',
    reference: 'OK',
    model: () => file(native(), [basePage(), area(0), usage(0, 'COMMAND_LINE')]),
    expect: 'ok',
  },
  {
    rule: 'area, usages and insert in order',
    reference: 'OK',
    model: () => file(native(), [basePage(), area(5, 8192n), usage(5), usage(5, 'MEMORY_MAP'), insert(5)]),
    expect: 'ok',
  },
  // Platforms.
  {
    rule: 'no platforms',
    reference: 'NoPlatformHeaders',
    model: () => file([], [basePage()]),
    expect: 'NoPlatformHeaders',
  },
  {
    rule: 'duplicate platform type',
    reference: 'MultiplePlatformHeadersWithSameIsolation',
    model: () => file([platform('NATIVE', 1), platform('NATIVE', 2)], [basePage()]),
    expect: 'MultiplePlatformHeadersWithSameIsolation',
  },
  {
    rule: 'two platforms with the same mask',
    reference: 'OK (!)',
    model: () => file([platform('NATIVE', 1), platform('VSM_ISOLATION', 1)], [basePage()]),
    expect: 'ok',
  },
  {
    rule: 'SNP on AArch64',
    reference: 'PlatformArchUnsupported',
    model: () => file([platform('SEV_SNP')], [basePage()], [], V2_AARCH64),
    expect: 'PlatformArchUnsupported',
  },
  {
    rule: 'CCA on X64',
    reference: 'PlatformArchUnsupported',
    model: () => file([platform('CCA')], [basePage()]),
    expect: 'PlatformArchUnsupported',
  },
  {
    rule: 'page size 64K',
    reference: 'UnsupportedPageSize',
    model: () => file(native(), [basePage()], [], { formatVersion: 2, architecture: 'X64', pageSize: 65536 }),
    expect: 'UnsupportedPageSize',
  },
  // Relocation.
  {
    rule: 'relocation region with its VBS context',
    reference: 'OK',
    model: () => file(vsm(), [page(2n * MIB), vbsContext()], [relocatable(2n * MIB, 2n * MIB)]),
    expect: 'ok',
  },
  {
    rule: 'relocation region without a VBS context',
    reference: 'NoMatchingVpContext',
    model: () => file(vsm(), [page(2n * MIB)], [relocatable(2n * MIB, 2n * MIB)]),
    expect: 'NoMatchingVpContext',
  },
  {
    rule: 'relocation region whose VBS context is for another VTL',
    reference: 'NoMatchingVpContext',
    model: () => file(vsm(), [page(2n * MIB), vbsContext(1, 0)], [relocatable(2n * MIB, 2n * MIB)]),
    expect: 'NoMatchingVpContext',
  },
  {
    rule: 'SNP + relocation region',
    reference: 'NoMatchingVpContext',
    model: () => file([platform('SEV_SNP')], [page(2n * MIB), snpContext()], [relocatable(2n * MIB, 2n * MIB, { vtl: 0, isVtl2: false })]),
    expect: 'NoMatchingVpContext',
  },
  {
    rule: 'overlapping relocation regions',
    reference: 'RelocationRegionsOverlap',
    model: () =>
      file(vsm(), [page(2n * MIB), vbsContext()], [relocatable(2n * MIB, 4n * MIB), relocatable(4n * MIB, 2n * MIB)]),
    expect: 'RelocationRegionsOverlap',
  },
  {
    rule: 'a relocation region overlapping a page-table region',
    reference: 'RelocationRegionsOverlap',
    model: () =>
      file(vsm(), [page(2n * MIB), vbsContext()], [pageTable(2n * MIB, 0x4000n), relocatable(2n * MIB, 2n * MIB)]),
    expect: 'RelocationRegionsOverlap',
  },
  {
    rule: 'adjacent relocation regions',
    reference: 'OK',
    model: () =>
      file(vsm(), [page(2n * MIB), vbsContext()], [relocatable(2n * MIB, 2n * MIB), relocatable(4n * MIB, 2n * MIB)]),
    expect: 'ok',
  },
  {
    rule: 'a page-table region with its VBS context',
    reference: 'OK',
    model: () => file(vsm(), [page(2n * MIB), vbsContext()], [pageTable(0x10_0000n, 0x4000n, 0x2000n)]),
    expect: 'ok',
  },
  {
    rule: 'two page-table regions for one mask',
    reference: 'MultiplePageTableRelocationHeaders',
    model: () =>
      file(vsm(), [page(2n * MIB), vbsContext()], [pageTable(0x10_0000n, 0x4000n), pageTable(0x20_0000n, 0x4000n)]),
    expect: 'MultiplePageTableRelocationHeaders',
  },
  {
    rule: 'page-table region used_size > size',
    reference: 'InvalidBinaryInitializationHeader(InvalidPageTableRegionSize)',
    model: () => file(vsm(), [page(2n * MIB), vbsContext()], [pageTable(0x10_0000n, 0x4000n, 0x5000n)]),
    expect: 'InvalidPageTableRegionSize',
  },
  {
    rule: 'parameter insert inside a page-table region',
    reference: 'ParameterInsertInsidePageTableRegion',
    model: () =>
      file(vsm(), [page(2n * MIB), area(0), insert(0, 0x10_1000n), vbsContext()], [pageTable(0x10_0000n, 0x4000n)]),
    expect: 'ParameterInsertInsidePageTableRegion',
  },
  {
    rule: 'parameter insert right after a page-table region',
    reference: 'OK',
    model: () =>
      file(vsm(), [page(2n * MIB), area(0), insert(0, 0x10_4000n), vbsContext()], [pageTable(0x10_0000n, 0x4000n)]),
    expect: 'ok',
  },
  {
    rule: 'relocation alignment 0',
    reference: 'panic (remainder by zero); we return a typed error',
    model: () => file(vsm(), [page(2n * MIB), vbsContext()], [relocatable(2n * MIB, 2n * MIB, { relocationAlignment: 0n })]),
    expect: 'RelocationAlignment',
  },
  // CCA.
  {
    rule: 'CCA platform, policy and context on AArch64',
    reference: 'OK',
    model: () => file([platform('CCA')], [page(0x8000_0000n), ccaContext()], [ccaPolicy(1, 2n, 1n)], V2_AARCH64),
    expect: 'ok',
  },
  {
    rule: 'CCA policy ones & zeroes overlap',
    reference: 'InvalidBinaryInitializationHeader(InvalidOnesZeroesMasks)',
    model: () => file([platform('CCA')], [page(0x8000_0000n)], [ccaPolicy(1, 3n, 1n)], V2_AARCH64),
    expect: 'InvalidOnesZeroesMasks',
  },
  {
    rule: 'CCA policy mask pointing at a VSM platform',
    reference: 'InvalidCcaPolicyCompatibilityMask(1)',
    model: () =>
      file([platform('CCA', 1), platform('VSM_ISOLATION', 2)], [page(0x8000_0000n, 3)], [ccaPolicy(2, 0n, 1n)], V2_AARCH64),
    expect: 'InvalidCcaPolicyCompatibilityMask',
  },
  // Directives.
  {
    rule: 'page data of 4097 bytes',
    reference: 'InvalidBinaryDirectiveHeader(InvalidDataSize)',
    model: () => file(native(), [page(0x1000n, 1, new Uint8Array(4097).fill(1))]),
    expect: 'InvalidDataSize',
  },
  {
    rule: 'parameter area of 1234 bytes',
    reference: '…(UnalignedSize(1234))',
    model: () => file(native(), [basePage(), area(0, 1234n)]),
    expect: 'UnalignedSize',
  },
  {
    rule: 'native context on AArch64',
    reference: 'InvalidHeaderArch{header_type: "X64VbsVpContext"}',
    model: () => file([platform('VSM_ISOLATION')], [basePage(), nativeContext()], [], V2_AARCH64),
    expect: 'InvalidHeaderArch',
  },
  {
    rule: 'two native contexts with the same vp_index',
    reference: 'OK',
    model: () => file(native(), [basePage(), nativeContext(1, 0), nativeContext(1, 0)]),
    expect: 'ok',
  },
];

function mergeError(a: IgvmFile, b: IgvmFile): IgvmFormatError {
  try {
    mergeIgvm(a, b);
  } catch (e) {
    if (e instanceof IgvmFormatError) return e;
    throw e;
  }
  throw new Error('expected an IgvmFormatError, but mergeIgvm succeeded');
}

function serializeError(m: IgvmFile): IgvmFormatError {
  try {
    serializeIgvm(m);
  } catch (e) {
    if (e instanceof IgvmFormatError) return e;
    throw e;
  }
  throw new Error('expected an IgvmFormatError, but serializeIgvm succeeded');
}

describe('§6.4 builder-level rules (IgvmFile::new), through serializeIgvm', () => {
  describe.each(RULES)('$rule → reference: $reference', (r) => {
    if (r.expect === 'ok') {
      it('serializes, and the file parses back to the same model', () => {
        const m = r.model();
        const bytes = serializeIgvm(m);
        const parsed = parseIgvm(bytes);
        expect({
          revision: parsed.revision,
          platforms: parsed.platforms,
          initializations: parsed.initializations,
          directives: parsed.directives,
        }).toEqual(m);
        expect(parsed.warnings).toEqual([]);
        expect(serializeIgvm(parsed)).toEqual(bytes);
      });
    } else {
      const code = r.expect;
      it(`is refused with code ${code}`, () => {
        expect(serializeError(r.model()).code).toBe(code);
      });
    }
  });

  it('merge of different revisions → MergeRevision', () => {
    const v1 = file([platform('VSM_ISOLATION')], [basePage()]);
    const v2 = file([platform('VSM_ISOLATION')], [basePage()], [], V2_AARCH64);
    expect(mergeError(v1, v2).code).toBe('MergeRevision');
  });

  it('merge bringing a duplicate platform type → MultiplePlatformHeadersWithSameIsolation', () => {
    const a = file([platform('VSM_ISOLATION', 1), platform('SEV_SNP', 2)], [page(0x1000n, 3)]);
    const b = file([platform('SEV_SNP')], [basePage()]);
    expect(mergeError(a, b).code).toBe('MultiplePlatformHeadersWithSameIsolation');
  });

  it('a merge of two valid files with different platform types is accepted and serializes', () => {
    const a = file(vsm(), [basePage()]);
    const b = file([platform('SEV_SNP')], [basePage()]);
    const merged = mergeIgvm(a, b);
    expect(merged.platforms.map((p) => p.compatibilityMask)).toEqual([1, 2]);
    expect(parseIgvm(serializeIgvm(merged)).directives).toEqual([page(0x1000n, 3)]);
  });
});

/**
 * Divergence from the reference (reported bug): `validate_initialization_headers` maps platform
 * masks to types with a HashMap built in declaration order, so with two platforms on one mask the
 * LAST one decides whether a CCA policy's mask bit is a CCA platform. Ours keeps the first.
 */
describe('CCA policy on a mask shared by two platforms (reported divergence)', () => {
  const model = (platforms: PlatformHeader[]) =>
    file(platforms, [page(0x8000_0000n)], [ccaPolicy(1, 0n, 1n)], V2_AARCH64);

  it('[CCA, VSM] on mask 1 → reference: InvalidCcaPolicyCompatibilityMask (VSM declared last)', () => {
    expect(serializeError(model([platform('CCA', 1), platform('VSM_ISOLATION', 1)])).code).toBe(
      'InvalidCcaPolicyCompatibilityMask',
    );
  });

  it('[VSM, CCA] on mask 1 → reference: OK (CCA declared last)', () => {
    expect(() => serializeIgvm(model([platform('VSM_ISOLATION', 1), platform('CCA', 1)]))).not.toThrow();
  });
});
