/**
 * Kicking a vCPU thread out of KVM_RUN with a signal, the KVM_SET_SIGNAL_MASK way: the thread keeps
 * the kick signal blocked, and KVM_RUN runs with a mask that lets it through. A kick sent while
 * the thread is in KVM_RUN makes KVM_RUN return EINTR; one sent at any other time stays pending
 * (blocked) and makes the next KVM_RUN return EINTR at once. No handler ever runs: the thread
 * consumes the pending signal with sigtimedwait.
 */
import { libc, LINUX } from './bindings.js';

/** SIGUSR2: SIGUSR1 belongs to Node's inspector. */
export const KICK_SIGNAL = LINUX.SIGUSR2;

function sigset(signal: number): Uint8Array {
  const set = new Uint8Array(LINUX.SIGSET_T_SIZE);
  set[(signal - 1) >> 3]! |= 1 << ((signal - 1) & 7);
  return set;
}

/**
 * Block `signal` on the calling thread; returns the mask for KVM_RUN: the thread's previous mask
 * without `signal`, in the kernel's 8-byte form.
 */
export function blockKickSignal(signal: number = KICK_SIGNAL): Uint8Array {
  const c = libc();
  const old = new Uint8Array(LINUX.SIGSET_T_SIZE);
  const err = c.pthreadSigmask(LINUX.SIG_BLOCK, sigset(signal), old);
  if (err !== 0) throw new Error(`pthread_sigmask failed: ${c.strerror(err)}`);
  const kvmMask = old.slice(0, LINUX.KERNEL_SIGSET_SIZE);
  kvmMask[(signal - 1) >> 3]! &= ~(1 << ((signal - 1) & 7));
  return kvmMask;
}

/** Consume a pending `signal` without waiting; true if one was pending. */
export function consumeKick(signal: number = KICK_SIGNAL): boolean {
  const c = libc();
  const zero = new Uint8Array(LINUX.TIMESPEC_SIZE);
  if (c.sigtimedwait(sigset(signal), null, zero) === signal) return true;
  const errno = c.errno();
  if (errno !== LINUX.EAGAIN && errno !== LINUX.EINTR) throw new Error(`sigtimedwait failed: ${c.strerror(errno)}`);
  return false;
}

export function currentThreadId(): number {
  return libc().gettid();
}

/** Send the kick to thread `tid` of this process. */
export function kick(tid: number, signal: number = KICK_SIGNAL): void {
  const c = libc();
  if (c.tgkill(c.getpid(), tid, signal) !== 0) throw new Error(`tgkill(${tid}) failed: ${c.strerror(c.errno())}`);
}
