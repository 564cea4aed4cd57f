/**
 * The project's files under QEMU 10.2.2's own IGVM loader (native mode), against igvm-ts: the demo
 * for -m 128M/256M/3G/5G and -smp 1/2/4; the register-checking test guests and the reset guest; a
 * file per `igvm build` manifest preset (long64, protected32, real16); one file per row of the
 * README's "igvm run and QEMU 10.2.2" table, each also checked against what `igvm check --loader`
 * predicts; the reference vectors and random combinations of headers (QEMU refuses exactly those
 * `igvm check` says it refuses); and Debian's kernel to a busybox init (TCG) from `igvm build
 * linux`, with and without --compressed.
 *
 * Long-mode guests run under accel=kvm where /dev/kvm is usable (and TCG too); 16- and 32-bit ones
 * under TCG only where KVM is kvm_pvm, which emulates them slowly. `igvm run` output is compared
 * where /dev/kvm is usable and dist/ is built; elsewhere the loader's view stands in for it.
 * Needs ../shared/tools/qemu (with libglib2.0-0, libpixman-1-0) and binutils; else skipped.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BOOT_PARAMETERS } from '../../src/build/boot-parameters.js';
import { busyboxInitramfs, markerInit } from '../../src/build/cpio.js';
import { buildDemoIgvm, DEMO_LAYOUT } from '../../src/build/demo-guest.js';
import { buildLinuxIgvm } from '../../src/build/linux/linux-igvm.js';
import { addLongModeEntry } from '../../src/build/long-mode.js';
import { buildFromManifest } from '../../src/build/manifest-build.js';
import { assembleGuest, haveBinutils } from '../../src/build/toolchain.js';
import { IgvmBuilder, parseIgvm, serializeIgvm, type DirectiveHeader } from '../../src/format/index.js';
import { checkLoaderCompat, loadIgvm, SparseMachine, type CompatWarning } from '../../src/loader/index.js';
import { buildTestGuest, LAYOUT, type TestGuestKind } from '../helpers/test-guests.js';
import { bootIgvmRun, bootQemu, cliSkipReason, kvmUsable, loadInQemu, qemuSkipReason, repoRoot, scratchFile, type Accel, type Boot } from './igvm-qemu.js';

const reason = qemuSkipReason() ?? ((await haveBinutils()) ? undefined : 'binutils (as, ld, objcopy) are not installed');
if (reason) console.log(`[qemu 10.2.2] skipping the files under QEMU's IGVM loader: ${reason}`);
const kvm = reason === undefined && kvmUsable();
/** kvm_pvm runs 16- and 32-bit code by emulation, slowly: those guests use TCG only there. */
const hardwareKvm = kvm && (existsSync('/sys/module/kvm_intel') || existsSync('/sys/module/kvm_amd'));
const igvmRun = kvm && cliSkipReason() === undefined;
if (!reason && !kvm) console.log('[qemu 10.2.2] /dev/kvm is not usable: QEMU under TCG only, compared with the loader instead of igvm run');
if (!reason && kvm && !igvmRun) console.log(`[qemu 10.2.2] not comparing with igvm run: ${cliSkipReason()}`);
const longModeAccels: Accel[] = kvm ? ['tcg', 'kvm'] : ['tcg'];
const anyModeAccels: Accel[] = hardwareKvm ? ['tcg', 'kvm'] : ['tcg'];
const cache = join(repoRoot, 'build/cache');
const haveLinux = existsSync(join(cache, 'vmlinuz')) && existsSync(join(cache, 'busybox'));
if (!reason && !haveLinux) console.log(`[qemu 10.2.2] skipping Linux: ${cache}/vmlinuz or busybox missing (run scripts/fetch-debian-kernel.sh)`);

const MiB = 1n << 20n;
const hex = (v: bigint) => `0x${v.toString(16)}`;

