import fc from 'fast-check';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  crc32,
  IgvmBuilder,
  IgvmFormatError,
  parseIgvm,
  parseIgvmLazy,
  serializeIgvm,
  type ByteSource,
  type IgvmFile,
  type NativeVpContextX64Fields,
  type PlatformTypeName,
} from '../../src/format/index.js';

const VECTORS = path.resolve(import.meta.dirname, '../../../shared/vectors');

function loadValidVectors(): Uint8Array[] {
  if (!existsSync(VECTORS)) return [];
  return readdirSync(VECTORS)
    .filter((f) => f.endsWith('.igvm') && f !== 'v1_zero_page_only.igvm')
    .map((f) => new Uint8Array(readFileSync(path.join(VECTORS, f))));
}

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const pageNumber = fc.integer({ min: 0, max: 0xfffff });

const nativeContext: fc.Arbitrary<NativeVpContextX64Fields> = fc.record({
  rax: u64, rcx: u64, rdx: u64, rbx: u64, rsp: u64, rbp: u64, rsi: u64, rdi: u64,
  r8: u64, r9: u64, r10: u64, r11: u64, r12: u64, r13: u64, r14: u64, r15: u64,
  rip: u64, rflags: u64, idtrBase: u64,
  idtrLimit: fc.integer({ min: 0, max: 0xffff }),
  reserved0: fc.constant(0), reserved1: fc.constant(0),
  gdtrLimit: fc.integer({ min: 0, max: 0xffff }),
  gdtrBase: u64,
  codeSelector: fc.integer({ min: 0, max: 0xffff }),
  codeAttributes: fc.integer({ min: 0, max: 0xffff }),
  codeBase: fc.integer({ min: 0, max: 0xffffffff }),
  codeLimit: fc.integer({ min: 0, max: 0xffffffff }),
  dataSelector: fc.integer({ min: 0, max: 0xffff }),
  dataAttributes: fc.integer({ min: 0, max: 0xffff }),
  dataBase: fc.integer({ min: 0, max: 0xffffffff }),
  dataLimit: fc.integer({ min: 0, max: 0xffffffff }),
  gsBase: u64, cr0: u64, cr3: u64, cr4: u64, efer: u64,
});

interface Program {
  platforms: PlatformTypeName[];
  revision: 1 | 2;
  pages: { page: number; fill: number; length: number; unmeasured: boolean; onlyFirst: boolean }[];
  areas: { pages: number; usages: ('VP_COUNT_PARAMETER' | 'MEMORY_MAP' | 'COMMAND_LINE' | 'MADT' | 'ENVIRONMENT_INFO_PARAMETER')[]; insertPage?: number; initial?: number }[];
  context?: NativeVpContextX64Fields;
  required?: { page: number; pages: number };
}

const program: fc.Arbitrary<Program> = fc.record({
  platforms: fc.uniqueArray(fc.constantFrom<PlatformTypeName>('NATIVE', 'SEV_SNP', 'VSM_ISOLATION', 'TDX'), { minLength: 1, maxLength: 3 }),
  revision: fc.constantFrom<1 | 2>(1, 2),
  pages: fc.uniqueArray(
    fc.record({
      page: pageNumber,
      fill: fc.integer({ min: 0, max: 255 }),
      length: fc.integer({ min: 1, max: 4096 }),
      unmeasured: fc.boolean(),
      onlyFirst: fc.boolean(),
    }),
    { selector: (p) => p.page, minLength: 1, maxLength: 12 },
  ),
  areas: fc.array(
    fc.record({
      pages: fc.integer({ min: 1, max: 3 }),
      usages: fc.uniqueArray(fc.constantFrom('VP_COUNT_PARAMETER', 'MEMORY_MAP', 'COMMAND_LINE', 'MADT', 'ENVIRONMENT_INFO_PARAMETER' as const)),
      insertPage: fc.option(pageNumber, { nil: undefined }),
      initial: fc.option(fc.integer({ min: 1, max: 255 }), { nil: undefined }),
    }),
    { maxLength: 3 },
  ),
  context: fc.option(nativeContext, { nil: undefined }),
  required: fc.option(fc.record({ page: pageNumber, pages: fc.integer({ min: 1, max: 16 }) }), { nil: undefined }),
});

