import { describe, expect, it } from 'vitest';
import { longMode64Context, realModeResetContext } from '../../src/arch/x86/index.js';
import {
  IgvmBuilder,
  parseIgvm,
  type DirectiveHeader,
  type IgvmFile,
  type NativeVpContextX64Fields,
} from '../../src/format/index.js';
import { buildMadt, LoadError, loadIgvm, SparseMachine } from '../../src/loader/index.js';
import { loadVector, skipVectorTests } from '../helpers/vectors.js';

const MiB = 1024n * 1024n;
const GiB = 1024n * MiB;

function nativeBuilder(): IgvmBuilder {
  const b = new IgvmBuilder();
  b.addPlatform('NATIVE');
  b.addPageData(0x10_0000n, Uint8Array.of(0xf4));
  return b;
}

function u32(m: SparseMachine, gpa: bigint): number {
  return new DataView(m.read(gpa, 4).buffer).getUint32(0, true);
}

function memoryMapAt(m: SparseMachine, gpa: bigint, max: number): { start: bigint; pages: bigint; type: number }[] {
  const bytes = m.read(gpa, max * 24);
  const dv = new DataView(bytes.buffer);
  const out = [];
  for (let i = 0; i < max; i++) {
    const pages = dv.getBigUint64(i * 24 + 8, true);
    if (pages === 0n) break;
    out.push({ start: dv.getBigUint64(i * 24, true) << 12n, pages, type: dv.getUint16(i * 24 + 16, true) });
  }
  return out;
}

function expectLoadError(run: () => unknown, code: string, message?: RegExp): void {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(LoadError);
    expect((e as LoadError).code).toBe(code);
    if (message) expect((e as LoadError).message).toMatch(message);
    return;
  }
  throw new Error(`expected LoadError ${code}`);
}

describe('memory map parameter', () => {
  const cases: [string, bigint, { start: bigint; size: bigint; type: number }[]][] = [
    ['128M', 128n * MiB, [{ start: 0n, size: 128n * MiB, type: 0 }, { start: 0xfeffc000n, size: 0x4000n, type: 1 }]],
    ['256M', 256n * MiB, [{ start: 0n, size: 256n * MiB, type: 0 }, { start: 0xfeffc000n, size: 0x4000n, type: 1 }]],
    [
      '3G',
      3n * GiB,
      [
        { start: 0n, size: 2n * GiB, type: 0 },
        { start: 0xfeffc000n, size: 0x4000n, type: 1 },
        { start: 4n * GiB, size: 1n * GiB, type: 0 },
      ],
    ],
    [
      '5G',
      5n * GiB,
      [
        { start: 0n, size: 2n * GiB, type: 0 },
        { start: 0xfeffc000n, size: 0x4000n, type: 1 },
        { start: 4n * GiB, size: 3n * GiB, type: 0 },
      ],
    ],
  ];
  it.each(cases)('matches the machine layout for -m %s, sorted, with a terminator', (_name, ram, expected) => {
    const b = nativeBuilder();
    const area = b.addParameterArea(4096n);
    b.addParameter('MEMORY_MAP', area, 0);
    b.addParameterInsert(area, 0x5000n);
    const m = new SparseMachine(ram);
    const { report } = loadIgvm(b.build(), m);
    expect(memoryMapAt(m, 0x5000n, 170)).toEqual(expected.map((e) => ({ start: e.start, pages: e.size >> 12n, type: e.type })));
    // The entry after the last is a zero terminator.
    expect(m.read(0x5000n + BigInt(expected.length) * 24n, 24).every((x) => x === 0)).toBe(true);
    const param = report.parameterAreas[0]!.parameters[0]!;
    expect(param.type).toBe('MEMORY_MAP');
    if (param.type === 'MEMORY_MAP') expect(param.entries).toHaveLength(expected.length);
  });

  it('honours byte_offset (QEMU writes at offset 0)', () => {
    const b = nativeBuilder();
    const area = b.addParameterArea(4096n);
    b.addParameter('VP_COUNT_PARAMETER', area, 0);
    b.addParameter('MEMORY_MAP', area, 64);
    b.addParameterInsert(area, 0x5000n);
    const m = new SparseMachine(256n * MiB, 3);
    loadIgvm(b.build(), m);
    expect(u32(m, 0x5000n)).toBe(3);
    expect(memoryMapAt(m, 0x5040n, 10)).toHaveLength(2);
  });

  it('fails clearly when the area is too small (no off-by-one)', () => {
    const b = nativeBuilder();
    const area = b.addParameterArea(4096n);
    // 4096 - 4048 = 48 bytes: room for exactly 2 entries.
    b.addParameter('MEMORY_MAP', area, 4048);
    b.addParameterInsert(area, 0x5000n);
    // 256M: two entries fit exactly (no room for a terminator, which is then omitted).
    const m = new SparseMachine(256n * MiB);
    loadIgvm(b.build(), m);
    expect(memoryMapAt(m, 0x5000n + 4048n, 2)).toHaveLength(2);
    // 5G: three entries do not.
    expectLoadError(
      () => loadIgvm(b.build(), new SparseMachine(5n * GiB)),
      'MemoryMapTooSmall',
      /memory map has 3 entries, parameter area 0 holds 2/,
    );
  });
});

