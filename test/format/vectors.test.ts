/**
 * Our parser and writer against the reference vectors: the same accept/reject decision as the
 * reference, the same headers and values as its parse dump, byte-identical re-serialization, and
 * the lazy (Blob) parser agreeing with the eager one.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  blobSource,
  parseIgvm,
  parseIgvmLazy,
  serializeIgvm,
  type DataLike,
  type DataRef,
  type DirectiveHeader,
  type InitializationHeader,
  type LazyIgvm,
  type ParsedIgvm,
} from '../../src/format/index.js';
import {
  KNOWN_VECTORS,
  loadExpected,
  loadVector,
  referenceErrorCode,
  skipVectorTests,
  toBlob,
  toReferenceShape,
  vectorNames,
  vectorsAvailable,
  vectorsDir,
} from '../helpers/vectors.js';
import { formatErrorOf } from '../helpers/errors.js';


function isDataRef(d: DataLike): d is DataRef {
  return !(d instanceof Uint8Array) && typeof (d as DataRef).fileOffset === 'number';
}

/** Replace every DataRef of a lazy parse by the bytes `readData` returns for it. */
async function resolveLazy(lazy: LazyIgvm): Promise<ParsedIgvm<Uint8Array>> {
  const resolve = async (d: DataLike): Promise<Uint8Array> => {
    expect(isDataRef(d), 'lazy payloads are DataRefs, not bytes').toBe(true);
    const bytes = await lazy.readData(d as DataRef);
    expect(bytes.length).toBe(d.length);
    return bytes;
  };
  const initializations: InitializationHeader<Uint8Array>[] = [];
  for (const h of lazy.initializations) {
    if (h.type === 'CORIM_DOCUMENT' || h.type === 'CORIM_SIGNATURE') initializations.push({ ...h, data: await resolve(h.data) });
    else initializations.push(h as InitializationHeader<Uint8Array>); // no payload
  }
  const directives: DirectiveHeader<Uint8Array>[] = [];
  for (const h of lazy.directives) {
    if (h.type === 'PAGE_DATA') directives.push({ ...h, data: await resolve(h.data) });
    else if (h.type === 'PARAMETER_AREA') directives.push({ ...h, initialData: await resolve(h.initialData) });
    else directives.push(h);
  }
  const { readData: _readData, ...rest } = lazy;
  return { ...rest, initializations, directives };
}

const skip = skipVectorTests();

