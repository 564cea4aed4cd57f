/** `Kvm`: the /dev/kvm handle (rust-vmm's `Kvm`): API version, capabilities, supported CPUID, VM creation. */
import { FLEXIBLE_ARRAYS, KVM_API_VERSION, KVM_CPUID_ENTRY2, KVM_IOCTL, type KvmCpuidEntry2 } from './abi.js';
import { check, libc, LINUX } from './bindings.js';
import { cpuid2Buffer, decodeCpuid2 } from './codecs.js';
import { KVM_MISSING_MESSAGE, KVM_PERMISSION_MESSAGE, KvmError } from './errors.js';
import { ioctlError, ioctlValue } from './ioctl.js';
import { Vm } from './vm.js';

export const KVM_DEVICE = '/dev/kvm';

/** The message for a failed open of the KVM device, by errno. */
export function openErrorMessage(errno: number, path = KVM_DEVICE): { code: KvmError['code']; message: string } {
  if (errno === LINUX.ENOENT && path === KVM_DEVICE) return { code: 'KvmMissing', message: KVM_MISSING_MESSAGE };
  if ((errno === LINUX.EACCES || errno === LINUX.EPERM) && path === KVM_DEVICE) {
    return { code: 'KvmPermission', message: KVM_PERMISSION_MESSAGE };
  }
  return { code: 'KvmOpen', message: `cannot open ${path}: ${libc().strerror(errno)} (errno ${errno})` };
}

export class Kvm {
  private closed = false;

  private constructor(readonly fd: number) {}

  /** Open the KVM device and check its API version. */
  static open(path = KVM_DEVICE): Kvm {
    const c = libc();
    const fd = c.open(path, LINUX.O_RDWR | LINUX.O_CLOEXEC);
    if (fd < 0) {
      const errno = c.errno();
      const { code, message } = openErrorMessage(errno, path);
      throw new KvmError(code, message, errno);
    }
    const kvm = new Kvm(fd);
    const version = c.ioctlValue(fd, KVM_IOCTL.KVM_GET_API_VERSION, 0);
    if (version !== KVM_API_VERSION) {
      kvm.close();
      throw new KvmError('KvmApiVersion', `KVM API version ${version} is not supported (igvm-ts needs ${KVM_API_VERSION})`);
    }
    return kvm;
  }

  /** KVM_CHECK_EXTENSION: 0 when absent, else a capability-specific positive value. */
  checkExtension(cap: number): number {
    return Math.max(0, libc().ioctlValue(this.fd, KVM_IOCTL.KVM_CHECK_EXTENSION, cap));
  }

  requireExtension(cap: number, name: string): number {
    const value = this.checkExtension(cap);
    if (value <= 0) throw new KvmError('MissingCapability', `this KVM lacks ${name}, which igvm-ts needs`);
    return value;
  }

  vcpuMmapSize(): number {
    return ioctlValue(this.fd, 'KVM_GET_VCPU_MMAP_SIZE');
  }

  /** KVM_GET_SUPPORTED_CPUID, growing the buffer while KVM answers E2BIG. */
  supportedCpuid(): KvmCpuidEntry2[] {
    const c = libc();
    for (let capacity = 128; capacity <= 4096; capacity *= 2) {
      const buffer = cpuid2Buffer(capacity);
      if (c.ioctl(this.fd, KVM_IOCTL.KVM_GET_SUPPORTED_CPUID, buffer) === 0) return decodeCpuid2(buffer);
      const errno = c.errno();
      if (errno !== LINUX.E2BIG) throw ioctlError('KVM_GET_SUPPORTED_CPUID', errno);
    }
    throw new KvmError('IoctlFailed', `KVM_GET_SUPPORTED_CPUID needs more than 4096 entries of ${KVM_CPUID_ENTRY2.size} bytes (+${FLEXIBLE_ARRAYS['kvm_cpuid2.entries']})`);
  }

  createVm(): Vm {
    return new Vm(ioctlValue(this.fd, 'KVM_CREATE_VM'), this.vcpuMmapSize());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    check('close(/dev/kvm)', libc().close(this.fd));
  }
}
