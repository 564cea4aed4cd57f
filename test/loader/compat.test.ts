/**
 * checkLoaderCompat: one file per rule, built with IgvmBuilder or as a model, and the warning it
 * must give (loader, effect, header index). Whether QEMU 10.2.2 really refuses or misreads these
 * files is checked against QEMU itself in test/qemu/native.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { longMode64Context } from '../../src/arch/x86/index.js';
import { IgvmBuilder, parseIgvm, type DirectiveHeader, type IgvmFile } from '../../src/format/index.js';
import { checkLoaderCompat, failsOn, formatCompatWarning, isLoaderName, type CompatWarning } from '../../src/loader/index.js';

const CONTEXT = longMode64Context({ entry: 0x10_0000n, cr3: 0x1000n, gdtrBase: 0x7000n, gdtrLimit: 31 });

/** A native file with code, the two-area parameter layout and a context, plus `extra`. */
function file(extra: (b: IgvmBuilder) => void = () => undefined, context = CONTEXT): IgvmFile {
  const b = new IgvmBuilder({ formatVersion: 2, architecture: 'X64', pageSize: 4096 });
  b.addPlatform('NATIVE');
  b.addPageData(0x10_0000n, Uint8Array.of(0xf4));
  const map = b.addParameterArea(4096n);
  b.addParameter('MEMORY_MAP', map, 0);
  b.addParameterInsert(map, 0xc000n);
  extra(b);
  b.setNativeContext(context);
  return b.build();
}

const summary = (ws: readonly CompatWarning[]) => ws.map((w) => `${w.loader} ${w.effect} #${w.headerIndex ?? '-'} ${w.headerType ?? ''}`.trim());

