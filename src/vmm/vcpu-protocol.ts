/**
 * The contract between the main thread and a vCPU thread (see vm-runner.ts for the design): what
 * each thread is given, the messages it sends (at start, park and failure only: exits are handled
 * on the vCPU thread itself), and the shared control block through which the main thread tells
 * it to park.
 */
import type { MmioStats, PioStats } from './devices/bus.js';
import type { ExitOutcome } from './exit-dispatch.js';
import type { PlatformState } from './platform.js';

/** Int32 slots of the control block. */
export const SLOT = {
  /** main -> vCPU: COMMAND_RUN or COMMAND_PARK, read after every exit and every kick. */
  COMMAND: 0,
} as const;

export const COMMAND_RUN = 0;
export const COMMAND_PARK = 1;

export function createControlBlock(): SharedArrayBuffer {
  return new SharedArrayBuffer(16);
}

export interface VcpuThreadInit {
  readonly fd: number;
  readonly id: number;
  readonly mmapSize: number;
  readonly control: SharedArrayBuffer;
  /** The signal that kicks the thread out of KVM_RUN. */
  readonly kickSignal: number;
  /** The VM fd, for KVM_IRQ_LINE from the UART. */
  readonly vmFd: number;
  /** The devices' shared state (platform.ts). */
  readonly platform: PlatformState;
  /** The console's OutputRing. */
  readonly console: SharedArrayBuffer;
}

export type ToVcpuThread = { readonly type: 'run' } | { readonly type: 'close' };

/** What this thread's device accesses found unclaimed, since the thread started. */
export interface BusStats {
  readonly pio: PioStats;
  readonly mmio: MmioStats;
}

export type FromVcpuThread =
  | { readonly type: 'ready'; readonly tid: number }
  /** Parked on command, or after an exit whose `outcome` (reset, stop, fault) is the main thread's to act on. */
  | { readonly type: 'parked'; readonly outcome?: ExitOutcome; readonly stats: BusStats }
  /** KVM_RUN or the thread failed; the thread is parked (or gone). */
  | { readonly type: 'failed'; readonly message: string; readonly stats: BusStats }
  | { readonly type: 'closed' };

export function setCommand(control: SharedArrayBuffer, command: typeof COMMAND_RUN | typeof COMMAND_PARK): void {
  Atomics.store(new Int32Array(control, 0, 4), SLOT.COMMAND, command);
}

export function parkRequested(control: SharedArrayBuffer): boolean {
  return Atomics.load(new Int32Array(control, 0, 4), SLOT.COMMAND) === COMMAND_PARK;
}
