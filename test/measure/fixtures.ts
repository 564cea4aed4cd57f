/**
 * IGVM files made with IgvmBuilder for the measurement tests: every page type and flag, parameter
 * inserts, VMSAs, VBS registers, error ranges, and multi-platform files whose directives carry
 * several masks. Each returns the serialized bytes.
 */
import {
  IgvmBuilder,
  SevVmsa,
  type PageDataTypeName,
  type PlatformTypeName,
  type SevVmsaFields,
} from '../../src/format/index.js';
import { parseIgvmLazy } from '../../src/format/index.js';
import {
  measureIgvm,
  memorySource,
  profileByName,
  type MeasurablePlatform,
  type Measurement,
  type MeasureOptions,
} from '../../src/measure/index.js';
import { nodeHashProvider } from '../../src/node/node-hash.js';

export const PAGE = 4096;

/** A page whose bytes depend on `seed` (distinct pages for distinct seeds). */
export function pageOf(seed: number, length = PAGE): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

export function vmsa(seed: number, overrides: Partial<SevVmsaFields> = {}): SevVmsaFields {
  const bytes = new Uint8Array(PAGE);
  bytes.set(pageOf(seed, 0x400));
  return { ...SevVmsa.read(bytes), ...overrides };
}

export async function measureBytes(
  bytes: Uint8Array,
  platform: MeasurablePlatform,
  options: MeasureOptions & { profileName?: string } = {},
): Promise<Measurement> {
  const source = memorySource(bytes);
  const igvm = await parseIgvmLazy(source);
  const profile = options.profileName ? profileByName(options.profileName) : options.profile;
  if (options.profileName && !profile) throw new Error(`no profile ${options.profileName}`);
  return measureIgvm(igvm, source, platform, nodeHashProvider, { ...options, ...(profile ? { profile } : {}) });
}

/**
 * A file of `platform` and NATIVE with a guest policy (SNP) and `add`; a parameter area that is never
 * inserted gives it file data that no profile measures.
 */
export function single(platform: PlatformTypeName, add: (b: IgvmBuilder, mask: number) => void): Uint8Array {
  const b = new IgvmBuilder();
  const mask = b.addPlatform(platform);
  b.addPlatform('NATIVE');
  if (platform === 'SEV_SNP') b.addGuestPolicy(0x30000n, mask);
  add(b, mask);
  b.addParameterArea(BigInt(PAGE), { index: 99, initialData: pageOf(999) });
  return b.serialize();
}

const TYPES: PageDataTypeName[] = ['NORMAL', 'SECRETS', 'CPUID_DATA', 'CPUID_XF'];

/** Every page type and flag combination, with data and empty, at distinct GPAs. */
export function everyPageKind(b: IgvmBuilder, mask: number, base = 0x100000n, types = TYPES): bigint {
  let gpa = base;
  let seed = 1;
  for (const dataType of types) {
    for (const unmeasured of [false, true]) {
      for (const shared of [false, true]) {
        b.addPageData(gpa, pageOf(seed++), { mask, dataType, unmeasured, shared });
        gpa += BigInt(PAGE);
        b.addZeroPages(gpa, BigInt(PAGE), { mask, dataType, unmeasured, shared });
        gpa += BigInt(PAGE);
      }
    }
  }
  return gpa;
}

/** A parameter area of `pages` pages with a VP count in it, inserted at `gpa`. */
export function parameterInsert(b: IgvmBuilder, gpa: bigint, pages: number, mask?: number): void {
  const area = b.addParameterArea(BigInt(pages * PAGE));
  b.addParameter('VP_COUNT_PARAMETER', area, 0);
  b.addParameterInsert(area, gpa, mask);
}

export interface Fixture {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** Platforms to measure and the masks to try (besides the declared one). */
  readonly platforms: readonly MeasurablePlatform[];
  readonly masks?: Partial<Record<MeasurablePlatform, readonly number[]>>;
}

function snpFile(): Uint8Array {
  return single('SEV_SNP', (b, mask) => {
    everyPageKind(b, mask);
    parameterInsert(b, 0x200000n, 3, mask);
    b.addVpContext({ format: 'sev-vmsa', vmsa: vmsa(5) }, { mask, gpa: 0xffff_ffff_f000n });
    b.addPageData(0x300000n, pageOf(77, 100), { mask });
  });
}

function tdxFile(): Uint8Array {
  return single('TDX', (b, mask) => {
    everyPageKind(b, mask);
    parameterInsert(b, 0x200000n, 2, mask);
    b.addPageData(0x300000n, pageOf(78, 1000), { mask });
  });
}

function vbsFile(): Uint8Array {
  return single('VSM_ISOLATION', (b, mask) => {
    everyPageKind(b, mask, 0x100000n, ['NORMAL']);
    parameterInsert(b, 0x200000n, 2, mask);
    b.addDirective({ type: 'ERROR_RANGE', gpa: 0x400000n, compatibilityMask: mask, sizeBytes: 3 * PAGE + 5 });
    b.addVpContext(
      {
        format: 'vbs-x64',
        vtl: 0,
        registers: [
          { name: 'Rip', value: { kind: 'scalar', value: 0x1000n } },
          { name: 'Cr0', value: { kind: 'scalar', value: 0x80000031n } },
          { name: 'Cs', value: { kind: 'segment', base: 0n, limit: 0xffffffff, selector: 8, attributes: 0xa09b } },
          { name: 'Gdtr', value: { kind: 'table', base: 0x2000n, limit: 0x27 } },
        ],
      },
      { mask },
    );
  });
}

