/**
 * The per-platform digests, each fed the plan's steps in order: SEV-SNP PAGE_INFO chaining (SHA-384),
 * TDX MRTD (one running SHA-384 over MEM.PAGE.ADD / MR.EXTEND records), the VBS boot digest (chained
 * SHA-256) and the SEV / SEV-ES launch digest (SHA-256 over measured contents). Layouts:
 * measurement.md §2.1, §2.3, §2.4, §2.5.
 */
import { PAGE_SIZE_4K } from '../format/constants.js';
import { hashInto, type HashAlgorithm, type HashProvider } from './hash.js';
import type { Step } from './plan.js';
import type { MeasurablePlatform, ProfileRules } from './profiles.js';

export type SnpPageType = 'NORMAL' | 'VMSA' | 'ZERO' | 'UNMEASURED' | 'SECRETS' | 'CPUID';
const SNP_PAGE_TYPE: Readonly<Record<SnpPageType, number>> = { NORMAL: 1, VMSA: 2, ZERO: 3, UNMEASURED: 4, SECRETS: 5, CPUID: 6 };

/** What one step added to a digest. */
export interface MeasuredRecord {
  readonly kind: string;
  readonly gpa?: bigint;
  readonly pageType?: string;
  /** The bytes whose hash went into the record (a page, a VMSA), when there were any. */
  readonly contents?: Uint8Array;
}

export interface Digester {
  readonly algorithm: HashAlgorithm;
  /** Whether `step` needs its page bytes read from the file. */
  wantsData(step: Step): boolean;
  /**
   * The algorithm of a per-page contents hash that does not depend on the running digest (SEV-SNP's
   * PAGE_INFO CONTENTS), which may then be computed ahead, in parallel; undefined when there is none.
   */
  readonly contentsHash?: HashAlgorithm;
  /**
   * Measure `step` (`page`: its 4 KiB bytes when `wantsData`; `contentsHash`: the page's hash, when
   * computed ahead); undefined when the step adds nothing.
   */
  apply(step: Step, page: Uint8Array | undefined, contentsHash?: Uint8Array): MeasuredRecord | undefined;
  /** The digest so far (what `finish` would return now). */
  current(): Uint8Array;
  finish(): Uint8Array;
}

export const ZERO_PAGE = new Uint8Array(PAGE_SIZE_4K);

function setGpa(view: DataView, offset: number, gpa: bigint): void {
  view.setBigUint64(offset, BigInt.asUintN(64, gpa), true);
}

// ---- SEV-SNP ----

const PAGE_INFO_SIZE = 0x70;

function snpDigester(hash: HashProvider, rules: ProfileRules): Digester {
  // PAGE_INFO, hashed in place: its first 48 bytes are the running digest, so each new digest is
  // written straight back into them.
  const info = new Uint8Array(PAGE_INFO_SIZE);
  const view = new DataView(info.buffer);
  view.setUint16(0x60, PAGE_INFO_SIZE, true);
  const zeroHash = hash.hash('sha384', ZERO_PAGE);

  const update = (type: SnpPageType, gpa: bigint, contents: Uint8Array | 'zero' | undefined, contentsHash?: Uint8Array): void => {
    if (contentsHash) info.set(contentsHash, 0x30);
    else if (contents === undefined) info.fill(0, 0x30, 0x60);
    else if (contents === 'zero') info.set(zeroHash, 0x30);
    else hashInto(hash, 'sha384', contents, info, 0x30);
    info[0x62] = SNP_PAGE_TYPE[type];
    setGpa(view, 0x68, gpa);
    hashInto(hash, 'sha384', info, info, 0);
  };

  const pageType = (step: Step & { kind: 'page' }): SnpPageType => {
    if (step.dataType === 'SECRETS') return 'SECRETS';
    if (step.dataType === 'CPUID_DATA' || step.dataType === 'CPUID_XF') return 'CPUID';
    if (step.unmeasured) return 'UNMEASURED';
    if (step.data === undefined && rules.snpEmptyAsZero) return 'ZERO';
    return 'NORMAL';
  };

  return {
    algorithm: 'sha384',
    wantsData: (step) => step.kind === 'page' && step.data !== undefined && pageType(step) === 'NORMAL',
    contentsHash: 'sha384',
    apply(step, page, contentsHash) {
      switch (step.kind) {
        case 'page': {
          const type = pageType(step);
          if (type === 'NORMAL') {
            update(type, step.gpa, page ?? 'zero', page ? contentsHash : undefined);
            return { kind: 'PAGE_INFO', gpa: step.gpa, pageType: type, contents: page ?? ZERO_PAGE };
          }
          update(type, step.gpa, undefined);
          return { kind: 'PAGE_INFO', gpa: step.gpa, pageType: type };
        }
        case 'parameter':
          update('UNMEASURED', step.gpa, undefined);
          return { kind: 'PAGE_INFO', gpa: step.gpa, pageType: 'UNMEASURED' };
        case 'vmsa':
          update('VMSA', step.gpa, step.bytes);
          return { kind: 'PAGE_INFO', gpa: step.gpa, pageType: 'VMSA', contents: step.bytes };
        default:
          return undefined;
      }
    },
    current: () => info.slice(0, 48),
    finish: () => info.slice(0, 48),
  };
}