describe('checkLoaderCompat', () => {
  it('finds nothing in the layout the builders use, and names its loaders', () => {
    expect(checkLoaderCompat(file())).toEqual([]);
    expect(['qemu-10.2', 'igvm-ts', 'spec'].every(isLoaderName)).toBe(true);
    expect(isLoaderName('qemu')).toBe(false);
  });

  it('MEMORY_MAP at a byte offset, and a parameter sharing the map area: QEMU misreads both', () => {
    const f = file((b) => {
      const a = b.addParameterArea(4096n);
      b.addParameter('VP_COUNT_PARAMETER', a, 0);
      b.addParameter('MEMORY_MAP', a, 64);
      b.addParameterInsert(a, 0xd000n);
    });
    const ws = checkLoaderCompat(f);
    expect(summary(ws)).toEqual(['qemu-10.2 mishandles #7 MEMORY_MAP', 'qemu-10.2 mishandles #7 MEMORY_MAP']);
    expect(ws[0]!.message).toMatch(/ignores byte_offset 0x40/);
    expect(ws[1]!.message).toMatch(/overlaps a parameter at byte_offset 0x0/);
    expect(formatCompatWarning(ws[0]!)).toMatch(/^header #7 \(MEMORY_MAP\): qemu-10\.2 mishandles it: /);
    expect(checkLoaderCompat(f, ['igvm-ts', 'spec'])).toEqual([]);
    expect(failsOn(ws, ['qemu-10.2'])).toBe(true);
    expect(failsOn(ws, ['igvm-ts'])).toBe(false);
  });

  it('a VP count far enough from the memory map in the same area is fine (OVMF puts it at 192)', () => {
    const f = file((b) => {
      const a = b.addParameterArea(4096n);
      b.addParameter('MEMORY_MAP', a, 0);
      b.addParameter('VP_COUNT_PARAMETER', a, 192);
      b.addParameterInsert(a, 0xd000n);
    });
    expect(checkLoaderCompat(f)).toEqual([]);
  });

  it('MADT and COMMAND_LINE: QEMU 10.2 has no handler; SRAT: neither loader fills it', () => {
    const f = file((b) => {
      const a = b.addParameterArea(4096n);
      b.addParameter('MADT', a, 0);
      b.addParameter('COMMAND_LINE', a, 0x800);
      b.addParameter('SRAT', a, 0x400);
      b.addParameterInsert(a, 0xd000n);
    });
    const ws = checkLoaderCompat(f);
    expect(summary(ws)).toEqual(['qemu-10.2 refuses #6 MADT', 'qemu-10.2 refuses #7 COMMAND_LINE', 'qemu-10.2 refuses #8 SRAT', 'igvm-ts refuses #8 SRAT']);
    expect(ws[0]!.message).toMatch(/MADT support came with QEMU 11\.0/);
  });

  it('VP contexts: vp_index 1 (both loaders), gs_base (QEMU), CR4 above 32 bits (QEMU), LME+PG without PAE (QEMU)', () => {
    const f = file((b) => b.setNativeContext(CONTEXT, 1), { ...CONTEXT, gsBase: 0x5000n, cr4: CONTEXT.cr4 | (1n << 32n) });
    expect(summary(checkLoaderCompat(f))).toEqual([
      'qemu-10.2 refuses #5 VP_CONTEXT',
      'igvm-ts refuses #5 VP_CONTEXT',
      'qemu-10.2 mishandles #6 VP_CONTEXT',
      'qemu-10.2 mishandles #6 VP_CONTEXT',
    ]);
    const noPae = file(() => undefined, { ...CONTEXT, cr4: 0n });
    expect(checkLoaderCompat(noPae, ['qemu-10.2'])[0]!.message).toMatch(/without CR4\.PAE: QEMU leaves CR0 at its reset value/);
  });

  it('a native context at a non-zero gpa: igvm-ts and the spec refuse it, QEMU ignores the gpa', () => {
    const f = file();
    const directives = f.directives.map((d): DirectiveHeader => (d.type === 'VP_CONTEXT' ? { ...d, gpa: 0x1000n } : d));
    expect(summary(checkLoaderCompat({ ...f, directives }))).toEqual(['igvm-ts refuses #5 VP_CONTEXT', 'spec refuses #5 VP_CONTEXT']);
  });

  it('initial area contents (file_offset): QEMU starts the area zeroed', () => {
    const f = file((b) => {
      const a = b.addParameterArea(4096n, { initialData: Uint8Array.of(1, 2, 3) });
      b.addParameterInsert(a, 0xd000n);
    });
    expect(summary(checkLoaderCompat(f))).toEqual(['qemu-10.2 mishandles #5 PARAMETER_AREA']);
  });

  it('parameters naming an undeclared or an inserted area, and a value that ends past its area', () => {
    const base = file((b) => {
      const a = b.addParameterArea(4096n);
      b.addParameter('VP_COUNT_PARAMETER', a, 4094);
      b.addParameterInsert(a, 0xd000n);
    });
    // Headers the builder refuses to make: use of an inserted area, of an undeclared one.
    const extra: DirectiveHeader[] = [
      { type: 'VP_COUNT_PARAMETER', parameterAreaIndex: 1, byteOffset: 0 },
      { type: 'ENVIRONMENT_INFO_PARAMETER', parameterAreaIndex: 9, byteOffset: 0 },
      { type: 'PARAMETER_INSERT', parameterAreaIndex: 9, gpa: 0xe000n, compatibilityMask: 1 },
    ];
    const ws = checkLoaderCompat({ ...base, directives: [...base.directives, ...extra] });
    expect(summary(ws)).toEqual([
      'qemu-10.2 mishandles #6 VP_COUNT_PARAMETER',
      'igvm-ts refuses #6 VP_COUNT_PARAMETER',
      'spec refuses #6 VP_COUNT_PARAMETER',
      'qemu-10.2 refuses #9 VP_COUNT_PARAMETER',
      'igvm-ts refuses #9 VP_COUNT_PARAMETER',
      'spec refuses #9 VP_COUNT_PARAMETER',
      'qemu-10.2 mishandles #10 ENVIRONMENT_INFO_PARAMETER',
      'igvm-ts refuses #10 ENVIRONMENT_INFO_PARAMETER',
      'spec refuses #10 ENVIRONMENT_INFO_PARAMETER',
      'qemu-10.2 mishandles #11 PARAMETER_INSERT',
      'igvm-ts refuses #11 PARAMETER_INSERT',
      'spec refuses #11 PARAMETER_INSERT',
    ]);
    expect(ws[3]!.message).toMatch(/already inserted; QEMU then dereferences the freed area/);
    expect(ws[6]!.message).toMatch(/No parameter area/);
  });

  it('memory outside RAM: the APIC ranges (both), the rest of QEMU\'s 1 MiB LAPIC region, igvm-ts\'s KVM TSS pages', () => {
    const f = file((b) => {
      b.addPageData(0xfec0_0000n, Uint8Array.of(1));
      b.addPageData(0xfee4_0000n, Uint8Array.of(1));
      b.addRequiredMemory(0xfeff_c000n, 0x4000);
    });
    expect(summary(checkLoaderCompat(f))).toEqual(['qemu-10.2 refuses #5 PAGE_DATA', 'igvm-ts refuses #5 PAGE_DATA', 'qemu-10.2 refuses #6 PAGE_DATA', 'igvm-ts refuses #7 REQUIRED_MEMORY']);
  });

  it('an insert over the page run just before it: QEMU writes the pages last', () => {
    const f = file((b) => {
      b.addPageData(0xd000n, Uint8Array.of(7));
      const a = b.addParameterArea(4096n);
      b.addParameter('VP_COUNT_PARAMETER', a, 0);
      b.addParameterInsert(a, 0xd000n);
    });
    const ws = checkLoaderCompat(f);
    expect(summary(ws)).toEqual(['qemu-10.2 mishandles #8 PARAMETER_INSERT']);
    expect(ws[0]!.message).toMatch(/writes that page run after the insert/);
  });

  it('header types QEMU has no handler for stop it whatever their mask; a file without NATIVE fails on both loaders', () => {
    const b = new IgvmBuilder({ formatVersion: 1 });
    b.addPlatform('NATIVE');
    const snp = b.addPlatform('SEV_SNP');
    b.addPageData(0x10_0000n, Uint8Array.of(1));
    b.addDirective({ type: 'ERROR_RANGE', gpa: 0x30_0000n, compatibilityMask: snp, sizeBytes: 4096 });
    const parsed = parseIgvm(b.serialize());
    expect(summary(checkLoaderCompat(parsed))).toEqual(['qemu-10.2 refuses #3 ERROR_RANGE']);
    const relocation = { type: 'PAGE_TABLE_RELOCATION_REGION', compatibilityMask: snp, vpIndex: 0, vtl: 0, gpa: 0x20_0000n, size: 0x1000n, usedSize: 0x1000n } as const;
    expect(summary(checkLoaderCompat({ ...b.build(), initializations: [relocation] }))).toEqual([
      'qemu-10.2 refuses #2 PAGE_TABLE_RELOCATION_REGION',
      'qemu-10.2 refuses #4 ERROR_RANGE',
    ]);

    const onlySnp = { ...parsed, platforms: parsed.platforms.filter((p) => p.platformType === 'SEV_SNP') };
    const ws = checkLoaderCompat(onlySnp, ['igvm-ts', 'spec']);
    expect(summary(ws)).toEqual(['igvm-ts refuses #-']);
    expect(formatCompatWarning(ws[0]!)).toBe('file: igvm-ts refuses it: no NATIVE platform (the file has: SEV_SNP)');
  });
});