/** Wall time of every boot, by what it was, printed at the end (the CI cost of this file). */
const times = new Map<string, { boots: number; ms: number }>();
function timed<B extends Boot>(what: string, boot: B): B {
  const t = times.get(what) ?? { boots: 0, ms: 0 };
  times.set(what, { boots: t.boots + 1, ms: t.ms + boot.ms });
  return boot;
}
afterAll(() => {
  if (times.size === 0) return;
  const total = [...times.values()].reduce((s, t) => s + t.ms, 0);
  const parts = [...times].map(([what, t]) => `${what}: ${t.boots} in ${(t.ms / 1000).toFixed(1)} s`);
  console.log(`[qemu 10.2.2] boot times: ${parts.join('; ')}; total ${(total / 1000).toFixed(1)} s`);
});

// ---- the demo ----

/**
 * Memory-map lines that differ by machine, not by loader: QEMU's e820 has KVM's identity-map and
 * TSS pages only under KVM, and reserves AMD's HyperTransport hole for AMD vCPUs (TCG's default
 * qemu64 is one; under KVM the vCPU has the host's vendor). igvm-ts always runs on KVM, never adds
 * the hole.
 */
const KVM_PAGES_LINE = '    0xfeffc000-0xfeffffff  PLATFORM_RESERVED\n';
const AMD_HT_LINE = '    0xfd00000000-0xffffffffff  PLATFORM_RESERVED\n';

/** The demo's memory-map lines, total RAM and vCPUs for what igvm-ts's loader writes. */
function demoLinesFromLoader(bytes: Uint8Array, memory: bigint, vcpus: number): string {
  const machine = new SparseMachine(memory, vcpus);
  const { report } = loadIgvm(parseIgvm(bytes), machine);
  const map = report.parameterAreas.flatMap((a) => a.parameters).find((p) => p.type === 'MEMORY_MAP');
  if (!map || map.type !== 'MEMORY_MAP') throw new Error('the demo has no memory map');
  let ram = 0n;
  const lines = map.entries.map((e) => {
    const start = BigInt(e.gpa);
    const size = BigInt(e.size);
    if (e.type === 'MEMORY') ram += size;
    return `    ${hex(start)}-${hex(start + size - 1n)}  ${e.type}\n`;
  });
  return `${lines.join('')}  total RAM      ${ram / MiB} MiB\n  vCPUs          ${vcpus}\n`;
}

function demoLines(serial: string): string {
  const m = /memory map \(IGVM MEMORY_MAP parameter\):\n([\s\S]*?vCPUs +\d+\n)/.exec(serial);
  return m ? m[1]! : `(no memory map in the output)\n${serial}`;
}

const DEMO_MATRIX = (['128M', '256M', '3G', '5G'] as const).flatMap((memory) => [1, 2, 4].map((smp) => ({ memory, smp })));
const bytesOf = (m: string) => BigInt(m.slice(0, -1)) * (m.endsWith('G') ? 1n << 30n : MiB);

describe.skipIf(reason !== undefined)('QEMU 10.2.2 IGVM loader: the demo', () => {
  it.each(longModeAccels)('prints the memory map, total RAM and vCPUs igvm-ts gives it, for every -m and -smp (accel=%s)', async (accel) => {
    const bytes = await buildDemoIgvm();
    const file = scratchFile(bytes);
    for (const { memory, smp } of DEMO_MATRIX) {
      const label = `-m ${memory} -smp ${smp} accel=${accel}`;
      const q = timed(`demo (${accel})`, await bootQemu(file, accel, { memory, smp, timeoutMs: 30_000 }));
      expect(q.serial, `${label}: ${q.stderr}`).toContain('demo done: exiting through isa-debug-exit');
      expect(q.status, label).toBe(1);
      const qemuLines = demoLines(q.serial).replace(AMD_HT_LINE, '');
      const loader = demoLinesFromLoader(bytes, bytesOf(memory), smp);
      expect(qemuLines, label).toBe(accel === 'kvm' ? loader : loader.replace(KVM_PAGES_LINE, ''));
    }
  }, 240_000);

  it.skipIf(!igvmRun)('prints the same under igvm run as under QEMU with KVM, line for line', async () => {
    const file = scratchFile(await buildDemoIgvm());
    for (const { memory, smp } of DEMO_MATRIX) {
      const label = `-m ${memory} -smp ${smp}`;
      const ours = timed('demo (igvm run)', await bootIgvmRun(file, { memory, smp, timeoutMs: 30_000 }));
      const q = timed('demo (kvm)', await bootQemu(file, 'kvm', { memory, smp, timeoutMs: 30_000 }));
      expect(ours.status, `${label}: ${ours.stderr}`).toBe(1);
      expect(q.serial.replace(AMD_HT_LINE, ''), label).toBe(ours.serial);
    }
  }, 240_000);
});

