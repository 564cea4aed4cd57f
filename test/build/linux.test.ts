import { describe, expect, it } from 'vitest';
import { InputFileError } from '../../src/build/input-error.js';
import { readBzImage } from '../../src/build/linux/bzimage.js';
import { buildLinuxIgvm, LINUX_LAYOUT, LINUX_PARAMETERS } from '../../src/build/linux/linux-igvm.js';
import { haveBinutils } from '../../src/build/toolchain.js';
import { parseIgvm } from '../../src/format/index.js';
import { loadIgvm, SparseMachine } from '../../src/loader/index.js';
import { buildProbeKernel, PROBE_LOAD } from '../helpers/probe-kernel.js';

const binutils = await haveBinutils();
if (!binutils) console.log('skipping igvm build linux tests: binutils (as, ld, objcopy) not installed');

const QEMU_NATIVE_HEADERS = new Set([
  'SUPPORTED_PLATFORM',
  'PAGE_DATA',
  'VP_CONTEXT',
  'PARAMETER_AREA',
  'PARAMETER_INSERT',
  'MEMORY_MAP',
  'VP_COUNT_PARAMETER',
  'ENVIRONMENT_INFO_PARAMETER',
  'REQUIRED_MEMORY',
]);

function u32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(at, true);
}

describe.skipIf(!binutils)('igvm build linux', () => {
  it('loads the decompressed kernel at its physical address and bakes boot_params', async () => {
    const { bzImage, vmlinux } = await buildProbeKernel();
    const initrd = new Uint8Array(100_000).fill(0x5a);
    const { bytes, summary } = await buildLinuxIgvm({ kernel: bzImage, kernelName: 'probe', initrd, cmdline: 'console=ttyS0 probe=1' });
    expect(summary).toMatchObject({ protocol: '2.15', compression: 'gzip', mode: 'uncompressed', kernel: { gpa: PROBE_LOAD, entry: PROBE_LOAD } });
    expect(summary.initrd).toEqual({ gpa: 0x140_0000n, size: 100_000n });

    const file = parseIgvm(bytes);
    for (const h of [...file.platforms, ...file.initializations, ...file.directives]) expect(QEMU_NATIVE_HEADERS).toContain(h.type);

    const m = new SparseMachine(256n << 20n, 4);
    const { bootCpu } = loadIgvm(file, m);
    // The shim runs first, in long mode with the boot protocol's segments, handed the parameters.
    expect(bootCpu.rip).toBe(LINUX_LAYOUT.shim);
    expect(bootCpu.gprs.rsi).toBe(LINUX_LAYOUT.parameters);
    expect(bootCpu.segments.cs).toMatchObject({ selector: 0x10, long: true });
    expect(bootCpu.segments.ds.selector).toBe(0x18);
    // The kernel ELF's PT_LOAD contents are at 16 MiB.
    expect(m.read(PROBE_LOAD, 16)).toEqual(readProbeText(vmlinux));
    // boot_params: the setup header copied, then the loader's decisions.
    const bp = m.read(LINUX_LAYOUT.bootParams, 4096);
    expect(u32(bp, 0x202)).toBe(0x5372_6448);
    expect(bp[0x210]).toBe(0xff);
    expect(u32(bp, 0x228)).toBe(Number(LINUX_LAYOUT.cmdline));
    expect(new TextDecoder().decode(m.read(LINUX_LAYOUT.cmdline, 21))).toBe('console=ttyS0 probe=1');
    expect(m.read(LINUX_LAYOUT.cmdline + 21n, 1)[0]).toBe(0);
    expect(u32(bp, 0x218)).toBe(0x140_0000);
    expect(u32(bp, 0x21c)).toBe(100_000);
    expect(m.read(0x140_0000n + 99_999n, 2)).toEqual(Uint8Array.of(0x5a, 0));
    // The loader filled the parameters the shim turns into e820 and the MP table.
    const params = m.read(LINUX_LAYOUT.parameters, 8192);
    expect(u32(params, LINUX_PARAMETERS.vpCount)).toBe(4);
    expect(new DataView(params.buffer).getBigUint64(LINUX_PARAMETERS.memoryMap + 8, true)).toBe((256n << 20n) >> 12n);
    // The shim's configuration block points at boot_params, the kernel entry and the MP table.
    const shim = m.read(LINUX_LAYOUT.shim, 32);
    const shimView = new DataView(shim.buffer);
    expect(shimView.getBigUint64(8, true)).toBe(LINUX_LAYOUT.bootParams);
    expect(shimView.getBigUint64(16, true)).toBe(PROBE_LOAD);
    expect(shimView.getBigUint64(24, true)).toBe(LINUX_LAYOUT.mpTable);
  });

  it('--compressed keeps the bzImage and enters its 64-bit entry', async () => {
    const { bzImage } = await buildProbeKernel();
    const { bytes, summary } = await buildLinuxIgvm({ kernel: bzImage, kernelName: 'probe', compressed: true });
    expect(summary.mode).toBe('compressed');
    expect(summary.kernel.entry).toBe(PROBE_LOAD + 0x200n);
    const m = new SparseMachine(256n << 20n);
    loadIgvm(parseIgvm(bytes), m);
    expect(m.read(PROBE_LOAD + 0x200n, 3)).toEqual(Uint8Array.of(0x1f, 0x8b, 0x08)); // the gzip payload
    expect(u32(m.read(LINUX_LAYOUT.bootParams, 4096), 0x214)).toBe(Number(PROBE_LOAD)); // code32_start
  });

  it('output is deterministic', async () => {
    const { bzImage } = await buildProbeKernel();
    const a = await buildLinuxIgvm({ kernel: bzImage, kernelName: 'probe', cmdline: 'x' });
    const b = await buildLinuxIgvm({ kernel: bzImage, kernelName: 'probe', cmdline: 'x' });
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
  });

  it('refuses images that are not suitable Linux kernels, naming the offset', async () => {
    const cases: [Parameters<typeof buildProbeKernel>[0], RegExp][] = [
      [{ bootFlag: 0x1234 }, /not a Linux kernel image \(boot_flag 0x1234, expected 0xaa55\) \(at byte offset 0x1fe\)/],
      [{ version: 0x020b }, /boot protocol 2\.11 is too old: the 64-bit boot protocol needs 2\.12 or later \(at byte offset 0x206\)/],
      [{ relocatable: false }, /not relocatable .* \(at byte offset 0x234\)/],
      [{ kernel64: false }, /no 64-bit entry point .* \(at byte offset 0x236\)/],
      [{ payload: Uint8Array.of(0x42, 0x5a, 0x68, 0x39, 0, 0) }, /compressed with bzip2, which igvm-ts cannot decompress; build with --compressed/],
      [{ payload: Uint8Array.of(0x1f, 0x8b, 0x08, 0, 1, 2, 3) }, /the gzip payload does not decompress/],
    ];
    for (const [options, message] of cases) {
      const { bzImage } = await buildProbeKernel(options);
      await expect(buildLinuxIgvm({ kernel: bzImage, kernelName: 'probe' })).rejects.toThrow(message);
    }
    const { bzImage } = await buildProbeKernel({ cmdlineSize: 10 });
    await expect(buildLinuxIgvm({ kernel: bzImage, kernelName: 'probe', cmdline: 'console=ttyS0' })).rejects.toThrow(/accepts at most 10/);
    expect(() => readBzImage(new Uint8Array(100), 'tiny')).toThrow(InputFileError);
  });
});

/** The first 16 bytes of the probe's loadable code, from its ELF (a PT_LOAD at file offset 0x1000). */
function readProbeText(elf: Uint8Array): Uint8Array {
  const dv = new DataView(elf.buffer, elf.byteOffset);
  const phoff = Number(dv.getBigUint64(32, true));
  const offset = Number(dv.getBigUint64(phoff + 8, true));
  return elf.slice(offset, offset + 16);
}
