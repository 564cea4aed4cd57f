/**
 * The project's guests on real KVM: the register-checking test guests (guests/tests), the demo, and
 * Debian's stock kernel with a busybox initramfs. They need a usable /dev/kvm and binutils (and,
 * for Linux, build/cache from scripts/fetch-debian-kernel.sh); otherwise they are skipped and the
 * reason is printed once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoIgvm } from '../../src/build/demo-guest.js';
import { buildLinuxIgvm, LINUX_LAYOUT } from '../../src/build/linux/linux-igvm.js';
import { q35Layout } from '../../src/arch/x86/q35-layout.js';
import { loadIgvm } from '../../src/loader/index.js';
import { GuestMemory } from '../../src/vmm/memory.js';
import { haveBinutils } from '../../src/build/toolchain.js';
import { parseIgvm, type ParsedIgvm } from '../../src/format/index.js';
import type { RunOptions } from '../../src/vmm/vm-runner.js';
import { buildTestGuest, type TestGuestKind } from '../helpers/test-guests.js';
import { repoRoot } from './bundle.js';
import { GuestRunner, kvmHost, kvmSkipReason } from './kvm-harness.js';
import { isHardwareKvm } from '../../src/vmm/host-probe.js';
import { busyboxInitramfs, markerInit } from '../../src/build/cpio.js';

const reason = kvmSkipReason() ?? ((await haveBinutils()) ? undefined : 'binutils (as, ld, objcopy) are not installed');
if (reason) console.log(`[vmm kvm guests] skipping the guests on KVM: ${reason}`);
const cache = join(repoRoot, 'build/cache');
const haveLinux = existsSync(join(cache, 'vmlinuz')) && existsSync(join(cache, 'busybox'));
/** Linux reaches init only on hardware-backed KVM (kvm_pvm runs it at ~2 MIPS and breaks SYSCALL). */
const hardware = isHardwareKvm(kvmHost);
if (!reason && !hardware) console.log(`[vmm kvm guests] skipping the Linux boot to init: KVM here is not hardware-backed (${kvmHost.reason})`);
if (!reason && !haveLinux) console.log(`[vmm kvm guests] skipping the Linux boot: ${cache}/vmlinuz or busybox missing (run scripts/fetch-debian-kernel.sh)`);

/** Debian's kernel with a busybox initramfs whose init prints a marker and the CPU count, then reboots. */
async function linuxFile() {
  const initrd = busyboxInitramfs(new Uint8Array(readFileSync(join(cache, 'busybox'))), markerInit('reboot'));
  return buildLinuxIgvm({
    kernel: new Uint8Array(readFileSync(join(cache, 'vmlinuz'))),
    kernelName: 'vmlinuz',
    initrd,
    // quiet: every console byte is a VM exit. pci=off: the machine has no PCI devices (as Firecracker's
    // default command line), so the kernel need not scan all 256 buses through port I/O.
    cmdline: 'console=ttyS0 quiet pci=off reboot=k panic=-1',
  });
}

describe.skipIf(reason !== undefined)('project guests on KVM', () => {
  const runner = new GuestRunner({});
  beforeAll(() => runner.start());
  afterAll(() => runner.dispose());
  const run = (file: ParsedIgvm, options: Partial<RunOptions> = {}) => runner.run(file, options);

  it.each<TestGuestKind>(['long64-2m', 'long64-4k', 'protected32', 'real16'])('%s: the guest observes exactly the boot state', async (kind) => {
    const { bytes } = await buildTestGuest(kind);
    const { result, serial } = await run(parseIgvm(bytes));
    expect(serial).toContain('CHECK OK');
    expect(result).toMatchObject({ exitStatus: 1, boots: 1 });
  });

  it('reset: a reset through 0xcf9 loads the context again and keeps RAM outside the file', async () => {
    const { bytes } = await buildTestGuest('reset');
    const { result, serial } = await run(parseIgvm(bytes));
    expect(serial).toContain('first boot: resetting through port 0xcf9');
    expect(serial).toContain('second boot: the context was loaded again');
    expect(serial.match(/CHECK OK/g)).toHaveLength(2);
    expect(result).toMatchObject({ exitStatus: 1, boots: 2 });
  });

  it('demo: prints its parameters and exits through isa-debug-exit', async () => {
    const { result, serial } = await run(parseIgvm(await buildDemoIgvm()), { vcpus: 2 });
    expect(serial).toContain('demo done: exiting through isa-debug-exit');
    expect(result.exitStatus).toBe(1);
  });

  it.skipIf(!haveLinux || !hardware)('boots Debian Linux on two vCPUs to a busybox init that reboots', async () => {
    const { bytes } = await linuxFile();
    const { result, serial } = await run(parseIgvm(bytes), { memory: 512n << 20n, vcpus: 2, noReboot: true, timeoutMs: 120_000 });
    expect(serial).toMatch(/IGVM-LINUX-UP cpus=2 MemTotal: +\d+ kB/);
    expect(result).toMatchObject({ exitStatus: 0, boots: 1 });
    expect(result.reason).toContain('i8042 reset');
  }, 180_000);
});

const binutils = await haveBinutils();

describe.skipIf(!haveLinux || !binutils)('the Linux boot file, without KVM', () => {
  it('loads into guest memory with the kernel and the initramfs in place', async () => {
    const { bytes, summary } = await linuxFile();
    const memory = new GuestMemory(q35Layout(512n << 20n), 2, { setUserMemoryRegion: () => undefined });
    try {
      const { bootCpu } = loadIgvm(parseIgvm(bytes), memory);
      expect(bootCpu.rip).toBe(LINUX_LAYOUT.shim);
      expect(memory.read(summary.kernel.entry, 16).some((b) => b !== 0)).toBe(true);
      expect(summary.initrd).toBeDefined();
      expect(new TextDecoder().decode(memory.read(summary.initrd!.gpa, 6))).toBe('070701');
    } finally {
      memory.close();
    }
  }, 60_000);
});