// ---- the test guests ----

interface GuestCase {
  readonly kind: TestGuestKind;
  readonly longMode: boolean;
}
const GUESTS: GuestCase[] = [
  { kind: 'long64-2m', longMode: true },
  { kind: 'long64-4k', longMode: true },
  { kind: 'protected32', longMode: false },
  { kind: 'real16', longMode: false },
];
const guestRuns = GUESTS.flatMap((g) => (g.longMode ? longModeAccels : anyModeAccels).map((accel) => ({ ...g, accel })));

describe.skipIf(reason !== undefined)('QEMU 10.2.2 IGVM loader: the test guests', () => {
  it.each(guestRuns)('$kind (accel=$accel): every observed register equals the context, as under igvm run', async ({ kind, accel, longMode }) => {
    // A gs_base equal to the data base: QEMU gives GS that base (the next test shows the difference).
    const { bytes } = await buildTestGuest(kind, {}, longMode ? { gsBase: 0n } : {});
    expect(checkLoaderCompat(parseIgvm(bytes))).toEqual([]);
    const file = scratchFile(bytes);
    const q = timed(`test guests (${accel})`, await bootQemu(file, accel, { memory: '256M', smp: 1, timeoutMs: 60_000 }));
    expect(q.serial, q.stderr).toContain('CHECK OK');
    expect(q.status).toBe(1);
    if (igvmRun && (longMode || hardwareKvm)) {
      const ours = timed('test guests (igvm run)', await bootIgvmRun(file, { memory: '256M', smp: 1, timeoutMs: 60_000 }));
      expect(q.serial).toBe(ours.serial);
    }
  }, 150_000);

  it.each(longModeAccels)('gs_base (accel=%s): QEMU gives GS the data base instead, as igvm check warns; igvm-ts applies it', async (accel) => {
    const { bytes, expected } = await buildTestGuest('long64-2m');
    const warnings = checkLoaderCompat(parseIgvm(bytes));
    expect(warnings.map((w) => `${w.loader} ${w.effect} ${w.headerType}`)).toEqual(['qemu-10.2 mishandles VP_CONTEXT']);
    const q = timed(`test guests (${accel})`, await bootQemu(scratchFile(bytes), accel, { memory: '256M', smp: 1, timeoutMs: 30_000 }));
    expect(q.serial).toContain(`MISMATCH gs.base got 0x0 want ${hex(expected.gsBase)}\n`);
    expect(q.serial.match(/MISMATCH/g)).toHaveLength(1);
  }, 60_000);

  it.each(longModeAccels)('reset through 0xcf9 (accel=%s): QEMU loads the context again and keeps RAM the file does not cover', async (accel) => {
    const { bytes } = await buildTestGuest('reset', {}, { gsBase: 0n });
    const q = timed(`test guests (${accel})`, await bootQemu(scratchFile(bytes), accel, { memory: '256M', smp: 1, timeoutMs: 30_000, reboot: true }));
    expect(q.serial, q.stderr).toContain('second boot: the context was loaded again');
    expect(q.serial.match(/CHECK OK/g)).toHaveLength(2);
    expect(q.status).toBe(1);
  }, 60_000);

  it('reset with the marker in a page of the file: QEMU 10.2.2 keeps the guest\'s change, igvm run writes the page again', async () => {
    // The guest tells its second boot by the marker; a zero page of the file now covers it.
    const { bytes } = await buildTestGuest('reset', {}, { gsBase: 0n });
    const f = parseIgvm(bytes);
    const page: DirectiveHeader = { type: 'PAGE_DATA', gpa: LAYOUT.marker, compatibilityMask: 1, flags: { is2mbPage: false, unmeasured: false, shared: false, reserved: 0 }, dataType: 'NORMAL', data: new Uint8Array(0) };
    const file = scratchFile(serializeIgvm({ ...f, directives: [...f.directives, page] }));
    const accel: Accel = kvm ? 'kvm' : 'tcg';
    const q = timed(`test guests (${accel})`, await bootQemu(file, accel, { memory: '256M', smp: 1, timeoutMs: 30_000, reboot: true }));
    expect(q.serial, q.stderr).toContain('second boot: the context was loaded again');
    if (igvmRun) {
      const twice = /(first boot: resetting[\s\S]*){2}/;
      const ours = timed('test guests (igvm run)', await bootIgvmRun(file, { memory: '256M', smp: 1, timeoutMs: 30_000, until: twice }));
      expect(ours.serial).toMatch(twice);
      expect(ours.serial).not.toContain('second boot');
    }
  }, 90_000);
});

