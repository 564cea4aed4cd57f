/**
 * `igvm measure FILE`: the launch digest of each measurable platform the file declares (or of one,
 * `--platform`), under a loader profile; `--bare` prints only the hex, `--json` the schema in
 * docs/measure-json.md, `--trace` one JSON line per measured record.
 */
import { parseIgvmLazy, type LazyIgvm } from '../../format/parse.js';
import type { ByteSource } from '../../format/parse.js';
import { MeasureError } from '../../measure/errors.js';
import { measureIgvm, measurablePlatforms, type Measurement, type TraceRecord } from '../../measure/measure.js';
import { PROFILE_NAMES, profileByName, type MeasurablePlatform, type ProfileRules } from '../../measure/profiles.js';
import { availableParallelism } from 'node:os';
import type { HashProvider } from '../../measure/hash.js';
import { createParallelHashProvider, defaultHashThreads } from '../../node/hash-pool.js';
import { nodeHashProvider } from '../../node/node-hash.js';
import { ExitCode, invalidFile, oneLine, usageError } from '../exit.js';
import { PLATFORM_OPTION, withInput, writeOutput } from './common.js';

export interface MeasureCommandOptions {
  readonly platform?: string;
  readonly profile?: string;
  readonly nativeZero?: boolean;
  readonly mask?: string;
  readonly bare?: boolean;
  readonly json?: boolean;
  readonly trace?: string;
  readonly threads?: string;
}

export interface Streams {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

const OPTION_OF: Record<MeasurablePlatform, string> = { SEV_SNP: 'snp', TDX: 'tdx', VSM_ISOLATION: 'vbs', SEV: 'sev', SEV_ES: 'sev-es' };
const WHAT: Record<MeasurablePlatform, string> = {
  SEV_SNP: 'SEV-SNP launch digest',
  TDX: 'TDX MRTD',
  VSM_ISOLATION: 'VBS boot digest',
  SEV: 'SEV launch digest',
  SEV_ES: 'SEV-ES launch digest',
};
export const MEASURE_PLATFORM_CHOICES = Object.values(OPTION_OF);
const PROGRESS_MIN_BYTES = 64 * 1024 * 1024;
const PARALLEL_MIN_BYTES = 16 * 1024 * 1024;

export function resolveProfile(options: { profile?: string; nativeZero?: boolean }): ProfileRules {
  let name = options.profile ?? 'igvm';
  if (options.nativeZero) {
    if (name !== 'svsm-igvmmeasure' && name !== 'svsm-igvmmeasure-native-zero' && options.profile !== undefined) {
      throw usageError(`--native-zero belongs to the svsm-igvmmeasure profile, not ${name}`);
    }
    name = 'svsm-igvmmeasure-native-zero';
  }
  const profile = profileByName(name);
  if (!profile) throw usageError(`unknown profile '${name}' (choose from ${PROFILE_NAMES.join(', ')})`);
  return profile;
}

function parseMask(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^(0x)?[0-9a-f]{1,8}$/i.test(text)) throw usageError(`--mask ${text}: expected a 32-bit hex mask such as 0x1`);
  const mask = Number.parseInt(text.replace(/^0x/i, ''), 16);
  if (mask === 0) throw usageError('--mask 0 selects no headers');
  return mask;
}

/** The platforms to measure: the one asked for, or every one the file declares that the profile measures. */
export function choosePlatforms(igvm: LazyIgvm, file: string, profile: ProfileRules, option: string | undefined): MeasurablePlatform[] {
  if (option !== undefined) {
    const platform = PLATFORM_OPTION[option];
    if (!platform || !(MEASURE_PLATFORM_CHOICES as string[]).includes(option)) {
      throw usageError(`cannot measure platform '${option}' (choose from ${MEASURE_PLATFORM_CHOICES.join(', ')})`);
    }
    return [platform as MeasurablePlatform];
  }
  const list = measurablePlatforms(igvm, profile);
  if (list.length === 0) {
    const declared = igvm.platforms.map((p) => p.platformType).join(', ') || 'no platforms';
    throw invalidFile(file, `nothing to measure: the file declares ${declared}, and profile ${profile.name} measures ${profile.platforms.join(', ')}`);
  }
  return list;
}

