/**
 * The main thread's handle on one vCPU thread: start it, let it run, park it (command + kick),
 * close it. The thread handles its exits itself; this side hears only of parks (with the outcome
 * that needs the main thread, if any) and failures. Tracks whether the thread is running, so the
 * runner knows when every vCPU is parked and the vCPU fds may be used from the main thread.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ExitOutcome } from './exit-dispatch.js';
import { kick, KICK_SIGNAL } from './kvm/kick.js';
import type { PlatformState } from './platform.js';
import {
  COMMAND_PARK,
  COMMAND_RUN,
  createControlBlock,
  setCommand,
  type BusStats,
  type FromVcpuThread,
  type ToVcpuThread,
  type VcpuThreadInit,
} from './vcpu-protocol.js';

export interface VcpuHostEvents {
  /** The thread parked; `outcome` is the reset or stop an exit asked for (none when parked on command). */
  onParked(index: number, outcome: ExitOutcome | undefined, stats: BusStats): void;
  /** The thread failed; it is parked or gone. */
  onFailed(index: number, message: string, stats?: BusStats): void;
}

/** What every vCPU thread of a machine shares. */
export interface SharedMachine {
  readonly vmFd: number;
  readonly platform: PlatformState;
  /** The console's OutputRing. */
  readonly console: SharedArrayBuffer;
}

/**
 * The compiled worker script. Running from TypeScript sources (the tests), the worker still needs
 * JavaScript: the build's dist/vmm/vcpu-thread.js (`npm run build`).
 */
export function vcpuThreadScript(): URL {
  const here = new URL('./vcpu-thread.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL('../../dist/vmm/vcpu-thread.js', import.meta.url);
  if (import.meta.url.endsWith('.ts') && existsSync(fileURLToPath(built))) return built;
  throw new Error(`the vCPU thread script ${fileURLToPath(here)} is missing; run \`npm run build\``);
}

type State = 'starting' | 'parked' | 'running' | 'closing' | 'gone';

export class VcpuHost {
  private readonly control = createControlBlock();
  private readonly worker: Worker;
  private tid: number | undefined;
  private state: State = 'starting';
  private readonly ready: Promise<void>;
  private readonly exited: Promise<void>;

  constructor(
    readonly index: number,
    fd: number,
    mmapSize: number,
    shared: SharedMachine,
    private readonly events: VcpuHostEvents,
    script: URL = vcpuThreadScript(),
    /** Sets the vCPU's kvm_run.immediate_exit, with each kick. */
    private readonly immediateExit: () => void = () => undefined,
  ) {
    const init: VcpuThreadInit = { fd, id: index, mmapSize, control: this.control, kickSignal: KICK_SIGNAL, ...shared };
    this.worker = new Worker(script, { workerData: init });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.ready = new Promise((resolve, reject) => {
      this.worker.on('message', (m: FromVcpuThread) => {
        if (m.type === 'ready') {
          this.tid = m.tid;
          this.state = 'parked';
          resolve();
        } else this.onMessage(m);
      });
      this.worker.on('error', (e: Error) => {
        if (this.state === 'starting') reject(e);
        else this.fail(`vCPU ${index} thread crashed: ${e.message}`);
      });
      this.worker.on('exit', (code: number) => {
        const before = this.state;
        this.state = 'gone';
        if (before === 'starting') reject(new Error(`vCPU ${index} thread exited (code ${code}) before it was ready`));
        else if (before !== 'closing') this.events.onFailed(index, `vCPU ${index} thread exited unexpectedly (code ${code})`);
      });
    });
  }

  /** Resolves once the thread has blocked the kick signal and mapped kvm_run. */
  started(): Promise<void> {
    return this.ready;
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  run(): void {
    if (this.state !== 'parked') return;
    setCommand(this.control, COMMAND_RUN);
    this.state = 'running';
    this.send({ type: 'run' });
  }

  /** Ask the thread to park; `onParked` follows. Safe to repeat (each call kicks again). */
  park(): void {
    setCommand(this.control, COMMAND_PARK);
    if (this.state !== 'running' || this.tid === undefined) return;
    try {
      this.immediateExit();
      kick(this.tid);
    } catch (e) {
      this.fail(`cannot kick vCPU ${this.index} out of KVM_RUN: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Let the (parked) thread unmap kvm_run and end. */
  async close(): Promise<void> {
    if (this.state === 'parked') {
      this.state = 'closing';
      this.send({ type: 'close' });
    } else if (this.state === 'starting') {
      this.state = 'closing';
      await this.worker.terminate();
    }
    await this.exited;
  }

  /** Last resort (and for threads that never started): terminate the worker. */
  async terminate(): Promise<void> {
    if (this.state !== 'gone') this.state = 'closing';
    await this.worker.terminate();
    await this.exited;
  }

  private send(message: ToVcpuThread): void {
    this.worker.postMessage(message);
  }

  private fail(message: string, stats?: BusStats): void {
    if (this.state === 'running') this.state = 'parked';
    this.events.onFailed(this.index, message, stats);
  }

  private onMessage(m: FromVcpuThread): void {
    switch (m.type) {
      case 'parked':
        if (this.state === 'running') this.state = 'parked';
        this.events.onParked(this.index, m.outcome, m.stats);
        return;
      case 'failed':
        this.fail(m.message, m.stats);
        return;
      case 'ready':
      case 'closed':
        return;
    }
  }
}