// ---- manifest presets ----

/** Print "OK" on COM1 and leave through isa-debug-exit: 32- and 64-bit code, and 16-bit code. */
const SAY_OK_32 = [0x66, 0xba, 0xf8, 0x03, 0xb0, 0x4f, 0xee, 0xb0, 0x4b, 0xee, 0xb0, 0x0a, 0xee, 0x66, 0xba, 0xf4, 0x00, 0x31, 0xc0, 0xef, 0xf4, 0xeb, 0xfd];
const SAY_OK_16 = [0xba, 0xf8, 0x03, 0xb0, 0x4f, 0xee, 0xb0, 0x4b, 0xee, 0xb0, 0x0a, 0xee, 0xba, 0xf4, 0x00, 0x66, 0x31, 0xc0, 0x66, 0xef, 0xf4, 0xeb, 0xfd];
const hexOf = (bytes: readonly number[]) => bytes.map((b) => b.toString(16).padStart(2, '0')).join('');

async function manifestFile(manifest: unknown, files: Record<string, Uint8Array> = {}): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), 'igvm-qemu-manifest-'));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  writeFileSync(join(dir, 'guest.json'), JSON.stringify(manifest));
  return (await buildFromManifest(join(dir, 'guest.json'))).bytes;
}

const PRESETS = [
  {
    preset: 'long64',
    longMode: true,
    build: async () => {
      const image = await assembleGuest(['demo/demo.S', 'lib/serial.S'], { loadAddress: 0x20_0000n });
      return manifestFile(
        {
          payloads: [{ type: 'elf', file: 'demo.elf' }],
          parameterAreas: [
            { size: '4K', insertAt: '0x9000', parameters: [{ type: 'memory-map' }] },
            { size: '4K', insertAt: '0xa000', parameters: [{ type: 'vp-count' }] },
          ],
          boot: { preset: 'long64', stack: '0x80000', registers: { rsi: '0x9000' } },
        },
        { 'demo.elf': image.elf },
      );
    },
    output: /total RAM      256 MiB\n  vCPUs          2\n/,
  },
  {
    preset: 'protected32',
    longMode: false,
    build: () => manifestFile({ payloads: [{ type: 'data', gpa: '0x100000', hex: hexOf(SAY_OK_32) }], boot: { preset: 'protected32', entry: '0x100000', stack: '0x80000' } }),
    output: /^OK\n$/,
  },
  {
    preset: 'real16',
    longMode: false,
    build: () => manifestFile({ payloads: [{ type: 'data', gpa: '0x10000', hex: hexOf(SAY_OK_16) }], boot: { preset: 'real16', entry: '0x10000' } }),
    output: /^OK\n$/,
  },
] as const;
const presetRuns = PRESETS.flatMap((p) => (p.longMode ? longModeAccels : anyModeAccels).map((accel) => ({ ...p, accel })));

