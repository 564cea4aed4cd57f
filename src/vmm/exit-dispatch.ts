/**
 * What a vCPU exit means for the machine: port I/O goes to the device bus, unclaimed MMIO reads as
 * all ones, and exits that end or restart the machine become an outcome for the runner. Devices ask
 * for a reset or an exit through `SystemRequests`, which the dispatcher turns into the outcome of
 * the exit that caused it. Runs on the main thread; the tests drive it with hand-made exits.
 */
import { describeExit, type VcpuExit } from './kvm/exits.js';
import type { PioBus } from './devices/pio-bus.js';

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

export interface MmioStats {
  readonly reads: number;
  readonly writes: number;
  /** Unclaimed MMIO addresses, most accessed first (at most 16). */
  readonly addresses: readonly { readonly address: bigint; readonly count: number }[];
}

const CONTINUE: ExitOutcome = { kind: 'continue' };

export class ExitDispatcher {
  private mmioReads = 0;
  private mmioWrites = 0;
  private readonly mmioAddresses = new Map<bigint, number>();

  constructor(
    private readonly pio: PioBus,
    private readonly requests: SystemRequests,
  ) {}

  /** Handle one exit. For io-in and mmio-read, the answer is written into `exit.data`. */
  dispatch(exit: VcpuExit): ExitOutcome {
    switch (exit.kind) {
      case 'io-in':
        this.pio.handleIn(exit.port, exit.size, exit.count, exit.data);
        return this.afterDevices();
      case 'io-out':
        this.pio.handleOut(exit.port, exit.size, exit.count, exit.data);
        return this.afterDevices();
      case 'mmio-read':
        exit.data.fill(0xff);
        this.mmioReads++;
        this.countMmio(exit.address);
        return CONTINUE;
      case 'mmio-write':
        this.mmioWrites++;
        this.countMmio(exit.address);
        return CONTINUE;
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
    const addresses = [...this.mmioAddresses]
      .map(([address, count]) => ({ address, count }))
      .sort((a, b) => b.count - a.count)
      .slice(0, 16);
    return { reads: this.mmioReads, writes: this.mmioWrites, addresses };
  }

  private afterDevices(): ExitOutcome {
    const request = this.requests.take();
    if (!request) return CONTINUE;
    if (request.kind === 'reset') return { kind: 'reset', cause: request.cause, diagnose: false };
    return { kind: 'stop', status: request.status, reason: request.reason };
  }

  private countMmio(address: bigint): void {
    this.mmioAddresses.set(address, (this.mmioAddresses.get(address) ?? 0) + 1);
  }
}
