/**
 * Measurement profiles: the loaders and tools that disagree about how an IGVM file is measured, each
 * a small table of rule switches over one shared walk (plan.ts). `measurement.md` §1.3, §1.5, §2.1-2.5
 * describe the differences; the README lists where it marks a rule unverified.
 */
import type { PlatformTypeName } from '../format/constants.js';

export type MeasurablePlatform = Extract<PlatformTypeName, 'SEV_SNP' | 'TDX' | 'VSM_ISOLATION' | 'SEV' | 'SEV_ES'>;
export const MEASURABLE_PLATFORMS: readonly MeasurablePlatform[] = ['SEV_SNP', 'TDX', 'VSM_ISOLATION', 'SEV', 'SEV_ES'];

export type ProfileName = 'igvm' | 'svsm-igvmmeasure' | 'svsm-igvmmeasure-native-zero' | 'qemu-kvm' | 'td-shim';

export interface ProfileRules {
  readonly name: ProfileName;
  readonly description: string;
  /** The platforms this profile knows how to measure. */
  readonly platforms: readonly MeasurablePlatform[];
  /**
   * How a header's compatibility mask selects it: `all-bits` (mask & platform == platform, the
   * reference), `any-bit` (mask & platform != 0), or `ignored` (every header applies).
   */
  readonly maskMatch: 'all-bits' | 'any-bit' | 'ignored';
  /** Skip page data with the `shared` flag. */
  readonly skipShared: boolean;
  /** A PARAMETER_INSERT measures every 4 KiB page of its area (`area`), only its first (`first`), or nothing. */
  readonly parameterInsert: 'area' | 'first' | 'none';
  /** Only VMSAs whose mask selects the platform are measured (otherwise every SEV-SNP/SEV-ES VMSA is). */
  readonly vmsaMaskChecked: boolean;
  /** Measure the VMSAs after every page (KVM measures them at launch finish) instead of in directive order. */
  readonly vmsaLast: boolean;
  /** A page directive's pages are measured only when the next page directive does not extend its run (QEMU). */
  readonly lazyPageFlush: boolean;
  /** SEV-SNP: an empty NORMAL page is a ZERO page (type 3) instead of NORMAL with 4 KiB of zeros. */
  readonly snpEmptyAsZero: boolean;
  /** A 2 MiB page without data is 512 pages (`split`) or one 4 KiB page, as the reference parser reads it (`one`). */
  readonly largePages: 'one' | 'split';
  /** TDX: an empty page gets MR.EXTEND records of zeros (otherwise MEM.PAGE.ADD only). */
  readonly tdxExtendEmpty: boolean;
  /**
   * SEV/SEV-ES: which pages' bytes are hashed: `measured-data` (NORMAL, not unmeasured, with data),
   * `any-data` (every page that carries data, any type or flag), `measured-or-zero` (NORMAL, not
   * unmeasured; empty pages as 4 KiB of zeros).
   */
  readonly sevPages: 'measured-data' | 'any-data' | 'measured-or-zero';
  /** SEV-SNP: warn when no GUEST_POLICY applies (the reference refuses to measure such a file). */
  readonly requireGuestPolicy: boolean;
  /** Report igvmmeasure's `--check-kvm` findings (one VMSA, its GPA and CR0, nothing inserted after it) as warnings. */
  readonly kvmChecks: boolean;
}

const IGVM: ProfileRules = {
  name: 'igvm',
  description: 'microsoft/igvm measurement module at e6c3ff1 (IgvmSerializer)',
  platforms: MEASURABLE_PLATFORMS,
  maskMatch: 'all-bits',
  skipShared: true,
  parameterInsert: 'area',
  vmsaMaskChecked: true,
  vmsaLast: false,
  lazyPageFlush: false,
  snpEmptyAsZero: false,
  largePages: 'one',
  tdxExtendEmpty: true,
  sevPages: 'measured-data',
  requireGuestPolicy: true,
  kvmChecks: false,
};

const SVSM: ProfileRules = {
  ...IGVM,
  name: 'svsm-igvmmeasure',
  description: 'COCONUT-SVSM igvmmeasure at f4bc4bcd',
  platforms: ['SEV_SNP', 'SEV', 'SEV_ES'],
  maskMatch: 'any-bit',
  skipShared: false,
  parameterInsert: 'first',
  vmsaMaskChecked: false,
  largePages: 'split',
  sevPages: 'any-data',
  requireGuestPolicy: false,
};

const PROFILES: Readonly<Record<ProfileName, ProfileRules>> = {
  igvm: IGVM,
  'svsm-igvmmeasure': SVSM,
  'svsm-igvmmeasure-native-zero': {
    ...SVSM,
    name: 'svsm-igvmmeasure-native-zero',
    description: 'COCONUT-SVSM igvmmeasure --native-zero (empty pages as SNP ZERO pages, for Vanadium)',
    snpEmptyAsZero: true,
  },
  'qemu-kvm': {
    ...IGVM,
    name: 'qemu-kvm',
    description: 'QEMU backends/igvm.c with KVM: lazy page-run flushing, VMSAs measured last',
    platforms: ['SEV_SNP', 'SEV', 'SEV_ES'],
    maskMatch: 'any-bit',
    skipShared: false,
    vmsaLast: true,
    lazyPageFlush: true,
    sevPages: 'measured-or-zero',
    requireGuestPolicy: false,
    kvmChecks: true,
  },
  'td-shim': {
    ...IGVM,
    name: 'td-shim',
    description: 'td-shim td-shim-tee-info-hash build_igvmmrtd (no MR.EXTEND for empty pages)',
    platforms: ['TDX'],
    maskMatch: 'ignored',
    parameterInsert: 'none',
    tdxExtendEmpty: false,
    requireGuestPolicy: false,
  },
};

export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

export function profileByName(name: string): ProfileRules | undefined {
  return Object.hasOwn(PROFILES, name) ? PROFILES[name as ProfileName] : undefined;
}

/** Whether a header with `mask` applies to the platform with `platformMask` under `rules`. */
export function maskSelects(rules: ProfileRules, mask: number, platformMask: number): boolean {
  switch (rules.maskMatch) {
    case 'all-bits':
      return ((mask & platformMask) >>> 0) === platformMask >>> 0;
    case 'any-bit':
      return (mask & platformMask) !== 0;
    case 'ignored':
      return true;
  }
}