function sevEsFile(): Uint8Array {
  const b = new IgvmBuilder();
  const es = b.addPlatform('SEV_ES');
  const sev = b.addPlatform('SEV');
  everyPageKind(b, es | sev);
  b.addPageData(0x500000n, pageOf(41), { mask: sev });
  b.addVpContext({ format: 'sev-vmsa', vmsa: vmsa(6) }, { mask: es, gpa: 0xffff_ffff_f000n });
  parameterInsert(b, 0x200000n, 1, es | sev);
  return b.serialize();
}

/** SNP, TDX, VBS and NATIVE in one file; directives carry single, pair and all-platform masks. */
function multiFile(): Uint8Array {
  const b = new IgvmBuilder();
  const snp = b.addPlatform('SEV_SNP');
  const tdx = b.addPlatform('TDX');
  const vbs = b.addPlatform('VSM_ISOLATION');
  const native = b.addPlatform('NATIVE');
  b.addGuestPolicy(0x30000n, snp);
  b.addGuestPolicy(0x30000n, snp | tdx);
  b.addPageData(0x0n, pageOf(1, 3 * PAGE), { mask: snp | tdx | vbs | native });
  b.addPageData(0x10000n, pageOf(2), { mask: snp | tdx });
  b.addPageData(0x11000n, pageOf(3), { mask: snp });
  b.addPageData(0x12000n, pageOf(4), { mask: tdx });
  b.addPageData(0x13000n, pageOf(5), { mask: vbs });
  b.addZeroPages(0x20000n, BigInt(2 * PAGE), { mask: snp | vbs });
  b.addZeroPages(0x22000n, BigInt(PAGE), { mask: snp | tdx, unmeasured: true });
  parameterInsert(b, 0x30000n, 2, snp | tdx | vbs);
  parameterInsert(b, 0x40000n, 1, snp);
  b.addPageData(0x50000n, pageOf(6), { mask: snp | tdx, dataType: 'SECRETS' });
  b.addPageData(0x51000n, pageOf(7), { mask: snp, dataType: 'CPUID_DATA' });
  b.addVpContext({ format: 'sev-vmsa', vmsa: vmsa(8) }, { mask: snp, gpa: 0xffff_ffff_f000n });
  b.addVpContext({ format: 'vbs-x64', vtl: 2, registers: [{ name: 'Rip', value: { kind: 'scalar', value: 0xfff0n } }] }, { mask: vbs });
  b.addVpContext({ format: 'native-x64', registers: { ...zeroNative(), rip: 0x1000n } }, { mask: native });
  return b.serialize();
}

function zeroNative() {
  return {
    rax: 0n, rcx: 0n, rdx: 0n, rbx: 0n, rsp: 0n, rbp: 0n, rsi: 0n, rdi: 0n,
    r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n,
    rip: 0n, rflags: 0n, idtrBase: 0n, idtrLimit: 0, reserved0: 0, reserved1: 0,
    gdtrLimit: 0, gdtrBase: 0n, codeSelector: 0, codeAttributes: 0, codeBase: 0, codeLimit: 0,
    dataSelector: 0, dataAttributes: 0, dataBase: 0, dataLimit: 0, gsBase: 0n, cr0: 0n, cr3: 0n, cr4: 0n, efer: 0n,
  };
}

/** Two SNP VMSAs, pages after them (the order KVM cannot reproduce). */
function twoVmsas(): Uint8Array {
  return single('SEV_SNP', (b, mask) => {
    b.addPageData(0x1000n, pageOf(10), { mask });
    b.addVpContext({ format: 'sev-vmsa', vmsa: vmsa(11, { cr0: 0x31n }) }, { mask, gpa: 0xffff_ffff_f000n });
    b.addVpContext({ format: 'sev-vmsa', vmsa: vmsa(12, { cr0: 0x80000011n }) }, { mask, gpa: 0x5000n, vpIndex: 1 });
    parameterInsert(b, 0x8000n, 1, mask);
    b.addPageData(0x2000n, pageOf(13), { mask });
  });
}

export function fixtures(): Fixture[] {
  return [
    { name: 'snp-every-page-kind', bytes: snpFile(), platforms: ['SEV_SNP'] },
    { name: 'tdx-every-page-kind', bytes: tdxFile(), platforms: ['TDX'] },
    { name: 'vbs-pages-inserts-error-range-registers', bytes: vbsFile(), platforms: ['VSM_ISOLATION'] },
    { name: 'snp-two-vmsas', bytes: twoVmsas(), platforms: ['SEV_SNP'] },
    { name: 'sev-es-and-sev', bytes: sevEsFile(), platforms: ['SEV', 'SEV_ES'] },
    { name: 'multi-platform', bytes: multiFile(), platforms: ['SEV_SNP', 'TDX', 'VSM_ISOLATION'], masks: { SEV_SNP: [0x1, 0x3, 0x5, 0x7], TDX: [0x2, 0x3, 0x7], VSM_ISOLATION: [0x4, 0x5] } },
  ];
}