describe.skipIf(reason !== undefined)('QEMU 10.2.2 IGVM loader: igvm build manifest presets', () => {
  it.each(presetRuns)('$preset (accel=$accel): boots as under igvm run', async ({ build, output, accel }) => {
    const file = scratchFile(await build());
    const q = timed(`manifest presets (${accel})`, await bootQemu(file, accel, { memory: '256M', smp: 2, timeoutMs: 30_000 }));
    expect(q.serial.replace(AMD_HT_LINE, ''), q.stderr).toMatch(output);
    expect(q.status).toBe(1);
    if (igvmRun) {
      const ours = timed('manifest presets (igvm run)', await bootIgvmRun(file, { memory: '256M', smp: 2, timeoutMs: 30_000 }));
      expect(q.serial.replace(AMD_HT_LINE, '')).toBe(accel === 'kvm' ? ours.serial : ours.serial.replace(KVM_PAGES_LINE, ''));
    }
  }, 90_000);
});

// ---- one file per row of the README table ----

const demoImage = reason === undefined ? await assembleGuest(['demo/demo.S', 'lib/serial.S'], { loadAddress: DEMO_LAYOUT.code }) : undefined;
const MAP_AT = DEMO_LAYOUT.parameters + BigInt(BOOT_PARAMETERS.memoryMap);
const VPS_AT = DEMO_LAYOUT.parameters + BigInt(BOOT_PARAMETERS.vpCount);

/**
 * The memory-map area at MAP_AT (the map at `mapOffset`) and a second area at VPS_AT with
 * `second.type` at offset 0 and `second.initialData`.
 */
function parameterPages(mapOffset: number, second: { type?: 'VP_COUNT_PARAMETER' | 'ENVIRONMENT_INFO_PARAMETER'; initialData?: Uint8Array }) {
  return (b: IgvmBuilder) => {
    const map = b.addParameterArea(4096n);
    b.addParameter('MEMORY_MAP', map, mapOffset);
    b.addParameterInsert(map, MAP_AT);
    const other = b.addParameterArea(4096n, second.initialData ? { initialData: second.initialData } : {});
    if (second.type) b.addParameter(second.type, other, 0);
    b.addParameterInsert(other, VPS_AT);
  };
}

/**
 * The demo with its context and code, and the parameter pages as `parameters` lays them out
 * (the builders' layout by default); `extra` adds headers.
 */
function demoVariant(
  options: { parameters?: (b: IgvmBuilder) => void; extra?: (b: IgvmBuilder, context: ReturnType<typeof addLongModeEntry>) => void; v2?: boolean; rsi?: bigint } = {},
): Uint8Array {
  const b = new IgvmBuilder(options.v2 ? { formatVersion: 2, architecture: 'X64', pageSize: 4096 } : { formatVersion: 1 });
  b.addPlatform('NATIVE');
  const context = addLongModeEntry(b, { entry: DEMO_LAYOUT.code, pageTables: { base: DEMO_LAYOUT.pageTables, pageSize: '2M' }, gdtBase: DEMO_LAYOUT.gdt, stack: DEMO_LAYOUT.stack, rsi: options.rsi ?? DEMO_LAYOUT.parameters });
  b.addPageData(DEMO_LAYOUT.code, demoImage!.bytes);
  (options.parameters ?? parameterPages(0, { type: 'VP_COUNT_PARAMETER' }))(b);
  b.setNativeContext(context);
  options.extra?.(b, context);
  return b.serialize();
}

function extraArea(type: 'MADT' | 'COMMAND_LINE' | 'SRAT'): (b: IgvmBuilder) => void {
  return (b) => {
    const a = b.addParameterArea(4096n);
    b.addParameter(type, a, 0);
    b.addParameterInsert(a, 0xe000n);
  };
}

interface Row {
  readonly row: string;
  readonly build: () => Uint8Array;
  /** QEMU stops with this on stderr; otherwise the demo must finish, and `serial` must match. */
  readonly qemuRefuses?: RegExp;
  readonly serial?: RegExp;
  /** What igvm-ts's loader does: refuses (LoadError), or leaves `u32` at a GPA. */
  readonly igvmTsRefuses?: boolean;
  readonly u32?: { readonly gpa: bigint; readonly value: number };
  readonly qemuMishandles?: boolean;
}

const u32At = (m: SparseMachine, gpa: bigint) => new DataView(m.read(gpa, 4).buffer).getUint32(0, true);

