/**
 * The vCPU thread's run loop: KVM_RUN, handle each exit right here (devices under the device
 * lock, see vcpu-thread.ts), until told to park or an exit needs the main thread (a reset or a
 * stop). Free of threads and KVM (both behind small interfaces) so that the tests can drive it
 * with scripted exits.
 */
import type { ExitOutcome } from './exit-dispatch.js';
import type { VcpuExit } from './kvm/exits.js';

export interface LoopVcpu {
  run(): VcpuExit;
  completePendingIo(): void;
}

export interface LoopChannel {
  parkRequested(): boolean;
  /** Consume a pending kick signal, if any (sigtimedwait with a zero timeout). */
  consumeKick(): void;
  /** Handle the exit on this thread: fill in read data, run the devices, say what follows. */
  handle(exit: VcpuExit): ExitOutcome;
}

/** Why the loop returned: the main thread asked, or an exit's outcome is for the main thread. */
export type Parked = { readonly cause: 'command' } | { readonly cause: 'exit'; readonly outcome: ExitOutcome };

function needsCompletion(exit: VcpuExit): boolean {
  return exit.kind === 'io-in' || exit.kind === 'io-out' || exit.kind === 'mmio-read' || exit.kind === 'mmio-write';
}

export function runUntilParked(vcpu: LoopVcpu, channel: LoopChannel): Parked {
  for (;;) {
    if (channel.parkRequested()) {
      channel.consumeKick();
      return { cause: 'command' };
    }
    const exit = vcpu.run();
    if (exit.kind === 'interrupted') {
      channel.consumeKick();
      continue;
    }
    const outcome = channel.handle(exit);
    if (outcome.kind === 'continue') continue;
    // Finish the instruction now, so that state read or written while parked is consistent.
    if (needsCompletion(exit)) vcpu.completePendingIo();
    channel.consumeKick();
    return { cause: 'exit', outcome };
  }
}