// ---- TDX ----

const PAGE_ADD_SIZE = 128;
const EXTEND_SIZE = 384;
const EXTEND_CHUNK = 256;
const EXTENDS_PER_PAGE = PAGE_SIZE_4K / EXTEND_CHUNK;

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function tdxDigester(hash: HashProvider, rules: ProfileRules): Digester {
  const hasher = hash.create('sha384');
  // One MEM.PAGE.ADD record and the page's 16 MR.EXTEND records, laid out as they are hashed.
  const buffer = new Uint8Array(PAGE_ADD_SIZE + EXTENDS_PER_PAGE * EXTEND_SIZE);
  const view = new DataView(buffer.buffer);
  buffer.set(ascii('MEM.PAGE.ADD'), 0);
  for (let i = 0; i < EXTENDS_PER_PAGE; i++) buffer.set(ascii('MR.EXTEND'), PAGE_ADD_SIZE + i * EXTEND_SIZE);
  const pageAddOnly = buffer.subarray(0, PAGE_ADD_SIZE);

  const add = (gpa: bigint, contents: Uint8Array | undefined): void => {
    setGpa(view, 16, gpa);
    if (!contents) {
      hasher.update(pageAddOnly);
      return;
    }
    for (let i = 0; i < EXTENDS_PER_PAGE; i++) {
      const at = PAGE_ADD_SIZE + i * EXTEND_SIZE;
      setGpa(view, at + 16, gpa + BigInt(i * EXTEND_CHUNK));
      buffer.set(contents.subarray(i * EXTEND_CHUNK, (i + 1) * EXTEND_CHUNK), at + 128);
    }
    hasher.update(buffer);
  };

  return {
    algorithm: 'sha384',
    wantsData: (step) => step.kind === 'page' && step.data !== undefined && !step.unmeasured,
    apply(step, page) {
      if (step.kind === 'parameter') {
        add(step.gpa, undefined);
        return { kind: 'MEM.PAGE.ADD', gpa: step.gpa, pageType: 'PARAMETER' };
      }
      if (step.kind !== 'page') return undefined;
      const contents = step.unmeasured ? undefined : page ?? (rules.tdxExtendEmpty ? ZERO_PAGE : undefined);
      add(step.gpa, contents);
      const pageType = step.unmeasured ? 'UNMEASURED' : page ? step.dataType : 'ZERO';
      return contents
        ? { kind: 'MEM.PAGE.ADD+MR.EXTEND', gpa: step.gpa, pageType, contents }
        : { kind: 'MEM.PAGE.ADD', gpa: step.gpa, pageType };
    },
    current: () => hasher.copy().digest(),
    finish: () => hasher.digest(),
  };
}

// ---- VBS ----

const VBS_PAGE_RECORD = 32 + 16 + 8 + 8 + PAGE_SIZE_4K;
const VBS_REGISTER_RECORD = 32 + 48;
const VBS_GPA_PAGE = 2;
const VBS_VP_REGISTER = 0;
const ACCEPT_READ_WRITE = 3n;
const DATA_UNMEASURED = 4n;