const ROWS: Row[] = [
  {
    row: 'MEMORY_MAP at byte_offset 0x40: QEMU writes it at offset 0, igvm-ts at 0x40',
    build: () => demoVariant({ parameters: parameterPages(0x40, { type: 'VP_COUNT_PARAMETER' }) }),
    serial: /memory map \(IGVM MEMORY_MAP parameter\):\n    0x0-0xfffffff  MEMORY\n/,
    u32: { gpa: MAP_AT + 0x40n + 8n, value: 0x10000 },
    qemuMishandles: true,
  },
  {
    row: 'PARAMETER_AREA with initial contents: QEMU starts it zeroed, igvm-ts from the file',
    build: () => demoVariant({ parameters: parameterPages(0, { initialData: Uint8Array.of(7) }) }),
    serial: /vCPUs +0\n/,
    u32: { gpa: VPS_AT, value: 7 },
    qemuMishandles: true,
  },
  {
    row: 'PARAMETER_INSERT over the page run just before it: QEMU writes the pages last, igvm-ts in file order',
    build: () => demoVariant({ parameters: (b) => {
      parameterPages(0, {})(b);
      b.addPageData(VPS_AT + 0x1000n, Uint8Array.of(9));
      const vps = b.addParameterArea(4096n);
      b.addParameter('VP_COUNT_PARAMETER', vps, 0);
      b.addParameterInsert(vps, VPS_AT + 0x1000n);
    }, rsi: DEMO_LAYOUT.parameters + 0x1000n }),
    serial: /vCPUs +9\n/,
    u32: { gpa: VPS_AT + 0x1000n, value: 2 },
    qemuMishandles: true,
  },
  {
    row: 'ENVIRONMENT_INFO_PARAMETER: both write memory_is_shared = 1',
    build: () => demoVariant({ parameters: parameterPages(0, { type: 'ENVIRONMENT_INFO_PARAMETER' }) }),
    serial: /vCPUs +1\n/,
    u32: { gpa: VPS_AT, value: 1 },
  },
  { row: 'MADT: QEMU 10.2 has no handler, igvm-ts writes one', build: () => demoVariant({ extra: extraArea('MADT') }), qemuRefuses: /Unknown header type encountered when processing file: \(type 0x309\)/ },
  { row: 'COMMAND_LINE: QEMU has no handler, igvm-ts writes igvm run --cmdline', build: () => demoVariant({ extra: extraArea('COMMAND_LINE') }), qemuRefuses: /\(type 0x30E\)/ },
  { row: 'SRAT: neither loader fills it', build: () => demoVariant({ extra: extraArea('SRAT') }), qemuRefuses: /\(type 0x308\)/, igvmTsRefuses: true },
  {
    row: 'ERROR_RANGE: QEMU has no handler, igvm-ts skips it',
    build: () => demoVariant({ extra: (b) => b.addDirective({ type: 'ERROR_RANGE', gpa: 0x40_0000n, compatibilityMask: 1, sizeBytes: 4096 }) }),
    qemuRefuses: /\(type 0x30D\)/,
  },
  { row: 'VP_CONTEXT for vp_index 1: both refuse it', build: () => demoVariant({ v2: true, extra: (b, c) => b.setNativeContext(c, 1) }), qemuRefuses: /context can be set for BSP only/, igvmTsRefuses: true },
  { row: 'PAGE_DATA in the I/O APIC page: both refuse it', build: () => demoVariant({ extra: (b) => b.addPageData(0xfec0_0000n, Uint8Array.of(1)) }), qemuRefuses: /0xFEC00000 due to existing non-RAM region/, igvmTsRefuses: true },
  {
    row: 'PAGE_DATA in the rest of the local APIC MiB: QEMU refuses it, igvm-ts creates RAM',
    build: () => demoVariant({ extra: (b) => b.addPageData(0xfee0_1000n, Uint8Array.of(1)) }),
    qemuRefuses: /0xFEE01000 due to existing non-RAM region/,
  },
  {
    row: 'PAGE_DATA in KVM\'s identity-map/TSS pages: igvm-ts refuses it, QEMU has RAM there',
    build: () => demoVariant({ extra: (b) => b.addPageData(0xfeff_c000n, Uint8Array.of(1)) }),
    igvmTsRefuses: true,
  },
  {
    row: 'GUEST_POLICY of a SEV-SNP platform beside NATIVE: both skip it',
    build: () => demoVariant({ extra: (b) => {
      const snp = b.addPlatform('SEV_SNP');
      b.addGuestPolicy(0x30000n, snp);
    } }),
  },
  {
    row: 'REQUIRED_MEMORY outside RAM: both create RAM there, not in the memory map',
    build: () => demoVariant({ extra: (b) => b.addRequiredMemory(0x80_0000_0000n, 2 << 20) }),
    serial: /    0x0-0xfffffff  MEMORY\n(    0x[0-9a-f]+-0x[0-9a-f]+  PLATFORM_RESERVED\n)*  total RAM      256 MiB\n/,
  },
];

