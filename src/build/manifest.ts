/**
 * The `igvm build` manifest: its schema (zod), checked with errors that name the JSON path. The
 * README documents every field; numbers may be JSON numbers or strings ("0x100000", "2M", "4096").
 */
import { z } from 'zod';

const SIZE_UNITS: Record<string, bigint> = { '': 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n };
const U64_MAX = (1n << 64n) - 1n;

/** A non-negative integer given as a JSON number, a decimal or hex string, or a size like "2M". */
const integer = z
  .union([z.number(), z.string()], {
    error: (issue) => (issue.input === undefined ? 'required' : 'expected a number or a string such as "0x1000" or "2M"'),
  })
  .transform((v, ctx): bigint => {
  let out: bigint | undefined;
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && v >= 0) out = BigInt(v);
  } else {
    const m = /^(0x[0-9a-f]+|\d+)([KMGT]?)(i?B)?$/i.exec(v.trim());
    if (m) out = BigInt(m[1]!) * SIZE_UNITS[m[2]!.toUpperCase()]!;
  }
  if (out === undefined || out > U64_MAX) {
    ctx.addIssue({ code: 'custom', message: `expected a non-negative integer ("0x1000", "4096", "2M"), got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return out;
});

const pageAligned = integer.refine((v) => v % 4096n === 0n, { message: 'must be a multiple of 4 KiB (0x1000)' });
const smallInt = z.number().int().nonnegative();

const pageOptions = {
  unmeasured: z.boolean().default(false),
  shared: z.boolean().default(false),
  dataType: z.enum(['normal', 'secrets', 'cpuid-data', 'cpuid-xf']).default('normal'),
};

const FlatPayload = z
  .object({ type: z.literal('flat'), file: z.string().min(1), gpa: pageAligned, ...pageOptions })
  .strict();
const ElfPayload = z.object({ type: z.literal('elf'), file: z.string().min(1), ...pageOptions }).strict();
const ZeroPayload = z.object({ type: z.literal('zero'), gpa: pageAligned, size: pageAligned, ...pageOptions }).strict();
const DataPayload = z
  .object({
    type: z.literal('data'),
    gpa: pageAligned,
    file: z.string().min(1).optional(),
    hex: z
      .string()
      .regex(/^([0-9a-fA-F]{2})*$/, 'must be an even number of hex digits')
      .optional(),
    ...pageOptions,
  })
  .strict()
  .refine((p) => (p.file === undefined) !== (p.hex === undefined), { message: 'give exactly one of "file" and "hex"' });

export const Payload = z.discriminatedUnion('type', [FlatPayload, ElfPayload, ZeroPayload, DataPayload]);

export const PARAMETER_KINDS = {
  'vp-count': 'VP_COUNT_PARAMETER',
  'memory-map': 'MEMORY_MAP',
  'environment-info': 'ENVIRONMENT_INFO_PARAMETER',
  'command-line': 'COMMAND_LINE',
  madt: 'MADT',
  srat: 'SRAT',
  slit: 'SLIT',
  pptt: 'PPTT',
  'mmio-ranges': 'MMIO_RANGES',
  'device-tree': 'DEVICE_TREE',
} as const;

const ParameterArea = z
  .object({
    index: smallInt.optional(),
    size: pageAligned.refine((v) => v > 0n, { message: 'must not be zero' }),
    insertAt: pageAligned.optional(),
    initialData: z.string().min(1).optional(),
    parameters: z
      .array(
        z
          .object({
            type: z.enum(Object.keys(PARAMETER_KINDS) as [keyof typeof PARAMETER_KINDS, ...(keyof typeof PARAMETER_KINDS)[]]),
            offset: smallInt.default(0),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export const REGISTER_NAMES = [
  'rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
  'rip', 'rflags', 'cr0', 'cr3', 'cr4', 'efer', 'gsBase', 'idtrBase', 'idtrLimit', 'gdtrBase', 'gdtrLimit',
  'codeSelector', 'codeAttributes', 'codeBase', 'codeLimit', 'dataSelector', 'dataAttributes', 'dataBase', 'dataLimit',
] as const;

const Entry = z.union([integer, z.object({ symbol: z.string().min(1) }).strict()]);

const Boot = z
  .object({
    preset: z.enum(['long64', 'protected32', 'real16']),
    entry: Entry.optional(),
    stack: integer.optional(),
    pageTables: z
      .object({
        gpa: pageAligned.optional(),
        pageSize: z.enum(['2M', '4K']).default('2M'),
        mapSize: integer.refine((v) => v > 0n && v % (2n << 20n) === 0n && v <= 512n << 30n, {
          message: 'must be a non-zero multiple of 2 MiB, at most 512G',
        }).default(4n << 30n),
      })
      .strict()
      .optional(),
    gdt: pageAligned.optional(),
    registers: z.partialRecord(z.enum(REGISTER_NAMES), integer).optional(),
  })
  .strict();

export const Manifest = z
  .object({
    $schema: z.string().optional(),
    revision: z.enum(['v1', 'v2']).default('v1'),
    platforms: z.array(z.enum(['native', 'sev-snp', 'tdx', 'vbs'])).min(1).default(['native']),
    payloads: z.array(Payload).default([]),
    requiredMemory: z
      .array(z.object({ gpa: pageAligned, size: pageAligned, vtl2Protectable: z.boolean().default(false) }).strict())
      .default([]),
    parameterAreas: z.array(ParameterArea).default([]),
    boot: Boot.optional(),
    /** Loaders the file must load on as written (igvm check); default: all of them for a native file. */
    loaders: z.array(z.enum(['qemu-10.2', 'igvm-ts', 'spec'])).optional(),
  })
  .strict();

export type ManifestValue = z.output<typeof Manifest>;
export type PayloadValue = z.output<typeof Payload>;

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  constructor(
    readonly source: string,
    readonly jsonPath: string,
    detail: string,
  ) {
    super(`${source}: ${jsonPath ? `${jsonPath}: ` : ''}${detail}`);
  }
}

/** `payloads[2].gpa` from a zod issue path. */
export function jsonPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** Parse and check manifest text; the first problem is thrown as a ManifestError naming its JSON path. */
export function parseManifest(text: string, source: string): ManifestValue {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ManifestError(source, '', `not valid JSON: ${(e as Error).message}`);
  }
  const result = Manifest.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ManifestError(source, jsonPath(issue.path), issue.message);
  }
  return result.data;
}