describe.skipIf(skip)('reference vectors', () => {
  it('holds every vector the README lists, each with its expected dump', () => {
    for (const name of KNOWN_VECTORS) {
      expect(existsSync(path.join(vectorsDir, `${name}.igvm`)), name).toBe(true);
      expect(existsSync(path.join(vectorsDir, 'expected', `${name}.json`)), name).toBe(true);
    }
  });

  describe.each(vectorNames())('%s', (name) => {
    // Collection runs even when the suite is skipped: read nothing unless the vectors exist.
    const expected = vectorsAvailable ? loadExpected(name) : { ok: true };

    it(`is ${expected.ok ? 'accepted' : 'rejected'} by the strict parser, as by the reference`, () => {
      const bytes = loadVector(name);
      if (expected.ok) {
        expect(() => parseIgvm(bytes)).not.toThrow();
      } else {
        expect(formatErrorOf(() => parseIgvm(bytes)).code).toBe(referenceErrorCode(expected.error_debug!));
      }
    });

    if (expected.ok) describe('a valid file', () => {
      it('has the revision, file size and every header and value of the reference dump', () => {
        const parsed = parseIgvm(loadVector(name));
        const ours = toReferenceShape(parsed);
        expect(ours['revision']).toStrictEqual(expected.revision);
        expect(ours['file_size']).toBe(expected.file_size);
        for (const key of ['platform_headers', 'initialization_headers', 'directive_headers'] as const) {
          const mine = ours[key] as unknown[];
          const theirs = expected[key]!;
          expect(mine.length, `${key} count`).toBe(theirs.length);
          theirs.forEach((h, i) => expect(mine[i], `${key}[${i}]`).toStrictEqual(h));
        }
        // And the whole dump at once (catches keys at the top level, too).
        const { tool: _tool, ...dump } = expected as typeof expected & { tool?: string };
        expect(ours).toStrictEqual(dump);
        expect(parsed.warnings).toEqual([]);
      });

      it('re-serializes byte for byte', () => {
        const bytes = loadVector(name);
        const written = serializeIgvm(parseIgvm(bytes));
        expect(written.length).toBe(bytes.length);
        expect(Buffer.from(written).equals(Buffer.from(bytes))).toBe(true);
      });

      it('parses lazily from a Blob to the same headers, payloads resolving to the same bytes', async () => {
        const bytes = loadVector(name);
        const eager = parseIgvm(bytes);
        const lazy = await parseIgvmLazy(blobSource(toBlob(bytes)));
        for (const h of lazy.directives) {
          if (h.type === 'PAGE_DATA' && h.data.length > 0) {
            const ref = h.data as DataRef;
            expect(ref).not.toBeInstanceOf(Uint8Array);
            expect(await lazy.readData(ref)).toEqual(bytes.subarray(ref.fileOffset, ref.fileOffset + ref.length));
          }
        }
        expect(await resolveLazy(lazy)).toEqual(eager);
      });
    });
  });

  describe('v1_merged_vsm_snp with an isolation filter (igvm-format.md §6.3, §5.1 step 7)', () => {
    it.each([
      { platform: 'SEV_SNP', initializations: [2], directives: [3, 2] },
      { platform: 'VSM_ISOLATION', initializations: [], directives: [3, 1] },
      { platform: 'TDX', initializations: [2], directives: [3, 2, 1] }, // absent: nothing is dropped
    ] as const)('filter $platform keeps both platforms and the headers whose mask meets it', (c) => {
      const bytes = loadVector('v1_merged_vsm_snp');
      const parsed = parseIgvm(bytes, { platform: c.platform });
      expect(parsed.platforms.map((p) => p.platformType)).toEqual(['VSM_ISOLATION', 'SEV_SNP']);
      expect(parsed.initializations.map((h) => 'compatibilityMask' in h && h.compatibilityMask)).toEqual(c.initializations);
      expect(parsed.directives.map((h) => 'compatibilityMask' in h && h.compatibilityMask)).toEqual(c.directives);
      expect(parsed.locations.directives).toHaveLength(c.directives.length);
    });
  });

  describe('v1_zero_page_only (written by the reference, refused by its parser)', () => {
    it('is rejected by the strict parser with InvalidFixedHeader', async () => {
      const bytes = loadVector('v1_zero_page_only');
      const e = formatErrorOf(() => parseIgvm(bytes));
      expect(e.code).toBe('InvalidFixedHeader');
      await expect(parseIgvmLazy(blobSource(toBlob(bytes)))).rejects.toMatchObject({ code: 'InvalidFixedHeader' });
    });

    it('is accepted by the lenient parser with a warning, and re-serializes byte for byte', async () => {
      const bytes = loadVector('v1_zero_page_only');
      const parsed = parseIgvm(bytes, { lenient: true });
      expect(parsed.warnings.length).toBeGreaterThan(0);
      expect(parsed.warnings.map((w) => w.message).join('\n')).toMatch(/empty/);
      expect(parsed.platforms).toHaveLength(1);
      expect(parsed.directives).toHaveLength(1);
      const page = parsed.directives[0]!;
      expect(page).toMatchObject({ type: 'PAGE_DATA', gpa: 0x1000n, compatibilityMask: 1, dataType: 'NORMAL' });
      expect(page.type === 'PAGE_DATA' && page.data.length).toBe(0);
      expect(Buffer.from(serializeIgvm(parsed)).equals(Buffer.from(bytes))).toBe(true);

      const lazy = await parseIgvmLazy(blobSource(toBlob(bytes)), { lenient: true });
      expect(lazy.warnings.length).toBeGreaterThan(0);
      expect(await resolveLazy(lazy)).toEqual(parsed);
    });
  });
});