/** MeasureError -> one CLI line: a profile/platform mismatch is a usage error, the rest bad input. */
export function measureFailure(file: string, error: unknown): unknown {
  if (!(error instanceof MeasureError)) return error;
  return error.code === 'UnsupportedProfile' ? usageError(error.message) : invalidFile(file, error.message);
}

function progressBar(stderr: Streams['stderr'], label: string): { update: (done: number, total: number) => void; clear: () => void } {
  let last = -1;
  const width = 30;
  return {
    update(done, total) {
      const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
      if (pct === last) return;
      last = pct;
      const filled = Math.round((pct / 100) * width);
      stderr.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${String(pct).padStart(3)}%`);
    },
    clear() {
      if (last >= 0) stderr.write(`\r${' '.repeat(label.length + width + 8)}\r`);
    },
  };
}

function traceLine(platform: MeasurablePlatform, r: TraceRecord): string {
  return JSON.stringify({
    platform,
    n: r.n,
    header: r.header,
    kind: r.kind,
    ...(r.gpa !== undefined ? { gpa: `0x${r.gpa.toString(16)}` } : {}),
    ...(r.pageType !== undefined ? { pageType: r.pageType } : {}),
    contentsSha256: r.contentsSha256 ?? null,
    digest: r.digest,
  });
}

interface PlatformRunOptions {
  readonly mask?: number;
  /** Trace lines are pushed here (for one atomic write at the end). */
  readonly trace?: string[];
  readonly stderr?: Streams['stderr'];
  readonly progressMinBytes?: number;
  /** Worker threads for SEV-SNP page hashes; 0 = none; undefined = automatic. */
  readonly threads?: number;
}

function parseThreads(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) > 64) throw usageError(`--threads ${text}: expected a number of threads from 0 to 64`);
  return Number(text);
}

/** Measure each platform in turn. */
export async function measurePlatforms(
  igvm: LazyIgvm,
  source: ByteSource,
  file: string,
  platforms: MeasurablePlatform[],
  profile: ProfileRules,
  options: PlatformRunOptions,
): Promise<Measurement[]> {
  const results: Measurement[] = [];
  // SEV-SNP page contents hash independently: on a machine with cores to spare, large files hash
  // them on worker threads while the main thread chains PAGE_INFOs.
  const auto = source.size > PARALLEL_MIN_BYTES && availableParallelism() >= 3 ? defaultHashThreads() : 0;
  const threads = options.threads ?? auto;
  const parallel = platforms.includes('SEV_SNP') && threads > 0 ? createParallelHashProvider(threads) : undefined;
  try {
    for (const platform of platforms) {
      results.push(await measureOne(igvm, source, file, platform, profile, platform === 'SEV_SNP' && parallel ? parallel : nodeHashProvider, options));
    }
  } finally {
    await parallel?.close();
  }
  return results;
}

async function measureOne(
  igvm: LazyIgvm,
  source: ByteSource,
  file: string,
  platform: MeasurablePlatform,
  profile: ProfileRules,
  hash: HashProvider,
  options: PlatformRunOptions,
): Promise<Measurement> {
  const showProgress = options.stderr?.isTTY === true && source.size > (options.progressMinBytes ?? PROGRESS_MIN_BYTES);
  const bar = showProgress ? progressBar(options.stderr!, `measuring ${OPTION_OF[platform]}`) : undefined;
  const trace = options.trace;
  try {
    return await measureIgvm(igvm, source, platform, hash, {
      profile,
      ...(options.mask !== undefined ? { mask: options.mask } : {}),
      ...(trace ? { onRecord: (r: TraceRecord) => void trace.push(traceLine(platform, r)) } : {}),
      ...(bar ? { onProgress: bar.update } : {}),
    });
  } catch (e) {
    throw measureFailure(file, e);
  } finally {
    bar?.clear();
  }
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function textLine(m: Measurement): string {
  const id = m.idBlock
    ? m.idBlock.matches
      ? '; ID block ld matches'
      : `; ID block ld DIFFERS (${Buffer.from(m.idBlock.ld).toString('hex')})`
    : '';
  return `${OPTION_OF[m.platform].padEnd(6)} ${m.hex}  (${WHAT[m.platform]}, ${m.algorithm === 'sha384' ? 'SHA-384' : 'SHA-256'}; profile ${m.profile}; mask ${hex(m.mask)}; ${m.records} records${id})`;
}

const IDENTITY_CLASS_ID = '7fb00ee4-a7ff-11ed-9e2f-00155d09de56';
const IDENTITY_KEY: Partial<Record<MeasurablePlatform, string>> = { SEV_SNP: 'snp_ld', TDX: 'tdx_mrtd', VSM_ISOLATION: 'vbs_boot_digest' };

export function measureJson(file: string, profile: ProfileRules, results: Measurement[]): unknown {
  const identity: Record<string, unknown> = {};
  for (const m of results) {
    const key = IDENTITY_KEY[m.platform];
    if (key) identity[OPTION_OF[m.platform]] = { environment: { class_id: IDENTITY_CLASS_ID }, series: [{ reference: { [key]: m.hex.toUpperCase() } }] };
  }
  return {
    schema: 'igvm-ts/measure/v1',
    file,
    profile: { name: profile.name, description: profile.description },
    measurements: results.map((m) => ({
      platform: m.platform,
      option: OPTION_OF[m.platform],
      compatibilityMask: m.mask,
      algorithm: m.algorithm,
      digest: m.hex,
      records: m.records,
      idBlock: m.idBlock ? { header: m.idBlock.headerIndex, ld: Buffer.from(m.idBlock.ld).toString('hex'), matches: m.idBlock.matches } : null,
      warnings: m.warnings.map((w) => (w.headerIndex !== undefined ? `header #${w.headerIndex}: ${w.message}` : w.message)),
    })),
    identity,
  };
}

