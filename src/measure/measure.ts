/**
 * Measure one platform of a parsed IGVM file: pick its compatibility mask, walk the plan under a
 * profile, feed the digester page by page (payloads read in batches from the byte source), and
 * report the digest, the records it took, the profile's warnings and the SNP ID block check.
 */
import type { PlatformTypeName } from '../format/constants.js';
import { hex } from '../format/errors.js';
import type { ByteSource } from '../format/parse.js';
import type { DataLike, DataRef, ParsedIgvm, SnpIdBlockHeader } from '../format/model.js';
import { createDigester, type MeasuredRecord } from './digesters.js';
import { MeasureError, type MeasureWarning } from './errors.js';
import { toHex, type HashAlgorithm, type HashProvider } from './hash.js';
import { batches } from './page-reader.js';
import { planSteps } from './plan.js';
import { maskSelects, MEASURABLE_PLATFORMS, profileByName, type MeasurablePlatform, type ProfileRules } from './profiles.js';

/** One measured record, as `--trace` writes it. */
export interface TraceRecord {
  /** 0-based record number. */
  readonly n: number;
  /** Index of the directive's header in the file (all headers, file order). */
  readonly header: number;
  readonly kind: string;
  readonly gpa?: bigint;
  readonly pageType?: string;
  /** SHA-256 of the bytes measured by content (hex), when there were any. */
  readonly contentsSha256?: string;
  /** The running digest after this record (hex). */
  readonly digest: string;
}

export interface MeasureOptions {
  readonly profile?: ProfileRules;
  /** Override the platform's compatibility mask (a SUPPORTED_PLATFORM of the platform is still required). */
  readonly mask?: number;
  readonly onRecord?: (record: TraceRecord) => void;
  /** Progress in directives walked. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface IdBlockCheck {
  readonly headerIndex: number;
  readonly ld: Uint8Array;
  readonly matches: boolean;
}

export interface Measurement {
  readonly platform: MeasurablePlatform;
  readonly profile: ProfileRules['name'];
  readonly mask: number;
  readonly algorithm: HashAlgorithm;
  readonly digest: Uint8Array;
  readonly hex: string;
  readonly records: number;
  readonly warnings: MeasureWarning[];
  /** SEV-SNP: the file's ID block for this platform, and whether its `ld` equals the digest. */
  readonly idBlock?: IdBlockCheck;
}

const DEFAULT_PROFILE = profileByName('igvm')!;

export function isMeasurable(platform: PlatformTypeName): platform is MeasurablePlatform {
  return (MEASURABLE_PLATFORMS as readonly string[]).includes(platform);
}

/** The measurable platforms a file declares (in declaration order) that `profile` can measure. */
export function measurablePlatforms(igvm: ParsedIgvm<DataLike>, profile: ProfileRules = DEFAULT_PROFILE): MeasurablePlatform[] {
  return igvm.platforms.map((p) => p.platformType).filter((t): t is MeasurablePlatform => isMeasurable(t) && profile.platforms.includes(t));
}

function declared(igvm: ParsedIgvm<DataRef>): string {
  const names = igvm.platforms.map((p) => p.platformType);
  if (names.length === 0) return 'no platforms';
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

export function platformMaskOf(igvm: ParsedIgvm<DataRef>, platform: MeasurablePlatform): number {
  const header = igvm.platforms.find((p) => p.platformType === platform);
  if (!header) throw new MeasureError('NoSuchPlatform', `file declares ${declared(igvm)}; no ${platform} platform`);
  return header.compatibilityMask;
}

function findIdBlock(igvm: ParsedIgvm<DataRef>, rules: ProfileRules, mask: number): { block: SnpIdBlockHeader; headerIndex: number } | undefined {
  for (let i = 0; i < igvm.directives.length; i++) {
    const d = igvm.directives[i]!;
    if (d.type === 'SNP_ID_BLOCK' && maskSelects(rules, d.compatibilityMask, mask)) {
      return { block: d, headerIndex: igvm.locations.directives[i]?.index ?? i };
    }
  }
  return undefined;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export async function measureIgvm(
  igvm: ParsedIgvm<DataRef>,
  source: ByteSource,
  platform: MeasurablePlatform,
  hash: HashProvider,
  options: MeasureOptions = {},
): Promise<Measurement> {
  const rules = options.profile ?? DEFAULT_PROFILE;
  if (!rules.platforms.includes(platform)) {
    throw new MeasureError('UnsupportedProfile', `profile ${rules.name} does not measure ${platform} (it measures ${rules.platforms.join(', ')})`);
  }
  const declaredMask = platformMaskOf(igvm, platform);
  const mask = options.mask ?? declaredMask;
  const warnings: MeasureWarning[] = [];
  const warn = (w: MeasureWarning): void => void warnings.push(w);

  if (platform === 'SEV_SNP' && rules.requireGuestPolicy) {
    const policy = igvm.initializations.some((h) => h.type === 'GUEST_POLICY' && maskSelects(rules, h.compatibilityMask, mask));
    if (!policy) warn({ message: `no GUEST_POLICY applies to mask ${hex(mask)}: the reference refuses to measure this file (the policy does not change the digest)` });
  }

  const digester = createDigester(platform, rules, hash);
  const total = igvm.directives.length;
  let lastProgress = -1;
  const steps = planSteps({
    igvm,
    platform,
    platformMask: mask,
    rules,
    warn,
    onDirective: options.onProgress
      ? (i) => {
          // Report at most every 1/1000 of the walk.
          if (i === total || i - lastProgress >= Math.max(1, total / 1000)) {
            lastProgress = i;
            options.onProgress!(i, total);
          }
        }
      : undefined,
  });

  let records = 0;
  const trace = options.onRecord;
  for await (const batch of batches(source, steps, digester, hash)) {
    for (let i = 0; i < batch.steps.length; i++) {
      const record: MeasuredRecord | undefined = digester.apply(batch.steps[i]!, batch.pages[i], batch.contentsHashes?.[i]);
      if (!record) continue;
      if (trace) {
        const step = batch.steps[i]!;
        trace({
          n: records,
          header: step.header,
          kind: record.kind,
          ...(record.gpa !== undefined ? { gpa: record.gpa } : {}),
          ...(record.pageType !== undefined ? { pageType: record.pageType } : {}),
          ...(record.contents ? { contentsSha256: toHex(hash.hash('sha256', record.contents)) } : {}),
          digest: toHex(digester.current()),
        });
      }
      records++;
    }
  }
  const digest = digester.finish();
  const result: Measurement = { platform, profile: rules.name, mask, algorithm: digester.algorithm, digest, hex: toHex(digest), records, warnings };
  if (platform !== 'SEV_SNP') return result;
  const id = findIdBlock(igvm, rules, mask);
  if (!id) return result;
  return { ...result, idBlock: { headerIndex: id.headerIndex, ld: id.block.ld, matches: equalBytes(id.block.ld, digest) } };
}