describe.skipIf(reason !== undefined)('QEMU 10.2.2 IGVM loader: the README table, row by row', () => {
  const accel: Accel = kvm ? 'kvm' : 'tcg';
  it.each(ROWS)('$row', async (row) => {
    const bytes = row.build();
    const warnings = checkLoaderCompat(parseIgvm(bytes));
    const about = (loader: string, effect: string) => warnings.some((w: CompatWarning) => w.loader === loader && w.effect === effect);

    const q = timed(`table rows (${accel})`, await bootQemu(scratchFile(bytes), accel, { memory: '256M', smp: 2, timeoutMs: 30_000 }));
    if (row.qemuRefuses) {
      expect(q.stderr).toMatch(row.qemuRefuses);
      expect(q.serial).not.toContain('demo done');
    } else {
      expect(q.serial, q.stderr).toContain('demo done');
      if (row.serial) expect(q.serial).toMatch(row.serial);
    }
    expect(about('qemu-10.2', 'refuses'), 'igvm check predicts QEMU refuses').toBe(row.qemuRefuses !== undefined);
    expect(about('qemu-10.2', 'mishandles'), 'igvm check predicts QEMU misreads').toBe(row.qemuMishandles === true);

    const machine = new SparseMachine(256n * MiB, 2);
    let refused = false;
    try {
      loadIgvm(parseIgvm(bytes), machine);
    } catch {
      refused = true;
    }
    expect(refused).toBe(row.igvmTsRefuses === true);
    expect(about('igvm-ts', 'refuses'), 'igvm check predicts igvm-ts refuses').toBe(row.igvmTsRefuses === true);
    if (row.u32) expect(u32At(machine, row.u32.gpa)).toBe(row.u32.value);
  }, 60_000);
});

// ---- the reference vectors ----

const vectors = join(repoRoot, '../shared/vectors');
const vectorFiles = existsSync(vectors) ? readdirSync(vectors).filter((n) => n.endsWith('.igvm')).sort() : [];

describe.skipIf(reason !== undefined || vectorFiles.length === 0)('QEMU 10.2.2 IGVM loader: the reference vectors', () => {
  it('QEMU refuses exactly the vectors igvm check says it refuses', async () => {
    for (const name of vectorFiles) {
      const path = join(vectors, name);
      let warnings: CompatWarning[];
      try {
        warnings = checkLoaderCompat(parseIgvm(new Uint8Array(readFileSync(path))), ['qemu-10.2']);
      } catch {
        continue; // not a valid file: QEMU's parser refuses it too (test/format covers the parser)
      }
      const q = timed('vectors (load only)', await loadInQemu(path, 10_000));
      expect(q.loaded, `${name}: ${q.stderr}`).toBe(!warnings.some((w) => w.effect === 'refuses'));
    }
  }, 120_000);
});

// ---- random files: igvm check's "refuses" against QEMU ----

