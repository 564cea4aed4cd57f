import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFromManifest } from '../../src/build/manifest-build.js';
import { ManifestError } from '../../src/build/manifest.js';
import { assembleGuest, haveBinutils } from '../../src/build/toolchain.js';
import { parseIgvm } from '../../src/format/index.js';
import { loadIgvm, SparseMachine } from '../../src/loader/index.js';

const cli = path.resolve(import.meta.dirname, '../../dist/cli/main.js');
const binutils = await haveBinutils();
if (!binutils) console.log('skipping ELF manifest tests: binutils (as, ld, objcopy) not installed');

function workdir(files: Record<string, string | Uint8Array> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'igvm-manifest-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  return dir;
}

function manifestIn(dir: string, manifest: unknown): string {
  const file = path.join(dir, 'guest.json');
  writeFileSync(file, JSON.stringify(manifest, null, 2));
  return file;
}

async function expectManifestError(manifest: unknown, files: Record<string, string | Uint8Array>, jsonPath: string, message: RegExp) {
  const dir = workdir(files);
  try {
    await buildFromManifest(manifestIn(dir, manifest));
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestError);
    expect((e as ManifestError).jsonPath).toBe(jsonPath);
    expect((e as ManifestError).message).toMatch(message);
    return;
  }
  throw new Error('expected a ManifestError');
}

const CODE = Uint8Array.of(0xf4, 0xeb, 0xfd); // hlt; jmp .-1

