/**
 * Kicking a vCPU thread out of KVM_RUN with a signal, the KVM_SET_SIGNAL_MASK way: the thread keeps
 * the kick signal blocked, and KVM_RUN runs with a mask that lets it through. A kick sent while
 * the thread is in KVM_RUN makes KVM_RUN return EINTR; one sent at any other time stays pending
 * (blocked) and makes the next KVM_RUN return EINTR at once, so none is lost. The thread consumes
 * the pending signal with sigtimedwait.
 *
 * The kick is a real-time signal whose disposition is "ignore" for the whole process, so that the
 * same signal sent to the process from outside (`kill -RTMIN+6 <pid>`) reaches a thread that does
 * not block it and is discarded, where the default action would end the VMM. Ignoring costs the
 * kick nothing: the kernel never discards a signal the target thread blocks (or blocked before
 * KVM_RUN swapped its mask, the `real_blocked` set), it keeps it pending instead. No handler is
 * needed, so none runs on a thread that is executing JavaScript.
 */
import { libc, LINUX } from './bindings.js';

/** SIGRTMIN + 6: a real-time signal that neither Node, libuv nor glibc use (SIGUSR1 is Node's inspector's). */
export const KICK_SIGNAL = LINUX.SIGRTMIN + 6;

const ignoring = new Set<number>();

/** Make `signal` ignored process-wide (idempotent). */
export function ignoreKickSignal(signal: number = KICK_SIGNAL): void {
  if (ignoring.has(signal)) return;
  const c = libc();
  const action = new Uint8Array(LINUX.SIGACTION_SIZE);
  const view = new DataView(action.buffer);
  view.setBigUint64(0, BigInt(LINUX.SIG_IGN), true);
  view.setInt32(LINUX.SIGACTION_FLAGS_OFFSET, LINUX.SA_RESTART, true);
  if (c.sigaction(signal, action, null) !== 0) throw new Error(`sigaction(${signal}) failed: ${c.strerror(c.errno())}`);
  ignoring.add(signal);
}

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
  ignoreKickSignal(signal);
  const c = libc();
  const old = new Uint8Array(LINUX.SIGSET_T_SIZE);
  const err = c.pthreadSigmask(LINUX.SIG_BLOCK, sigset(signal), old);
  if (err !== 0) throw new Error(`pthread_sigmask failed: ${c.strerror(err)}`);
  const kvmMask = old.slice(0, LINUX.KERNEL_SIGSET_SIZE);
  kvmMask[(signal - 1) >> 3]! &= ~(1 << ((signal - 1) & 7));
  return kvmMask;
}

/** Consume every pending `signal` (real-time signals queue, one per kick) without waiting; true if any was pending. */
export function consumeKick(signal: number = KICK_SIGNAL): boolean {
  const c = libc();
  const zero = new Uint8Array(LINUX.TIMESPEC_SIZE);
  const set = sigset(signal);
  let consumed = false;
  for (;;) {
    if (c.sigtimedwait(set, null, zero) === signal) {
      consumed = true;
      continue;
    }
    const errno = c.errno();
    if (errno === LINUX.EAGAIN) return consumed;
    if (errno !== LINUX.EINTR) throw new Error(`sigtimedwait failed: ${c.strerror(errno)}`);
  }
}

export function currentThreadId(): number {
  return libc().gettid();
}

/** Send the kick to thread `tid` of this process. */
export function kick(tid: number, signal: number = KICK_SIGNAL): void {
  ignoreKickSignal(signal);
  const c = libc();
  if (c.tgkill(c.getpid(), tid, signal) !== 0) throw new Error(`tgkill(${tid}) failed: ${c.strerror(c.errno())}`);
}
