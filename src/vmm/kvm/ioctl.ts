/** Checked ioctl calls by name: a failure becomes a KvmError naming the ioctl and errno. */
import { KVM_IOCTL, type KvmIoctlName } from './abi.js';
import { libc } from './bindings.js';
import { KvmError } from './errors.js';

export function ioctlError(name: KvmIoctlName, errno = libc().errno()): KvmError {
  return new KvmError('IoctlFailed', `${name} failed: ${libc().strerror(errno)} (errno ${errno})`, errno);
}

/** ioctl with a struct argument; returns the (non-negative) result. */
export function ioctlStruct(fd: number, name: KvmIoctlName, arg: Uint8Array): number {
  const r = libc().ioctl(fd, KVM_IOCTL[name], arg);
  if (r < 0) throw ioctlError(name);
  return r;
}

/** ioctl with an integer argument; returns the (non-negative) result. */
export function ioctlValue(fd: number, name: KvmIoctlName, value: number | bigint = 0): number {
  const r = libc().ioctlValue(fd, KVM_IOCTL[name], value);
  if (r < 0) throw ioctlError(name);
  return r;
}
