// Debian's stock kernel, built into an IGVM file (booting it needs KVM: see test/vmm). The kernel is
// fetched by scripts/fetch-debian-kernel.sh (CI runs it) into build/cache.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildLinuxIgvm, LINUX_LAYOUT } from '../../src/build/linux/linux-igvm.js';
import { haveBinutils } from '../../src/build/toolchain.js';
import { parseIgvm } from '../../src/format/index.js';
import { loadIgvm, SparseMachine } from '../../src/loader/index.js';

const kernelPath = path.resolve(import.meta.dirname, '../../build/cache/vmlinuz');
const ready = existsSync(kernelPath) && (await haveBinutils());
if (!ready) console.log(`skipping the Debian kernel build test: ${kernelPath} missing (run scripts/fetch-debian-kernel.sh) or no binutils`);

describe.skipIf(!ready)('Debian kernel', () => {
  it('builds uncompressed (XZ decompressed at build time) and loads at 16 MiB', async () => {
    const kernel = new Uint8Array(readFileSync(kernelPath));
    const { bytes, summary } = await buildLinuxIgvm({ kernel, kernelName: 'vmlinuz', cmdline: 'console=ttyS0 earlyprintk=serial' });
    expect(summary.compression).toBe('xz');
    expect(summary.mode).toBe('uncompressed');
    expect(summary.kernel.gpa).toBe(0x100_0000n);
    expect(Number(summary.protocol)).toBeGreaterThanOrEqual(2.12);
    const m = new SparseMachine(512n << 20n, 2);
    const { bootCpu } = loadIgvm(parseIgvm(bytes), m);
    expect(bootCpu.rip).toBe(LINUX_LAYOUT.shim);
    // The kernel's startup_64 begins with code, not zeros.
    expect(m.read(summary.kernel.entry, 16).some((b) => b !== 0)).toBe(true);
  });
});
