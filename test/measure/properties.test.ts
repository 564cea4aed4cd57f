// Properties: the digest changes when any measured byte, GPA, page type or the order of measured
// headers changes, and does not change for content the platform does not measure.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IgvmBuilder, type PageDataTypeName } from '../../src/format/index.js';
import type { MeasurablePlatform } from '../../src/measure/index.js';
import { measureBytes, pageOf } from './fixtures.js';

interface Page {
  page: number;
  seed: number;
  kind: 'data' | 'empty' | 'unmeasured' | 'shared';
}

const pages = fc.uniqueArray(
  fc.record({
    page: fc.integer({ min: 0, max: 0xfff }),
    seed: fc.integer({ min: 1, max: 1 << 20 }),
    kind: fc.constantFrom<Page['kind']>('data', 'data', 'empty', 'unmeasured', 'shared'),
  }),
  { selector: (p) => p.page, minLength: 2, maxLength: 8 },
);

function build(platform: MeasurablePlatform, list: Page[], edit: { byte?: [number, number]; dataType?: [number, PageDataTypeName] } = {}): Uint8Array {
  const b = new IgvmBuilder();
  const mask = b.addPlatform(platform);
  const other = b.addPlatform('NATIVE');
  if (platform === 'SEV_SNP') b.addGuestPolicy(0x30000n, mask);
  list.forEach((p, i) => {
    const data = pageOf(p.seed);
    if (edit.byte && edit.byte[0] === i) data[edit.byte[1]] = data[edit.byte[1]]! ^ 0x5a;
    const dataType = edit.dataType?.[0] === i ? edit.dataType[1] : 'NORMAL';
    const gpa = BigInt(p.page) * 4096n;
    if (p.kind === 'empty') b.addZeroPages(gpa, 4096n, { mask, dataType });
    else b.addPageData(gpa, data, { mask, dataType, unmeasured: p.kind === 'unmeasured', shared: p.kind === 'shared' });
  });
  // Content of another platform, changed together with any edited byte: never measured here.
  b.addPageData(0x1000000n, pageOf(list.length + (edit.byte ? 1 : 0)), { mask: other });
  return b.serialize();
}

const digest = async (platform: MeasurablePlatform, bytes: Uint8Array): Promise<string> => (await measureBytes(bytes, platform)).hex;
const RUNS = { numRuns: 25 };

describe.each<MeasurablePlatform>(['SEV_SNP', 'TDX', 'VSM_ISOLATION', 'SEV_ES'])('%s', (platform) => {
  it('a changed byte changes the digest exactly when the page is measured by content', async () => {
    await fc.assert(
      fc.asyncProperty(pages, fc.nat(), fc.integer({ min: 0, max: 4095 }), async (list, pick, at) => {
        const i = pick % list.length;
        const before = await digest(platform, build(platform, list));
        const after = await digest(platform, build(platform, list, { byte: [i, at] }));
        const measured = list[i]!.kind === 'data';
        expect(after !== before).toBe(measured);
      }),
      RUNS,
    );
  });

  it('a changed GPA changes the digest of a page that is measured', async () => {
    await fc.assert(
      fc.asyncProperty(pages, fc.nat(), async (list, pick) => {
        const i = pick % list.length;
        const free = Math.max(...list.map((p) => p.page)) + 1;
        const moved = list.map((p, j) => (j === i ? { ...p, page: free } : p));
        const changes = (await digest(platform, build(platform, list))) !== (await digest(platform, build(platform, moved)));
        // SEV and SEV-ES hash contents only; every other platform records the GPA of each non-shared page.
        const expectChange = platform === 'SEV_ES' ? false : list[i]!.kind !== 'shared';
        expect(changes).toBe(expectChange);
      }),
      RUNS,
    );
  });

  it('swapping two measured pages changes the digest', async () => {
    await fc.assert(
      fc.asyncProperty(pages, async (list) => {
        const measured = list.map((p, i) => [p, i] as const).filter(([p]) => p.kind === 'data');
        fc.pre(measured.length >= 2 && list[measured[0]![1]]!.seed !== list[measured[1]![1]]!.seed);
        const [a, b] = [measured[0]![1], measured[1]![1]];
        const swapped = [...list];
        [swapped[a], swapped[b]] = [swapped[b]!, swapped[a]!];
        expect(await digest(platform, build(platform, swapped))).not.toBe(await digest(platform, build(platform, list)));
      }),
      RUNS,
    );
  });
});

describe('SEV-SNP page types', () => {
  it('a changed page type changes the digest (NORMAL, SECRETS, CPUID)', async () => {
    await fc.assert(
      fc.asyncProperty(pages, fc.nat(), fc.constantFrom<PageDataTypeName>('SECRETS', 'CPUID_DATA', 'CPUID_XF'), async (list, pick, type) => {
        const i = pick % list.length;
        fc.pre(list[i]!.kind !== 'shared');
        const before = await digest('SEV_SNP', build('SEV_SNP', list));
        const after = await digest('SEV_SNP', build('SEV_SNP', list, { dataType: [i, type] }));
        expect(after).not.toBe(before);
      }),
      RUNS,
    );
  });
});

describe('mutated files', () => {
  it('measuring a damaged file either works or fails with a typed error, for every platform and profile', async () => {
    const { parseIgvmLazy, IgvmFormatError } = await import('../../src/format/index.js');
    const { measureIgvm, memorySource, MeasureError, PROFILE_NAMES, profileByName } = await import('../../src/measure/index.js');
    const { nodeHashProvider } = await import('../../src/node/node-hash.js');
    const { fixChecksum } = await import('../helpers/mutate.js');
    const { fixtures } = await import('./fixtures.js');
    const bases = fixtures().map((f) => f.bytes);
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.boolean(), async (pick, edits, fix) => {
        const bytes = bases[pick % bases.length]!.slice();
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        if (fix) fixChecksum(bytes);
        const source = memorySource(bytes);
        let igvm;
        try {
          igvm = await parseIgvmLazy(source);
        } catch (e) {
          expect(e).toBeInstanceOf(IgvmFormatError);
          return;
        }
        for (const name of PROFILE_NAMES) {
          const profile = profileByName(name)!;
          for (const platform of profile.platforms) {
            try {
              await measureIgvm(igvm, source, platform, nodeHashProvider, { profile });
            } catch (e) {
              expect(e).toBeInstanceOf(MeasureError);
            }
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