describe('parameters', () => {
  it.each([1, 2, 4])('VP count is the vCPU count (--smp %i)', (n) => {
    const b = nativeBuilder();
    const area = b.addParameterArea(4096n);
    b.addParameter('VP_COUNT_PARAMETER', area, 8);
    b.addParameterInsert(area, 0x6000n);
    const m = new SparseMachine(128n * MiB, n);
    loadIgvm(b.build(), m);
    expect(u32(m, 0x6008n)).toBe(n);
  });

  it('environment info sets memory_is_shared, as QEMU', () => {
    const b = nativeBuilder();
    const area = b.addParameterArea(4096n);
    b.addParameter('ENVIRONMENT_INFO_PARAMETER', area, 16);
    b.addParameterInsert(area, 0x6000n);
    const m = new SparseMachine(128n * MiB);
    loadIgvm(b.build(), m);
    expect(u32(m, 0x6010n)).toBe(1);
  });

  it('command line is written NUL-terminated at byte_offset, and must fit', () => {
    const b = nativeBuilder();
    const area = b.addParameterArea(4096n);
    b.addParameter('COMMAND_LINE', area, 100);
    b.addParameterInsert(area, 0x6000n);
    const m = new SparseMachine(128n * MiB);
    const { report } = loadIgvm(b.build(), m, { cmdline: 'console=ttyS0 quiet' });
    expect(new TextDecoder().decode(m.read(0x6064n, 19))).toBe('console=ttyS0 quiet');
    expect(m.read(0x6064n + 19n, 1)[0]).toBe(0);
    expect(report.parameterAreas[0]!.parameters[0]).toEqual({ type: 'COMMAND_LINE', byteOffset: 100, commandLine: 'console=ttyS0 quiet' });
    expectLoadError(() => loadIgvm(b.build(), new SparseMachine(128n * MiB), { cmdline: 'x'.repeat(4000) }), 'CommandLineTooLong');
  });

  it('MADT lists one local APIC per vCPU and has a valid checksum', () => {
    const b = nativeBuilder();
    const area = b.addParameterArea(4096n);
    b.addParameter('MADT', area, 0);
    b.addParameterInsert(area, 0x7000n);
    const m = new SparseMachine(128n * MiB, 4);
    loadIgvm(b.build(), m);
    const madt = buildMadt(4);
    expect(m.read(0x7000n, madt.length)).toEqual(madt);
    expect(new TextDecoder().decode(madt.subarray(0, 4))).toBe('APIC');
    expect(madt.reduce((s, x) => (s + x) & 0xff, 0)).toBe(0);
    const lapics = [];
    for (let at = 44; at < madt.length; at += madt[at + 1]!) if (madt[at] === 0) lapics.push(madt[at + 3]);
    expect(lapics).toEqual([0, 1, 2, 3]);
  });

  it('a parameter area starts from its file contents (QEMU ignores them)', () => {
    const b = nativeBuilder();
    const area = b.addParameterArea(4096n, { initialData: new TextEncoder().encode('preset') });
    b.addParameter('VP_COUNT_PARAMETER', area, 8);
    b.addParameterInsert(area, 0x6000n);
    const bytes = b.serialize();
    const m = new SparseMachine(128n * MiB);
    loadIgvm(parseIgvm(bytes), m);
    expect(new TextDecoder().decode(m.read(0x6000n, 6))).toBe('preset');
    expect(u32(m, 0x6008n)).toBe(1);
  });

  it('parameter insert copies the area to its GPA and retires the index', () => {
    const b = nativeBuilder();
    const area = b.addParameterArea(8192n);
    b.addParameter('VP_COUNT_PARAMETER', area, 4100);
    b.addParameterInsert(area, 0x20_0000n);
    const file = b.build();
    const m = new SparseMachine(128n * MiB, 2);
    const { report } = loadIgvm(file, m);
    expect(u32(m, 0x20_0000n + 4100n)).toBe(2);
    expect(report.parameterAreas[0]!.insertedAt).toBe('0x200000');
    expect(report.writes.find((w) => w.kind === 'parameter-area')).toMatchObject({ gpa: '0x200000', size: '0x2000' });
    // A use after the insert (the validator refuses it; the loader must not crash either).
    const broken: IgvmFile = {
      ...file,
      directives: [...file.directives, { type: 'VP_COUNT_PARAMETER', parameterAreaIndex: area, byteOffset: 0 }],
    };
    expectLoadError(() => loadIgvm(broken, new SparseMachine(128n * MiB)), 'ParameterAreaInserted', /already inserted at 0x200000/);
  });

  it('a parameter past the end of its area is an error, not a stray write', () => {
    const file: IgvmFile = {
      revision: { formatVersion: 1 },
      platforms: [{ type: 'SUPPORTED_PLATFORM', compatibilityMask: 1, highestVtl: 0, platformType: 'NATIVE', platformVersion: 1, sharedGpaBoundary: 0n }],
      initializations: [],
      directives: [
        { type: 'PARAMETER_AREA', numberOfBytes: 4096n, parameterAreaIndex: 0, initialData: new Uint8Array(0) },
        { type: 'VP_COUNT_PARAMETER', parameterAreaIndex: 0, byteOffset: 4094 },
      ],
    };
    expectLoadError(() => loadIgvm(file, new SparseMachine(128n * MiB)), 'ParameterOutOfBounds', /header #2 \(VP_COUNT_PARAMETER\)/);
    const undeclared = { ...file, directives: [file.directives[1]!] };
    expectLoadError(() => loadIgvm(undeclared, new SparseMachine(128n * MiB)), 'UnknownParameterArea');
  });

  it.each(['SRAT', 'SLIT', 'PPTT', 'MMIO_RANGES', 'DEVICE_TREE'] as const)('%s is refused, as QEMU does', (type) => {
    const b = nativeBuilder();
    const area = b.addParameterArea(4096n);
    b.addParameter(type, area, 0);
    expectLoadError(() => loadIgvm(b.build(), new SparseMachine(128n * MiB)), 'UnsupportedParameter', new RegExp(type));
  });
});

describe('page data', () => {
  it('coalesces runs, zero-pads short data, creates RAM outside the layout', () => {
    const b = new IgvmBuilder();
    b.addPlatform('NATIVE');
    b.addPageData(0x1000n, new Uint8Array(3 * 4096 - 10).fill(0xab));
    b.addZeroPages(0x4000n, 0x2000n);
    b.addPageData(0xffff_f000n, Uint8Array.of(0xea)); // above 2 GiB with -m 128M: no RAM there
    const m = new SparseMachine(128n * MiB);
    const { report } = loadIgvm(parseIgvm(b.serialize()), m);
    expect(report.writes.map((w) => [w.kind, w.gpa, w.pages])).toEqual([
      ['page-data', '0x1000', 3],
      ['zero-pages', '0x4000', 2],
      ['page-data', '0xfffff000', 1],
    ]);
    expect(m.read(0x1000n + 3n * 4096n - 11n, 11)).toEqual(Uint8Array.of(0xab, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    expect(report.createdRam).toEqual([{ name: 'igvm.6', gpa: '0xfffff000', size: '0x1000', reason: 'page data of headers #6..#6' }]);
    expect(m.read(0xffff_f000n, 1)[0]).toBe(0xea);
  });

  it('2 MiB pages are loaded as 2 MiB, the data zero-padded', () => {
    const file = nativeBuilder().build();
    const big: DirectiveHeader = {
      type: 'PAGE_DATA',
      gpa: 0x40_0000n,
      compatibilityMask: 1,
      flags: { is2mbPage: true, unmeasured: false, shared: false, reserved: 0 },
      dataType: 'NORMAL',
      data: new Uint8Array(4096).fill(7),
    };
    const m = new SparseMachine(128n * MiB);
    m.write(0x40_0000n + 0x1f_ff00n, new Uint8Array(16).fill(0xff)); // stale contents get cleared
    const { report } = loadIgvm({ ...file, directives: [...file.directives, big] }, m);
    expect(report.writes.at(-1)).toMatchObject({ gpa: '0x400000', size: '0x200000', pageSize: 0x200000 });
    expect(m.read(0x40_0000n, 4097).at(-1)).toBe(0);
    expect(m.read(0x40_0fffn, 1)[0]).toBe(7);
    expect(m.read(0x40_0000n + 0x1f_ff00n, 16).every((x) => x === 0)).toBe(true);
  });

  it('refuses pages over a device and pages that RAM covers only in part', () => {
    const dev = new IgvmBuilder();
    dev.addPlatform('NATIVE');
    dev.addPageData(0xfec0_0000n, Uint8Array.of(1));
    expectLoadError(() => loadIgvm(dev.build(), new SparseMachine(128n * MiB)), 'NonRamRegion', /ioapic/);
    const part = new IgvmBuilder();
    part.addPlatform('NATIVE');
    part.addPageData(128n * MiB - 4096n, new Uint8Array(8192).fill(1));
    expectLoadError(() => loadIgvm(part.build(), new SparseMachine(128n * MiB)), 'RegionSizeExceeded');
  });

  it('skips headers for other platforms', () => {
    const b = new IgvmBuilder();
    const native = b.addPlatform('NATIVE');
    const snp = b.addPlatform('SEV_SNP');
    b.addPageData(0x1000n, Uint8Array.of(1), { mask: native });
    b.addPageData(0x2000n, Uint8Array.of(2), { mask: snp });
    b.addGuestPolicy(0x30000n, snp);
    const m = new SparseMachine(128n * MiB);
    const { report } = loadIgvm(b.build(), m);
    expect(report.writes.map((w) => w.gpa)).toEqual(['0x1000']);
    expect(m.read(0x2000n, 1)[0]).toBe(0);
    expect(report.skipped).toEqual([]);
  });

  it('required memory creates RAM where there is none', () => {
    const b = nativeBuilder();
    b.addRequiredMemory(0x80_0000_0000n, 16 * 1024 * 1024);
    const { report } = loadIgvm(b.build(), new SparseMachine(128n * MiB));
    expect(report.createdRam).toMatchObject([{ gpa: '0x8000000000', size: '0x1000000', reason: 'required memory' }]);
  });
});

describe('VP context', () => {
  const long = () => longMode64Context({ entry: 0x10_0000n, cr3: 0x1000n, gdtrBase: 0x4000n, gdtrLimit: 23, stack: 0x8000n });

  it('becomes the boot CPU state, in QEMU order, with gs_base applied to GS', () => {
    const b = nativeBuilder();
    b.setNativeContext({ ...long(), gsBase: 0xffff_8000_0000_1000n, rbx: 0x1234n });
    const m = new SparseMachine(128n * MiB);
    const { bootCpu, report } = loadIgvm(b.build(), m);
    expect(m.bootCpu).toBe(bootCpu);
    expect(bootCpu.source).toBe('igvm-native-context');
    expect(bootCpu.rip).toBe(0x10_0000n);
    expect(bootCpu.gprs.rbx).toBe(0x1234n);
    expect(bootCpu.efer & 0x500n).toBe(0x500n); // LME|LMA
    expect(bootCpu.segments.cs).toMatchObject({ selector: 8, long: true, present: true, type: 11 });
    expect(bootCpu.segments.gs.base).toBe(0xffff_8000_0000_1000n);
    expect(bootCpu.segments.ds.base).toBe(0n);
    // TR and LDTR keep their reset values.
    expect(bootCpu.segments.tr).toMatchObject({ type: 11, present: true, limit: 0xffff });
    expect(report.bootCpu?.registers['rip']).toBe('0x100000');
  });

  it('without a context, the boot CPU starts at the reset vector', () => {
    const { bootCpu } = loadIgvm(nativeBuilder().build(), new SparseMachine(128n * MiB));
    expect(bootCpu.source).toBe('reset');
    expect(bootCpu.rip).toBe(0xfff0n);
    expect(bootCpu.segments.cs.base).toBe(0xffff_0000n);
  });

  const withContext = (patch: (h: Extract<DirectiveHeader, { type: 'VP_CONTEXT' }>) => void): IgvmFile => {
    const file = nativeBuilder().setNativeContext(long()).build();
    const ctx = file.directives.find((d) => d.type === 'VP_CONTEXT')!;
    if (ctx.type === 'VP_CONTEXT') patch(ctx);
    return file;
  };

  it('refuses other VPs, a non-zero GPA and contexts KVM would refuse', () => {
    expectLoadError(
      () => loadIgvm(withContext((h) => (h.vpIndex = 1)), new SparseMachine(128n * MiB)),
      'VpContextNotBsp',
      /native VP context can be set for the boot processor only/,
    );
    expectLoadError(() => loadIgvm(withContext((h) => (h.gpa = 0x10n)), new SparseMachine(128n * MiB)), 'VpContextGpa');
    const bad: NativeVpContextX64Fields = { ...realModeResetContext(), codeAttributes: 0xa09b };
    expectLoadError(
      () => loadIgvm(nativeBuilder().setNativeContext(bad).build(), new SparseMachine(128n * MiB)),
      'InvalidContext',
      /CS attributes 0xa09b set L/,
    );
  });
});

describe.skipIf(skipVectorTests())('reference vectors', () => {
  it('a file without a native platform names the platforms it has', () => {
    expectLoadError(
      () => loadIgvm(parseIgvm(loadVector('v1_snp_basic')), new SparseMachine(128n * MiB)),
      'NoNativePlatform',
      /it has: SEV_SNP/,
    );
  });

  it('v2_x64_native_vpctx: reset-vector page in new RAM, real-mode context', () => {
    const m = new SparseMachine(256n * MiB);
    const { bootCpu, report } = loadIgvm(parseIgvm(loadVector('v2_x64_native_vpctx')), m);
    expect(report.createdRam).toMatchObject([{ gpa: '0xfffff000', size: '0x1000' }]);
    expect(m.read(0xffff_f000n, 16).every((x) => x === 0xf4)).toBe(true);
    expect(bootCpu).toMatchObject({ rip: 0xfff0n, cr0: 0x6000_0010n });
    expect(bootCpu.segments.cs).toMatchObject({ selector: 0xf000, base: 0xffff_0000n });
  });
});
