/**
 * The libc calls the VMM makes, through koffi. Loaded on first use, so that importing the VMM costs
 * nothing (and cannot fail) on a host that never runs a VM. Linux x86-64 only: the constants in
 * LINUX are that ABI's values (test/vmm/abi.test.ts checks them against the C headers).
 */
import { createRequire } from 'node:module';

type Koffi = typeof import('koffi');

/** An opaque native pointer as koffi hands it out. */
export type NativePointer = { readonly __nativePointer: unique symbol };

export const LINUX = {
  O_RDWR: 0o2,
  O_CLOEXEC: 0o2000000,
  PROT_READ: 0x1,
  PROT_WRITE: 0x2,
  MAP_SHARED: 0x01,
  MAP_PRIVATE: 0x02,
  MAP_ANONYMOUS: 0x20,
  MAP_NORESERVE: 0x4000,
  MADV_DONTNEED: 4,
  SIG_BLOCK: 0,
  SIG_UNBLOCK: 1,
  SIG_SETMASK: 2,
  SIGUSR2: 12,
  /** glibc's SIGRTMIN (the kernel's 32 and 33 belong to NPTL). */
  SIGRTMIN: 34,
  SIG_IGN: 1,
  SA_RESTART: 0x10000000,
  /** sizeof(struct sigaction) in glibc x86-64: handler, sigset_t, flags (+ padding), restorer. */
  SIGACTION_SIZE: 152,
  SIGACTION_FLAGS_OFFSET: 136,
  ENOENT: 2,
  EINTR: 4,
  E2BIG: 7,
  EAGAIN: 11,
  EACCES: 13,
  EPERM: 1,
  /** sizeof(sigset_t) in glibc; the kernel's own sigset (KVM_SET_SIGNAL_MASK) is 8 bytes. */
  SIGSET_T_SIZE: 128,
  KERNEL_SIGSET_SIZE: 8,
  TIMESPEC_SIZE: 16,
} as const;

export interface Libc {
  open(path: string, flags: number): number;
  close(fd: number): number;
  /** ioctl with a pointer argument (the struct's bytes are read and written in place). */
  ioctl(fd: number, request: number, arg: Uint8Array): number;
  /** ioctl with an integer argument (or none: pass 0). */
  ioctlValue(fd: number, request: number, value: number | bigint): number;
  /** undefined for MAP_FAILED. */
  mmap(length: number, prot: number, flags: number, fd: number, offset: number): NativePointer | undefined;
  munmap(ptr: NativePointer, length: number): number;
  madvise(ptr: NativePointer, length: number, advice: number): number;
  getpid(): number;
  gettid(): number;
  tgkill(tgid: number, tid: number, signal: number): number;
  /** Returns an error number (0 on success), not -1/errno. */
  pthreadSigmask(how: number, set: Uint8Array | null, old: Uint8Array | null): number;
  sigtimedwait(set: Uint8Array, info: Uint8Array | null, timeout: Uint8Array): number;
  sigaction(signal: number, action: Uint8Array | null, old: Uint8Array | null): number;
  /** errno of the last call made through these bindings on this thread. */
  errno(): number;
  strerror(errnum: number): string;
  /** An ArrayBuffer over native memory (no copy); at most VIEW_LIMIT bytes. */
  view(ptr: NativePointer, length: number): ArrayBuffer;
  address(ptr: NativePointer): bigint;
  /** `ptr + offset` (koffi has no pointer arithmetic: the address is decoded back into a pointer). */
  offset(ptr: NativePointer, offset: number): NativePointer;
}

/** koffi (V8) aborts on external ArrayBuffers much larger than this, so views are chunked. */
export const VIEW_LIMIT = 1 << 30;

const MAP_FAILED = (1n << 64n) - 1n;

let loaded: Libc | undefined;

export class NativeUnavailableError extends Error {
  override readonly name = 'NativeUnavailableError';
}

export function libc(): Libc {
  loaded ??= load();
  return loaded;
}

function load(): Libc {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new NativeUnavailableError(`the VMM runs on Linux x86-64 only (this is ${process.platform}/${process.arch})`);
  }
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (e) {
    throw new NativeUnavailableError(`cannot load koffi, the FFI the VMM needs: ${(e as Error).message}`);
  }
  const lib = koffi.load('libc.so.6');
  const open = lib.func('int open(const char *path, int flags, ...)') as (path: string, flags: number) => number;
  const close = lib.func('int close(int fd)') as (fd: number) => number;
  const ioctl = lib.func('int ioctl(int fd, unsigned long request, ...)') as (
    fd: number,
    request: number,
    type: string,
    arg: Uint8Array | number | bigint,
  ) => number;
  const mmap = lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)') as (
    addr: null,
    length: number,
    prot: number,
    flags: number,
    fd: number,
    offset: number,
  ) => NativePointer | null;
  const munmap = lib.func('int munmap(void *addr, size_t length)') as (p: NativePointer, n: number) => number;
  const madvise = lib.func('int madvise(void *addr, size_t length, int advice)') as (p: NativePointer, n: number, a: number) => number;
  const getpid = lib.func('int getpid(void)') as () => number;
  const gettid = lib.func('int gettid(void)') as () => number;
  const tgkill = lib.func('int tgkill(int tgid, int tid, int sig)') as (tgid: number, tid: number, sig: number) => number;
  const sigmask = lib.func('int pthread_sigmask(int how, const void *set, void *old)') as (
    how: number,
    set: Uint8Array | null,
    old: Uint8Array | null,
  ) => number;
  const sigtimedwait = lib.func('int sigtimedwait(const void *set, void *info, const void *timeout)') as (
    set: Uint8Array,
    info: Uint8Array | null,
    timeout: Uint8Array,
  ) => number;
  const sigaction = lib.func('int sigaction(int sig, const void *act, void *oldact)') as (
    sig: number,
    act: Uint8Array | null,
    old: Uint8Array | null,
  ) => number;
  const strerror = lib.func('const char *strerror(int errnum)') as (errnum: number) => string;

  const address = (p: NativePointer) => koffi.address(p) as bigint;
  return {
    open,
    close,
    ioctl: (fd, request, arg) => ioctl(fd, request, 'void *', arg),
    ioctlValue: (fd, request, value) => ioctl(fd, request, 'unsigned long', value),
    mmap(length, prot, flags, fd, offset) {
      const p = mmap(null, length, prot, flags, fd, offset);
      return p === null || address(p) === MAP_FAILED ? undefined : p;
    },
    munmap,
    madvise,
    getpid,
    gettid,
    tgkill,
    pthreadSigmask: sigmask,
    sigtimedwait,
    sigaction,
    errno: () => koffi.errno(),
    strerror,
    view(p, length) {
      if (length > VIEW_LIMIT) throw new RangeError(`native views are limited to ${VIEW_LIMIT} bytes, asked for ${length}`);
      return koffi.view(p, length);
    },
    address,
    offset(p, offset) {
      return koffi.decode(new BigUint64Array([address(p) + BigInt(offset)]), 'void *') as NativePointer;
    },
  };
}

/** A failed system call: `op` names it, `errno` says why. */
export class SyscallError extends Error {
  override readonly name = 'SyscallError';
  constructor(
    readonly op: string,
    readonly errno: number,
    message?: string,
  ) {
    super(message ?? `${op} failed: ${libc().strerror(errno)} (errno ${errno})`);
  }
}

/** Throw a SyscallError for a -1 result, else return the result. */
export function check(op: string, result: number): number {
  if (result === -1) throw new SyscallError(op, libc().errno());
  return result;
}