export async function measureCommand(
  file: string,
  options: MeasureCommandOptions,
  streams: Streams = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const profile = resolveProfile(options);
  const mask = parseMask(options.mask);
  const threads = parseThreads(options.threads);
  if (options.bare && options.json) throw usageError('--bare and --json exclude each other');
  const trace: string[] | undefined = options.trace !== undefined ? [] : undefined;
  const results = await withInput(file, async (source) => {
    const igvm = await parseIgvmLazy(source);
    const platforms = choosePlatforms(igvm, file, profile, options.platform);
    if (options.bare && platforms.length > 1) {
      throw usageError(`--bare prints one digest: choose one of ${platforms.map((p) => OPTION_OF[p]).join(', ')} with --platform`);
    }
    if (mask !== undefined && platforms.length > 1) throw usageError('--mask applies to one platform: add --platform');
    return measurePlatforms(igvm, source, file, platforms, profile, {
      ...(mask !== undefined ? { mask } : {}),
      ...(trace ? { trace } : {}),
      ...(threads !== undefined ? { threads } : {}),
      stderr: streams.stderr,
    });
  });
  if (options.trace !== undefined && trace) {
    await writeOutput(options.trace, new TextEncoder().encode(trace.length ? `${trace.join('\n')}\n` : ''));
  }
  for (const m of results) {
    for (const w of m.warnings) {
      streams.stderr.write(`${file}: warning: ${OPTION_OF[m.platform]}: ${w.headerIndex !== undefined ? `header #${w.headerIndex}: ` : ''}${oneLine(w.message)}\n`);
    }
  }
  if (options.bare) streams.stdout.write(`${results[0]!.hex}\n`);
  else if (options.json) streams.stdout.write(`${JSON.stringify(measureJson(file, profile, results), null, 2)}\n`);
  else for (const m of results) streams.stdout.write(`${textLine(m)}\n`);
  return ExitCode.OK;
}