function build(p: Program): IgvmFile {
  const b = new IgvmBuilder(p.revision === 1 ? { formatVersion: 1 } : { formatVersion: 2, architecture: 'X64', pageSize: 4096 });
  const masks = p.platforms.map((t) => b.addPlatform(t));
  for (const page of p.pages) {
    const data = new Uint8Array(page.length).fill(page.fill);
    b.addPageData(BigInt(page.page) * 4096n, data, { unmeasured: page.unmeasured, mask: page.onlyFirst ? masks[0] : undefined });
  }
  for (const area of p.areas) {
    const size = BigInt(area.pages * 4096);
    const index = b.addParameterArea(size, area.initial ? { initialData: new Uint8Array(100).fill(area.initial) } : {});
    area.usages.forEach((u, i) => b.addParameter(u, index, i * 8));
    if (area.insertPage !== undefined) b.addParameterInsert(index, BigInt(area.insertPage) * 4096n);
  }
  if (p.context && p.platforms.includes('NATIVE')) b.setNativeContext(p.context);
  if (p.required) b.addRequiredMemory(BigInt(p.required.page) * 4096n, p.required.pages * 4096);
  // Make sure there is file data: the reference refuses files without any.
  b.addPageData(0x1_0000_0000n, new Uint8Array([1]), { mask: masks[0] });
  return b.build();
}

/** What parsing should give back for a built model: payloads padded to their on-disk size. */
function padded(file: IgvmFile): IgvmFile {
  const pad = (d: Uint8Array, n: number) => {
    if (d.length === 0 || d.length === n) return d;
    const out = new Uint8Array(n);
    out.set(d);
    return out;
  };
  return {
    ...file,
    directives: file.directives.map((d) => {
      if (d.type === 'PAGE_DATA') return { ...d, data: pad(d.data, 4096) };
      if (d.type === 'PARAMETER_AREA') return { ...d, initialData: pad(d.initialData, Number(d.numberOfBytes)) };
      return d;
    }),
  };
}

/** The model as plain comparable data: payload bytes as hex strings (fast to compare). */
function modelOf(f: IgvmFile): unknown {
  const plain = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
    return v;
  };
  return plain({ revision: f.revision, platforms: f.platforms, initializations: f.initializations, directives: f.directives });
}

