// Opening /dev/kvm: the exact messages for a missing device and no permission, and runIgvm's error path.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IgvmBuilder, parseIgvm } from '../../src/format/index.js';
import { KvmError, KVM_MISSING_MESSAGE, KVM_PERMISSION_MESSAGE } from '../../src/vmm/kvm/errors.js';
import { Kvm, openErrorMessage } from '../../src/vmm/kvm/system.js';
import { LINUX } from '../../src/vmm/kvm/bindings.js';
import { runIgvm } from '../../src/vmm/vm-runner.js';

const kvmPresent = existsSync('/dev/kvm');

describe('Kvm.open', () => {
  it('names the errno for each way opening /dev/kvm fails', () => {
    expect(openErrorMessage(LINUX.ENOENT)).toEqual({ code: 'KvmMissing', message: KVM_MISSING_MESSAGE });
    expect(openErrorMessage(LINUX.EACCES)).toEqual({ code: 'KvmPermission', message: KVM_PERMISSION_MESSAGE });
    expect(openErrorMessage(LINUX.EPERM).code).toBe('KvmPermission');
    expect(openErrorMessage(LINUX.ENOENT, '/nonexistent/kvm')).toEqual({
      code: 'KvmOpen',
      message: 'cannot open /nonexistent/kvm: No such file or directory (errno 2)',
    });
  });

  it('spells the messages as the CLI shows them', () => {
    expect(KVM_MISSING_MESSAGE).toBe('KVM is not available: /dev/kvm is missing; `igvm load --dry-run` shows what would be loaded');
    expect(KVM_PERMISSION_MESSAGE).toBe('permission denied opening /dev/kvm (add yourself to the kvm group or run as root)');
  });

  it('reports another device path by its errno', () => {
    expect(() => Kvm.open('/nonexistent/kvm')).toThrow('cannot open /nonexistent/kvm: No such file or directory (errno 2)');
  });

  it.skipIf(kvmPresent)('fails with the exact message when /dev/kvm is missing', () => {
    let error: unknown;
    try {
      Kvm.open();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KvmError);
    expect((error as KvmError).code).toBe('KvmMissing');
    expect((error as KvmError).errno).toBe(LINUX.ENOENT);
    expect((error as KvmError).message).toBe(KVM_MISSING_MESSAGE);
  });

  it.skipIf(kvmPresent)('makes runIgvm reject with that message before touching the console', async () => {
    const b = new IgvmBuilder();
    b.addPlatform('NATIVE');
    b.addPageData(0x1000n, Uint8Array.of(0xf4));
    const file = parseIgvm(b.serialize());
    await expect(runIgvm(file, { memory: 64n << 20n, vcpus: 1, serial: 'stdio' })).rejects.toThrow(KVM_MISSING_MESSAGE);
  });

  it('validates the memory size before opening /dev/kvm', async () => {
    const b = new IgvmBuilder();
    b.addPlatform('NATIVE');
    b.addPageData(0x1000n, Uint8Array.of(0xf4));
    const file = parseIgvm(b.serialize());
    await expect(runIgvm(file, { memory: 1000n, vcpus: 1, serial: 'stdio' })).rejects.toThrow(/multiple of 4 KiB/);
  });
});