describe('igvm build manifests', () => {
  it('builds flat, zero and data payloads with parameters and a long64 boot, deterministically', async () => {
    const dir = workdir({ 'code.bin': CODE });
    const manifest = {
      revision: 'v2',
      payloads: [
        { type: 'flat', file: 'code.bin', gpa: '0x100000' },
        { type: 'zero', gpa: '0x200000', size: '8K' },
        { type: 'data', gpa: 0x300000, hex: 'deadbeef', unmeasured: true },
      ],
      requiredMemory: [{ gpa: 0, size: '2M' }],
      parameterAreas: [
        { size: '4K', insertAt: '0x9000', parameters: [{ type: 'memory-map' }] },
        { size: '4K', insertAt: '0xa000', parameters: [{ type: 'vp-count' }] },
      ],
      boot: { preset: 'long64', stack: '0x80000', registers: { rsi: '0x9000' } },
    };
    const file = manifestIn(dir, manifest);
    const a = await buildFromManifest(file);
    const b = await buildFromManifest(file);
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    expect(a.summary).toMatchObject({ preset: 'long64', entry: 0x100000n, gdt: 0x1000n, pageTables: { gpa: 0x2000n, size: 0x6000n } });

    const parsed = parseIgvm(a.bytes);
    expect(parsed.revision).toEqual({ formatVersion: 2, architecture: 'X64', pageSize: 4096 });
    const m = new SparseMachine(256n << 20n, 2);
    const { bootCpu, report } = loadIgvm(parsed, m);
    expect(bootCpu.rip).toBe(0x100000n);
    expect(bootCpu.gprs.rsi).toBe(0x9000n);
    expect(bootCpu.gprs.rsp).toBe(0x80000n);
    expect(bootCpu.cr3).toBe(0x2000n);
    expect([...m.read(0x100000n, 3)]).toEqual([...CODE]);
    expect([...m.read(0x300000n, 4)]).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect(new DataView(m.read(0xa000n, 4).buffer).getUint32(0, true)).toBe(2);
    expect(new DataView(m.read(0x9000n, 16).buffer).getBigUint64(8, true)).toBe((256n << 20n) >> 12n);
    expect(report.requiredMemory).toHaveLength(1);
    const unmeasured = parsed.directives.find((d) => d.type === 'PAGE_DATA' && d.gpa === 0x300000n);
    expect(unmeasured?.type === 'PAGE_DATA' && unmeasured.flags.unmeasured).toBe(true);
  });

  it('protected32 and real16 presets, and register overrides', async () => {
    const dir = workdir({ 'code.bin': CODE });
    const p32 = await buildFromManifest(
      manifestIn(dir, { payloads: [{ type: 'flat', file: 'code.bin', gpa: '0x100000' }], boot: { preset: 'protected32', registers: { rbx: 7 } } }),
    );
    const s32 = loadIgvm(parseIgvm(p32.bytes), new SparseMachine(64n << 20n)).bootCpu;
    expect(s32.segments.cs).toMatchObject({ selector: 0x18, long: false, defaultBig: true });
    expect(s32.gprs.rbx).toBe(7n);
    expect(s32.cr0 & 1n).toBe(1n);
    const r16 = await buildFromManifest(
      manifestIn(dir, { payloads: [{ type: 'flat', file: 'code.bin', gpa: '0xfffff000' }], boot: { preset: 'real16', entry: '0xfffffff0' } }),
    );
    const s16 = loadIgvm(parseIgvm(r16.bytes), new SparseMachine(64n << 20n)).bootCpu;
    expect(s16).toMatchObject({ rip: 0xfff0n, cr0: 0x6000_0010n });
    expect(s16.segments.cs).toMatchObject({ selector: 0xf000, base: 0xffff_0000n });
  });

  it.skipIf(!binutils)('loads ELF payloads by their PT_LOAD segments, entering at a symbol', async () => {
    const image = await assembleGuest(['demo/demo.S', 'lib/serial.S'], { loadAddress: 0x20_0000n });
    const dir = workdir({ 'demo.elf': image.elf });
    const built = await buildFromManifest(
      manifestIn(dir, {
        payloads: [{ type: 'elf', file: 'demo.elf' }],
        parameterAreas: [
          { size: '4K', insertAt: '0x9000', parameters: [{ type: 'memory-map' }] },
          { size: '4K', insertAt: '0xa000', parameters: [{ type: 'vp-count' }] },
        ],
        boot: { preset: 'long64', entry: { symbol: '_start' }, pageTables: { gpa: '0x10000', pageSize: '4K', mapSize: '16M' }, stack: '0x80000', registers: { rsi: '0x9000' } },
      }),
    );
    const m = new SparseMachine(256n << 20n);
    const { bootCpu } = loadIgvm(parseIgvm(built.bytes), m);
    expect(bootCpu.rip).toBe(image.symbols.get('_start'));
    expect(m.read(0x20_0000n, image.bytes.length)).toEqual(image.bytes);
    expect(built.summary.pageTables).toEqual({ gpa: 0x10000n, size: BigInt((2 + 1 + 8) * 4096) });
  });

  it('names the JSON path of every manifest problem', async () => {
    const code = { 'code.bin': CODE };
    await expectManifestError({ payloads: [{ type: 'flat', file: 'code.bin', gpa: 'near' }] }, code, 'payloads[0].gpa', /expected a non-negative integer/);
    await expectManifestError({ payloads: [{ type: 'flat', file: 'code.bin', gpa: '0x100010' }] }, code, 'payloads[0].gpa', /multiple of 4 KiB/);
    await expectManifestError({ payloads: [{ type: 'rom', file: 'code.bin' }] }, code, 'payloads[0].type', /./);
    await expectManifestError({ revision: 'v3' }, code, 'revision', /./);
    await expectManifestError({ payload: [] }, code, '', /unrecognized key/i);
    await expectManifestError({ payloads: [{ type: 'flat', file: 'missing.bin', gpa: 0 }] }, code, 'payloads[0].file', /cannot read missing\.bin: no such file/);
    await expectManifestError(
      { payloads: [{ type: 'flat', file: 'code.bin', gpa: '0x100000' }, { type: 'zero', gpa: '0xff000', size: '8K' }] },
      code,
      'payloads[1]',
      /overlaps payloads\[0\] at page 0x100000/,
    );
    await expectManifestError(
      { payloads: [{ type: 'flat', file: 'code.bin', gpa: '0x1000' }], boot: { preset: 'long64', gdt: '0x1000' } },
      code,
      'boot.gdt',
      /overlaps payloads\[0\]/,
    );
    await expectManifestError({ payloads: [{ type: 'data', gpa: 0, hex: 'abc' }] }, code, 'payloads[0].hex', /even number/);
    await expectManifestError({ boot: { preset: 'long64' } }, code, 'boot.entry', /no entry point/);
    await expectManifestError(
      { payloads: [{ type: 'flat', file: 'code.bin', gpa: 0x100000 }], boot: { preset: 'long64', registers: { rip: '0x800000000000' } } },
      code,
      'boot',
      /RIP 0x800000000000 is not canonical/,
    );
    await expectManifestError(
      { parameterAreas: [{ size: '4K', parameters: [{ type: 'vp-count', offset: 5000 }] }], payloads: [{ type: 'flat', file: 'code.bin', gpa: 0 }] },
      code,
      'parameterAreas[0].parameters[0]',
      /outside parameter area/,
    );
    await expectManifestError({}, code, '', /no file data/);
  });

  it('refuses to write a file that a loader it targets would misread, unless "loaders" leaves that loader out', async () => {
    const code = { 'code.bin': CODE };
    const shared = {
      payloads: [{ type: 'flat', file: 'code.bin', gpa: '0x100000' }],
      parameterAreas: [{ size: '4K', insertAt: '0x9000', parameters: [{ type: 'vp-count' }, { type: 'memory-map', offset: 64 }] }],
    };
    await expectManifestError(shared, code, 'loaders', /header #4 \(MEMORY_MAP\): qemu-10\.2 mishandles it: QEMU ignores byte_offset 0x40/);
    const dir = workdir(code);
    const built = await buildFromManifest(manifestIn(dir, { ...shared, loaders: ['igvm-ts', 'spec'] }));
    expect(parseIgvm(built.bytes).directives.some((d) => d.type === 'MEMORY_MAP' && d.byteOffset === 64)).toBe(true);
    // A file for other platforms only is not checked against the native loaders by default.
    await buildFromManifest(manifestIn(workdir(code), { platforms: ['sev-snp'], payloads: shared.payloads }));
  });

  it('refuses ELF files that are not x86-64 executables, naming the offset', async () => {
    const notElf = new Uint8Array(64);
    await expectManifestError({ payloads: [{ type: 'elf', file: 'x.elf' }] }, { 'x.elf': notElf }, 'payloads[0].file', /not an ELF file \(bad magic\) \(at byte offset 0x0\)/);
    const arm = new Uint8Array(64);
    arm.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    arm[18] = 183; // EM_AARCH64
    await expectManifestError({ payloads: [{ type: 'elf', file: 'a.elf' }] }, { 'a.elf': arm }, 'payloads[0].file', /not an x86-64 ELF file \(e_machine 183\) \(at byte offset 0x12\)/);
    const noLoad = arm.slice();
    noLoad[18] = 62;
    await expectManifestError({ payloads: [{ type: 'elf', file: 'n.elf' }] }, { 'n.elf': noLoad }, 'payloads[0].file', /has no PT_LOAD segment/);
  });

  it('the CLI writes atomically and leaves no file behind on error', () => {
    if (!existsSync(cli)) throw new Error('build first: dist/cli/main.js is missing');
    const dir = workdir({ 'code.bin': CODE });
    const good = manifestIn(dir, { payloads: [{ type: 'flat', file: 'code.bin', gpa: '0x100000' }], boot: { preset: 'long64' } });
    const out = path.join(dir, 'out.igvm');
    const ok = spawnSync(process.execPath, [cli, 'build', good, '-o', out], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/wrote .*out\.igvm \(\d+ bytes\): \d+ pages, long64 entry at 0x100000/);
    expect(parseIgvm(new Uint8Array(readFileSync(out))).platforms).toHaveLength(1);

    const bad = manifestIn(dir, { payloads: [{ type: 'flat', file: 'nope.bin', gpa: 0 }] });
    const out2 = path.join(dir, 'bad.igvm');
    const r = spawnSync(process.execPath, [cli, 'build', bad, '-o', out2], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('igvm: guest.json: payloads[0].file: cannot read nope.bin: no such file');
    expect(readdirSync(dir).sort()).toEqual(['code.bin', 'guest.json', 'out.igvm']);
  });
});