function vbsDigester(hash: HashProvider): Digester {
  let digest: Uint8Array = new Uint8Array(32);
  // [digest 32][chunk header 16][metadata 8][page number 8][data 4096], hashed at once.
  const page = new Uint8Array(VBS_PAGE_RECORD);
  const pageView = new DataView(page.buffer);
  pageView.setUint32(32, 16 + 16 + PAGE_SIZE_4K, true);
  pageView.setUint32(36, VBS_GPA_PAGE, true);
  const reg = new Uint8Array(VBS_REGISTER_RECORD);
  const regView = new DataView(reg.buffer);
  regView.setUint32(32, 48, true);
  regView.setUint32(36, VBS_VP_REGISTER, true);

  const recordPage = (gpa: bigint, metadata: bigint, contents: Uint8Array | undefined): void => {
    page.set(digest, 0);
    pageView.setBigUint64(48, metadata, true);
    pageView.setBigUint64(56, BigInt.asUintN(64, gpa / BigInt(PAGE_SIZE_4K)), true);
    page.set(contents ?? ZERO_PAGE, 64);
    digest = hash.hash('sha256', page);
  };

  return {
    algorithm: 'sha256',
    wantsData: (step) => step.kind === 'page' && step.data !== undefined && !step.unmeasured,
    apply(step, data) {
      switch (step.kind) {
        case 'page': {
          const contents = step.unmeasured ? undefined : data ?? ZERO_PAGE;
          recordPage(step.gpa, step.unmeasured ? DATA_UNMEASURED : 0n, contents);
          return { kind: 'VP_GPA_PAGE', gpa: step.gpa, pageType: step.unmeasured ? 'UNMEASURED' : 'NORMAL', ...(contents ? { contents } : {}) };
        }
        case 'parameter':
          recordPage(step.gpa, DATA_UNMEASURED, undefined);
          return { kind: 'VP_GPA_PAGE', gpa: step.gpa, pageType: 'PARAMETER' };
        case 'error-range':
          recordPage(step.gpa, ACCEPT_READ_WRITE | DATA_UNMEASURED, undefined);
          return { kind: 'VP_GPA_PAGE', gpa: step.gpa, pageType: 'ERROR_RANGE' };
        case 'register': {
          reg.set(digest, 0);
          reg.fill(0, 48, 80);
          reg[52] = step.vtl;
          regView.setUint32(60, step.name, true);
          reg.set(step.value, 64);
          digest = hash.hash('sha256', reg);
          return { kind: 'VP_REGISTER', pageType: `0x${step.name.toString(16)}`, contents: step.value };
        }
        default:
          return undefined;
      }
    },
    current: () => digest,
    finish: () => digest,
  };
}

// ---- SEV / SEV-ES ----

function sevDigester(hash: HashProvider, rules: ProfileRules): Digester {
  const hasher = hash.create('sha256');
  const pageMeasured = (step: Step & { kind: 'page' }): boolean => {
    switch (rules.sevPages) {
      case 'any-data':
        return step.data !== undefined;
      case 'measured-data':
        return step.dataType === 'NORMAL' && !step.unmeasured && step.data !== undefined;
      case 'measured-or-zero':
        return step.dataType === 'NORMAL' && !step.unmeasured;
    }
  };
  return {
    algorithm: 'sha256',
    wantsData: (step) => step.kind === 'page' && step.data !== undefined && pageMeasured(step),
    apply(step, page) {
      if (step.kind === 'page' && pageMeasured(step)) {
        const contents = page ?? ZERO_PAGE;
        hasher.update(contents);
        return { kind: 'LAUNCH_UPDATE_DATA', gpa: step.gpa, pageType: step.data ? step.dataType : 'ZERO', contents };
      }
      if (step.kind === 'vmsa') {
        hasher.update(step.bytes);
        return { kind: 'LAUNCH_UPDATE_VMSA', gpa: step.gpa, pageType: 'VMSA', contents: step.bytes };
      }
      return undefined;
    },
    current: () => hasher.copy().digest(),
    finish: () => hasher.digest(),
  };
}

export function createDigester(platform: MeasurablePlatform, rules: ProfileRules, hash: HashProvider): Digester {
  switch (platform) {
    case 'SEV_SNP':
      return snpDigester(hash, rules);
    case 'TDX':
      return tdxDigester(hash, rules);
    case 'VSM_ISOLATION':
      return vbsDigester(hash);
    case 'SEV':
    case 'SEV_ES':
      // The plan yields VMSAs only where they count: for SEV under svsm's rules (it measures every
      // VMSA it finds, whatever the platform), never under the others (SEV contexts are not VMSAs).
      return sevDigester(hash, rules);
  }
}

