/**
 * The project's guests under QEMU (TCG), entered with the boot state igvm-ts's loader computes: the
 * register-checking test guests, the reset guest, the demo, the boot-protocol probe and Debian's
 * kernel to a busybox init behind the boot shim. This checks the guests, the files built around them
 * and the loader on a real x86 machine model where /dev/kvm is not usable; `igvm run` itself is
 * tested on KVM in test/vmm. Needs qemu-system-x86 and binutils, else skipped with the reason.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDemoIgvm } from '../../src/build/demo-guest.js';
import { buildLinuxIgvm } from '../../src/build/linux/linux-igvm.js';
import { haveBinutils } from '../../src/build/toolchain.js';
import { buildProbeKernel } from '../helpers/probe-kernel.js';
import { buildTestGuest, type TestGuestKind } from '../helpers/test-guests.js';
import { busyboxInitramfs, markerInit } from '../../src/build/cpio.js';
import { QEMU, runUnderQemu } from './harness.js';

const reason = !existsSync(QEMU)
  ? `${QEMU} is not installed (Debian package qemu-system-x86)`
  : !(await haveBinutils())
    ? 'binutils (as, ld, objcopy) are not installed'
    : undefined;
if (reason) console.log(`[qemu] skipping the guests under QEMU: ${reason}`);
const cache = resolve(import.meta.dirname, '../../build/cache');
const haveLinux = existsSync(join(cache, 'vmlinuz')) && existsSync(join(cache, 'busybox'));
if (!reason && !haveLinux) console.log(`[qemu] skipping Linux under QEMU: ${cache}/vmlinuz or busybox missing (run scripts/fetch-debian-kernel.sh)`);

const MiB = 1n << 20n;
const GiB = 1n << 30n;
const hex = (v: bigint) => `0x${v.toString(16)}`;

describe.skipIf(reason !== undefined)('guests under QEMU', () => {
  it.each<TestGuestKind>(['long64-2m', 'long64-4k', 'protected32', 'real16'])('%s: every observed register equals the file', async (kind) => {
    const { bytes } = await buildTestGuest(kind);
    const r = await runUnderQemu(bytes);
    expect(r.serial, r.stderr).toContain('CHECK OK');
    expect(r.status).toBe(1);
  });

  it('the checker reports a register that differs, and ignores only CR4.MCE (which KVM on AMD may set)', async () => {
    const { expected } = await buildTestGuest('long64-2m');
    const { bytes } = await buildTestGuest('long64-2m', { rbx: expected.rbx ^ 0x100n, cr4: expected.cr4 | 0x40n });
    const r = await runUnderQemu(bytes);
    expect(r.serial).toContain(`MISMATCH rbx got ${hex(expected.rbx)} want ${hex(expected.rbx ^ 0x100n)}`);
    expect(r.serial).not.toContain('MISMATCH cr4');
    expect(r.serial).toContain('CHECK FAILED: mismatches: 1');
  });

  it('reset: the second boot sees the context again and the RAM the file does not cover', async () => {
    const { bytes } = await buildTestGuest('reset');
    const r = await runUnderQemu(bytes);
    expect(r.serial).toContain('second boot: the context was loaded again');
    expect(r.serial.match(/CHECK OK/g)).toHaveLength(2);
    expect(r.status).toBe(1);
  });

  it.each([
    [256n * MiB, 1],
    [3n * GiB, 2],
  ])('demo with %s bytes and %i vCPUs prints its memory map and vCPU count', async (memory, vcpus) => {
    const r = await runUnderQemu(await buildDemoIgvm(), { memory, vcpus });
    expect(r.serial).toContain('entry mode     64-bit long mode');
    expect(r.serial).toContain(`total RAM      ${memory / MiB} MiB`);
    expect(r.serial).toContain(`vCPUs          ${vcpus}\n`);
    expect(r.status).toBe(1);
  });

  it.each([
    [256n * MiB, 1],
    [5n * GiB, 4],
  ])('probe kernel (%s bytes, %i vCPUs): e820, command line, initrd and MP table through the boot shim', async (memory, vcpus) => {
    const { bzImage } = await buildProbeKernel();
    const built = await buildLinuxIgvm({ kernel: bzImage, kernelName: 'probe', initrd: new Uint8Array(50_000).fill(1), cmdline: 'console=ttyS0 probe=yes' });
    const r = await runUnderQemu(built.bytes, { memory, vcpus });
    expect(r.serial).toContain('probe: cmdline "console=ttyS0 probe=yes"');
    expect(r.serial).toContain(`probe: initrd ${hex(built.summary.initrd!.gpa)} size ${hex(50_000n)}`);
    const low = memory < 2n * GiB ? memory : 2n * GiB;
    const expected = [`probe: e820 0x0 ${hex(low)} 1`, 'probe: e820 0xfeffc000 0x4000 2'];
    if (memory > low) expected.push(`probe: e820 ${hex(4n * GiB)} ${hex(memory - low)} 1`);
    expect(r.serial).toContain(`probe: e820 entries ${expected.length}\n`);
    for (const line of expected) expect(r.serial).toContain(`${line}\n`);
    expect(r.serial).toContain(`probe: mp processors ${vcpus}\n`);
    expect(r.status).toBe(1);
  });

  it.skipIf(!haveLinux)('Debian Linux reaches a busybox init on 2 vCPUs behind the boot shim', async () => {
    const initrd = busyboxInitramfs(new Uint8Array(readFileSync(join(cache, 'busybox'))), markerInit('poweroff'));
    const kernel = new Uint8Array(readFileSync(join(cache, 'vmlinuz')));
    const built = await buildLinuxIgvm({ kernel, kernelName: 'vmlinuz', initrd, cmdline: 'console=ttyS0 panic=-1' });
    const r = await runUnderQemu(built.bytes, { memory: 512n * MiB, vcpus: 2, timeoutMs: 150_000 });
    expect(r.serial).toMatch(/BIOS-e820: \[mem 0x0000000000000000-0x000000001fffffff\] usable/);
    expect(r.serial).toMatch(/IGVM-LINUX-UP cpus=2 MemTotal: +\d+ kB/);
  }, 180_000);
});