describe('builder output', () => {
  it('always parses back to the same model, and re-serializes to the same bytes', () => {
    fc.assert(
      fc.property(program, (p) => {
        const model = build(p);
        const bytes = serializeIgvm(model);
        const parsed = parseIgvm(bytes);
        expect(modelOf(parsed)).toEqual(modelOf(padded(model)));
        expect(Buffer.from(serializeIgvm(parsed)).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

// ---- mutation fuzzing ----

function withChecksum(bytes: Uint8Array): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) return bytes;
  const version = dv.getUint32(4, true);
  const fixed = version === 2 && bytes.length >= 32 ? 32 : 24;
  const varOffset = dv.getUint32(8, true);
  const varSize = dv.getUint32(12, true);
  if (varOffset + varSize > bytes.length) return bytes;
  const head = bytes.slice(0, fixed);
  head.fill(0, 20, 24);
  dv.setUint32(20, crc32(bytes.subarray(varOffset, varOffset + varSize), crc32(head)), true);
  return bytes;
}

function tlvOffsets(bytes: Uint8Array): number[] {
  if (bytes.length < 24) return [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = dv.getUint32(8, true);
  const end = Math.min(bytes.length, start + dv.getUint32(12, true));
  const out: number[] = [];
  for (let pos = start; pos + 8 <= end; ) {
    out.push(pos);
    pos += 8 + Math.ceil(dv.getUint32(pos + 4, true) / 8) * 8;
  }
  return out;
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'field'; record: number; field: number; value: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'fixed'; field: number; value: number };

const edgeU32 = fc.oneof(
  fc.constantFrom(0, 1, 7, 8, 0x1000, 0xfff, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0),
  fc.integer({ min: 0, max: 0xffffffff }),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({ kind: fc.constant('field' as const), record: fc.nat(), field: fc.integer({ min: 0, max: 7 }), value: edgeU32 }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('fixed' as const), field: fc.integer({ min: 1, max: 7 }), value: edgeU32 }),
);

function mutate(original: Uint8Array, m: Mutation, fixCrc: boolean): Uint8Array {
  let bytes = original.slice();
  const dv = () => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (m.kind) {
    case 'flip':
      if (bytes.length > 0) bytes[m.at % bytes.length]! ^= 1 << m.bit;
      break;
    case 'truncate':
      bytes = bytes.slice(0, bytes.length > 0 ? m.keep % bytes.length : 0);
      break;
    case 'fixed':
      if (m.field * 4 + 4 <= bytes.length) dv().setUint32(m.field * 4, m.value, true);
      break;
    case 'field': {
      const recs = tlvOffsets(bytes);
      const rec = recs[m.record % Math.max(1, recs.length)];
      if (rec === undefined) break;
      const at = rec + m.field * 4;
      if (at + 4 <= bytes.length) dv().setUint32(at, m.value, true);
      break;
    }
    case 'swap': {
      const recs = tlvOffsets(bytes);
      if (recs.length < 2) break;
      const a = recs[m.a % recs.length]!;
      const b = recs[m.b % recs.length]!;
      const size = (o: number) => 8 + Math.ceil(dv().getUint32(o + 4, true) / 8) * 8;
      if (a === b || size(a) !== size(b) || a + size(a) > bytes.length || b + size(b) > bytes.length) break;
      const tmp = bytes.slice(a, a + size(a));
      bytes.copyWithin(a, b, b + size(b));
      bytes.set(tmp, b);
      break;
    }
  }
  return fixCrc ? withChecksum(bytes) : bytes;
}

/** A source that fails the test if the parser ever asks for bytes outside the file. */
function strictSource(bytes: Uint8Array): ByteSource & { maxRead: number } {
  const src = {
    size: bytes.length,
    maxRead: 0,
    async read(offset: number, length: number) {
      if (offset < 0 || length < 0 || offset + length > bytes.length) {
        throw new Error(`read of ${length} bytes at ${offset} outside a ${bytes.length}-byte file`);
      }
      src.maxRead = Math.max(src.maxRead, length);
      return bytes.slice(offset, offset + length);
    },
  };
  return src;
}

function outcome(run: () => unknown): string {
  try {
    run();
    return 'ok';
  } catch (e) {
    if (e instanceof IgvmFormatError) return e.code;
    throw e;
  }
}

async function outcomeAsync(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return 'ok';
  } catch (e) {
    if (e instanceof IgvmFormatError) return e.code;
    throw e;
  }
}

describe('mutated files', () => {
  const seeds = [...loadValidVectors(), serializeIgvm(build({
    platforms: ['NATIVE'], revision: 1,
    pages: [{ page: 1, fill: 7, length: 4096, unmeasured: false, onlyFirst: false }],
    areas: [{ pages: 1, usages: ['MEMORY_MAP', 'VP_COUNT_PARAMETER'], insertPage: 9 }],
    required: { page: 16, pages: 4 },
  }))];

  it('only ever raise IgvmFormatError, identically in eager and lazy parsing, reading only inside the file', async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        fc.boolean(),
        async (seed, mutations, fixCrc, lenient) => {
          let bytes = seeds[seed]!;
          for (const m of mutations) bytes = mutate(bytes, m, fixCrc);
          const eager = outcome(() => parseIgvm(bytes, { lenient }));
          const source = strictSource(bytes);
          const lazy = await outcomeAsync(() => parseIgvmLazy(source, { lenient }));
          expect(lazy).toBe(eager);
          seen.set(eager, (seen.get(eager) ?? 0) + 1);
          // Reads are bounded by the file, whatever its length fields claim.
          expect(source.maxRead).toBeLessThanOrEqual(bytes.length);
        },
      ),
      { numRuns: 10_000 },
    );
    // The mutations must reach past the checksum and into the header rules, not only fail early.
    console.log('mutation outcomes:', Object.fromEntries([...seen].sort((a, b) => b[1] - a[1])));
    expect(seen.get('ok') ?? 0).toBeGreaterThan(100);
    expect(seen.size).toBeGreaterThan(10);
  });
});
