/**
 * The vCPU thread's run loop: KVM_RUN, hand each exit to the main thread and apply its answer,
 * until told to park. Free of threads and KVM (both behind small interfaces) so that the tests can
 * drive it with scripted exits.
 */
import type { VcpuExit } from './kvm/exits.js';
import type { ExitReply } from './vcpu-protocol.js';

export interface LoopVcpu {
  run(): VcpuExit;
  completePendingIo(): void;
}

export interface LoopChannel {
  parkRequested(): boolean;
  /** Consume a pending kick signal, if any (sigtimedwait with a zero timeout). */
  consumeKick(): void;
  /** Send the exit to the main thread and wait for its reply. */
  ask(exit: VcpuExit): ExitReply;
}

export type ParkCause = 'command' | 'exit';

function needsCompletion(exit: VcpuExit): boolean {
  return exit.kind === 'io-in' || exit.kind === 'io-out' || exit.kind === 'mmio-read' || exit.kind === 'mmio-write';
}

/** Run until the main thread asks to park (`command`) or answers an exit with park (`exit`). */
export function runUntilParked(vcpu: LoopVcpu, channel: LoopChannel): ParkCause {
  for (;;) {
    if (channel.parkRequested()) {
      channel.consumeKick();
      return 'command';
    }
    const exit = vcpu.run();
    if (exit.kind === 'interrupted') {
      channel.consumeKick();
      continue;
    }
    const reply = channel.ask(exit);
    if ((exit.kind === 'io-in' || exit.kind === 'mmio-read') && reply.data) {
      exit.data.set(reply.data.subarray(0, exit.data.length));
    }
    if (reply.park) {
      // Finish the instruction now, so that state read or written while parked is consistent.
      if (needsCompletion(exit)) vcpu.completePendingIo();
      channel.consumeKick();
      return 'exit';
    }
  }
}