/** Headers that one or both loaders refuse, or that both accept, to combine at random. */
const PIECES: Record<string, (b: IgvmBuilder, context: ReturnType<typeof addLongModeEntry>) => void> = {
  madt: extraArea('MADT'),
  commandLine: (b) => {
    const a = b.addParameterArea(4096n);
    b.addParameter('COMMAND_LINE', a, 0);
    b.addParameterInsert(a, 0xf000n);
  },
  envInfo: (b) => {
    const a = b.addParameterArea(4096n);
    b.addParameter('ENVIRONMENT_INFO_PARAMETER', a, 8);
    b.addParameterInsert(a, 0x1_0000n);
  },
  errorRange: (b) => b.addDirective({ type: 'ERROR_RANGE', gpa: 0x40_0000n, compatibilityMask: 1, sizeBytes: 4096 }),
  ioapicPage: (b) => b.addPageData(0xfec0_0000n, Uint8Array.of(1)),
  lapicMibPage: (b) => b.addPageData(0xfee8_0000n, Uint8Array.of(1)),
  kvmPages: (b) => b.addRequiredMemory(0xfeff_c000n, 0x4000),
  highRam: (b) => b.addRequiredMemory(0x2_0000_0000n, 0x20_0000),
  insertInLapic: (b) => {
    const a = b.addParameterArea(4096n);
    b.addParameterInsert(a, 0xfee0_0000n);
  },
  secondContext: (b, context) => b.setNativeContext(context, 3),
  gsBase: (b, context) => b.setNativeContext({ ...context, gsBase: 0x1234_5000n }, 2),
};

describe.skipIf(reason !== undefined)('QEMU 10.2.2 IGVM loader: random files', () => {
  it('QEMU refuses a file exactly when igvm check says it does', async () => {
    const fc = (await import('fast-check')).default;
    await fc.assert(
      fc.asyncProperty(fc.subarray(Object.keys(PIECES), { maxLength: 3 }), async (pieces) => {
        const bytes = demoVariant({ v2: true, extra: (b, c) => pieces.forEach((p) => PIECES[p]!(b, c)) });
        const refuses = checkLoaderCompat(parseIgvm(bytes), ['qemu-10.2']).some((w) => w.effect === 'refuses');
        const q = timed('random files (load only)', await loadInQemu(scratchFile(bytes), 10_000));
        expect(q.loaded, `${pieces.join(', ')}: ${q.stderr}`).toBe(!refuses);
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});

// ---- Linux ----

describe.skipIf(reason !== undefined || !haveLinux)('QEMU 10.2.2 IGVM loader: igvm build linux to init (TCG)', () => {
  const initrd = haveLinux ? busyboxInitramfs(new Uint8Array(readFileSync(join(cache, 'busybox'))), markerInit('reboot')) : new Uint8Array(0);
  it.each([
    { compressed: false, memory: '3G', smp: 4 },
    { compressed: true, memory: '256M', smp: 2 },
  ])('--compressed $compressed, -m $memory -smp $smp: e820 and MemTotal from -m, nproc from -smp', async ({ compressed, memory, smp }) => {
    const kernel = new Uint8Array(readFileSync(join(cache, 'vmlinuz')));
    const built = await buildLinuxIgvm({ kernel, kernelName: 'vmlinuz', initrd, cmdline: 'console=ttyS0 panic=-1 reboot=k', compressed });
    const file = scratchFile(built.bytes);
    const q = timed(`Linux (tcg${compressed ? ', compressed' : ''})`, await bootQemu(file, 'tcg', { memory, smp, timeoutMs: 150_000, until: /IGVM-LINUX-UP.*kB/ }));
    const up = /IGVM-LINUX-UP cpus=(\d+) MemTotal: +(\d+) kB/.exec(q.serial);
    expect(up, `${q.serial.slice(-3000)}\n${q.stderr}`).not.toBeNull();
    expect(Number(up![1])).toBe(smp);
    // The e820 table the shim made from QEMU's memory map: usable RAM adds up to -m.
    const usable = [...q.serial.matchAll(/BIOS-e820: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] usable/g)].reduce((s, m) => s + BigInt(`0x${m[2]}`) - BigInt(`0x${m[1]}`) + 1n, 0n);
    expect(usable).toBe(bytesOf(memory));
    const memTotal = BigInt(up![2]!) * 1024n;
    expect(memTotal).toBeLessThanOrEqual(bytesOf(memory));
    expect(memTotal).toBeGreaterThan((bytesOf(memory) * 8n) / 10n);
  }, 180_000);
});
