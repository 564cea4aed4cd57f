/**
 * What a vCPU exit means for the machine: port I/O and MMIO go to the device bus (unclaimed MMIO
 * reads as all ones), and exits that end or restart the machine become an outcome for the runner.
 * Devices ask for a reset or an exit through `SystemRequests`, which the dispatcher turns into the
 * outcome of the exit that caused it. Runs on the vCPU thread that exited (the caller holds the
 * device lock around device exits); the tests drive it with hand-made exits.
 */
import { describeExit, type VcpuExit } from './kvm/exits.js';
import type { DeviceBus, MmioStats } from './devices/bus.js';

export type { MmioStats } from './devices/bus.js';

export type ExitOutcome =
  | { readonly kind: 'continue' }
  /** A guest-requested reset; `diagnose` asks for the vCPU's registers in the log (a triple fault). */
  | { readonly kind: 'reset'; readonly cause: string; readonly diagnose: boolean }
  | { readonly kind: 'stop'; readonly status: number; readonly reason: string }
  /** Something went wrong: the runner stops with the vCPU's registers in the reason. */
  | { readonly kind: 'fault'; readonly reason: string };

export type SystemRequest =
  | { readonly kind: 'reset'; readonly cause: string }
  | { readonly kind: 'exit'; readonly status: number; readonly reason: string };

/** Where devices post reset and exit requests; the first request of an exit wins. */
export class SystemRequests {
  private pending: SystemRequest | undefined;

  reset(cause: string): void {
    this.pending ??= { kind: 'reset', cause };
  }

  exit(status: number, reason: string): void {
    this.pending ??= { kind: 'exit', status, reason };
  }

  take(): SystemRequest | undefined {
    const r = this.pending;
    this.pending = undefined;
    return r;
  }
}

const CONTINUE: ExitOutcome = { kind: 'continue' };

export class ExitDispatcher {
  constructor(
    private readonly bus: DeviceBus,
    private readonly requests: SystemRequests,
  ) {}

  /** Handle one exit. For io-in and mmio-read, the answer is written into `exit.data`. */
  dispatch(exit: VcpuExit): ExitOutcome {
    switch (exit.kind) {
      case 'io-in':
        this.bus.handleIn(exit.port, exit.size, exit.count, exit.data);
        return this.afterDevices();
      case 'io-out':
        this.bus.handleOut(exit.port, exit.size, exit.count, exit.data);
        return this.afterDevices();
      case 'mmio-read':
        this.bus.handleMmioRead(exit.address, exit.data);
        return this.afterDevices();
      case 'mmio-write':
        this.bus.handleMmioWrite(exit.address, exit.data);
        return this.afterDevices();
      case 'interrupted':
        return CONTINUE;
      case 'shutdown':
        return { kind: 'reset', cause: 'triple fault (KVM_EXIT_SHUTDOWN)', diagnose: true };
      case 'system-event':
        if (exit.type === 'reset') return { kind: 'reset', cause: 'KVM_SYSTEM_EVENT_RESET', diagnose: false };
        if (exit.type === 'shutdown') return { kind: 'stop', status: 0, reason: 'the guest powered off (KVM_SYSTEM_EVENT_SHUTDOWN)' };
        if (exit.type === 'crash') return { kind: 'fault', reason: 'the guest crashed (KVM_SYSTEM_EVENT_CRASH)' };
        return { kind: 'fault', reason: `unexpected ${describeExit(exit)}` };
      case 'hlt':
        return { kind: 'fault', reason: 'unexpected KVM_EXIT_HLT (the in-kernel local APIC handles HLT)' };
      case 'fail-entry':
        return { kind: 'fault', reason: `the CPU refused to enter the guest: ${describeExit(exit)}` };
      case 'internal-error':
        return { kind: 'fault', reason: describeExit(exit) };
      case 'unknown':
        return { kind: 'fault', reason: `unhandled exit: ${describeExit(exit)}` };
    }
  }

  get mmioStats(): MmioStats {
    return this.bus.mmioStats;
  }

  private afterDevices(): ExitOutcome {
    const request = this.requests.take();
    if (!request) return CONTINUE;
    if (request.kind === 'reset') return { kind: 'reset', cause: request.cause, diagnose: false };
    return { kind: 'stop', status: request.status, reason: request.reason };
  }
}
