/**
 * One run of a machine (vm-runner.ts describes the design): the vCPU threads, the devices and the
 * console; boots, resets and the stop with its result. Every method runs on the main thread.
 */
import { writeFileSync } from 'node:fs';
import type { BootCpuState } from '../arch/x86/boot-state.js';
import type { ParsedIgvm } from '../format/model.js';
import { loadIgvm, type GuestMachine, type LoadReport } from '../loader/index.js';
import { SerialConsole, type SerialTarget } from './console.js';
import { ExitDispatcher, SystemRequests, type ExitOutcome, type MmioStats } from './exit-dispatch.js';
import type { PioStats } from './devices/pio-bus.js';
import type { KvmRegs } from './kvm/abi.js';
import type { KvmSregs } from './kvm/codecs.js';
import type { VcpuExit } from './kvm/exits.js';
import { createPlatform, type Platform } from './platform.js';
import { formatRegisters } from './registers.js';
import { VcpuHost, type VcpuHostEvents } from './vcpu-host.js';
import type { ExitReply } from './vcpu-protocol.js';

export interface RunOptions {
  readonly memory: bigint;
  readonly vcpus: number;
  readonly serial: SerialTarget;
  readonly cmdline?: string;
  readonly noReboot?: boolean;
  readonly timeoutMs?: number;
  /** Write each boot's LoadReport here (JSON). */
  readonly reportPath?: string;
  /** Diagnostics (resets, register dumps, I/O floods). Default: stderr, prefixed `igvm: `. */
  readonly log?: (line: string) => void;
}

export interface RunResult {
  readonly exitStatus: number;
  readonly reason: string;
  /** The LoadReport of the last boot. */
  readonly report: LoadReport;
  readonly boots: number;
  readonly stats: { readonly pio: PioStats; readonly mmio: MmioStats };
}

/** Exit statuses of stops the guest did not ask for, as timeout(1) and shells report them. */
export const EXIT_STATUS = { FAULT: 1, TIMEOUT: 124, SIGINT: 130, SIGTERM: 143 } as const;

/** Unclaimed port accesses from this many on are reported when the run ends. */
const FLOOD = 1000;
const REKICK_MS = 50;

/** What the runner needs of the machine: a KvmMachine, or a stand-in in the tests. */
export interface VmBackend {
  readonly memory: GuestMachine;
  readonly vcpus: readonly { readonly fd: number; readonly mmapSize: number }[];
  readonly cpuidVersion: number | undefined;
  applyBootState(bootCpu: BootCpuState): void;
  irqLine(irq: number, level: boolean): void;
  registers(index: number): { regs: KvmRegs; sregs: KvmSregs };
}

type Pending =
  | { readonly kind: 'reset'; readonly cause: string; readonly diagnose: number | undefined }
  | { readonly kind: 'stop'; readonly status: number; readonly reason: string; readonly registersOf: number | 'all' | undefined };

/** The reply for an exit handled on the main thread: the read data, or nothing. */
export function replyFor(exit: VcpuExit, outcome: ExitOutcome): ExitReply {
  if (outcome.kind !== 'continue') return { park: true };
  return exit.kind === 'io-in' || exit.kind === 'mmio-read' ? { park: false, data: exit.data } : { park: false };
}

export class RunSession implements VcpuHostEvents {
  private readonly requests = new SystemRequests();
  private readonly console: SerialConsole;
  private readonly platform: Platform;
  private readonly dispatcher: ExitDispatcher;
  private readonly log: (line: string) => void;
  private hosts: VcpuHost[] = [];
  private phase: 'starting' | 'running' | 'parking' | 'finished' = 'starting';
  private pending: Pending | undefined;
  private boots = 0;
  private report: LoadReport | undefined;
  private settle: { resolve: (r: RunResult) => void; reject: (e: unknown) => void } | undefined;
  private readonly cleanups: (() => void)[] = [];
  private rekick: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: ParsedIgvm,
    private readonly machine: VmBackend,
    private readonly options: RunOptions,
    private readonly threadScript: URL | undefined,
  ) {
    this.log = options.log ?? ((line) => process.stderr.write(`igvm: ${line}\n`));
    this.console = new SerialConsole(options.serial, {
      onQuit: () => this.requestStop(0, 'quit from the console (Ctrl-A x)'),
      notice: (text) => process.stderr.write(text),
    });
    this.platform = createPlatform({
      requests: this.requests,
      serialOut: (byte) => this.console.write(byte),
      irqLine: (irq, level) => machine.irqLine(irq, level),
    });
    this.dispatcher = new ExitDispatcher(this.platform.bus, this.requests);
  }

  async run(): Promise<RunResult> {
    const done = new Promise<RunResult>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.hosts = this.machine.vcpus.map((v, i) => new VcpuHost(i, v.fd, v.mmapSize, this, this.threadScript));
    await Promise.all(this.hosts.map((h) => h.started()));
    this.console.attachInput((bytes) => this.platform.uart.receive(bytes));
    this.watchSignals();
    if (this.options.timeoutMs !== undefined) {
      const ms = this.options.timeoutMs;
      // Where every vCPU was tells a hang from a slow guest.
      const timer = setTimeout(() => this.requestStop(EXIT_STATUS.TIMEOUT, `timed out after ${ms} ms`, 'all'), ms);
      this.cleanups.push(() => clearTimeout(timer));
    }
    this.boot();
    return done;
  }

  // ---- VcpuHostEvents (main thread, synchronous) ----

  onExit(index: number, exit: VcpuExit): ExitReply {
    if (this.phase !== 'running') return { park: true };
    let outcome: ExitOutcome;
    try {
      outcome = this.dispatcher.dispatch(exit);
    } catch (e) {
      outcome = { kind: 'fault', reason: `internal error handling ${exit.kind}: ${e instanceof Error ? e.message : String(e)}` };
    }
    switch (outcome.kind) {
      case 'reset':
        this.requestReset(outcome.cause, outcome.diagnose ? index : undefined);
        break;
      case 'stop':
        this.requestStop(outcome.status, outcome.reason);
        break;
      case 'fault':
        this.requestStop(EXIT_STATUS.FAULT, `vCPU ${index}: ${outcome.reason}`, index);
        break;
      case 'continue':
        break;
    }
    return replyFor(exit, outcome);
  }

  onParked(): void {
    this.afterPark();
  }

  onFailed(index: number, message: string): void {
    this.requestStop(EXIT_STATUS.FAULT, message, index);
    this.afterPark();
  }

  // ---- boot, reset, stop ----

  /** Load the file and start every vCPU. RAM keeps its contents across resets (a warm reset, as QEMU). */
  private boot(): void {
    const machine = this.machine;
    this.platform.bus.reset();
    const { report, bootCpu } = loadIgvm(this.file, machine.memory, {
      ...(this.options.cmdline !== undefined ? { cmdline: this.options.cmdline } : {}),
      ...(machine.cpuidVersion !== undefined ? { cpuidVersion: machine.cpuidVersion } : {}),
    });
    this.report = report;
    if (this.options.reportPath) writeFileSync(this.options.reportPath, `${toJson(report)}\n`);
    machine.applyBootState(bootCpu);
    this.boots++;
    this.phase = 'running';
    for (const h of this.hosts) h.run();
  }

  private requestReset(cause: string, diagnose: number | undefined): void {
    if (this.options.noReboot) {
      this.requestStop(0, `the guest requested a reset (${cause}); not rebooting`, diagnose);
      return;
    }
    if (this.pending || this.phase === 'finished') return;
    this.pending = { kind: 'reset', cause, diagnose };
    this.parkAll();
  }

  /** Stop the machine; `registersOf` adds that vCPU's (or every vCPU's) registers to the reason. A stop overrides a pending reset. */
  private requestStop(status: number, reason: string, registersOf?: number | 'all'): void {
    if (this.pending?.kind === 'stop' || this.phase === 'finished') return;
    this.pending = { kind: 'stop', status, reason, registersOf };
    this.parkAll();
  }

  private parkAll(): void {
    this.phase = 'parking';
    for (const h of this.hosts) h.park();
    // Kicks cannot get lost (see vm-runner.ts); repeating them only guards against the unforeseen.
    this.rekick ??= setInterval(() => this.hosts.filter((h) => h.isRunning).forEach((h) => h.park()), REKICK_MS);
    this.afterPark();
  }

  private afterPark(): void {
    if (this.phase !== 'parking' || this.hosts.some((h) => h.isRunning)) return;
    clearInterval(this.rekick);
    this.rekick = undefined;
    const pending = this.pending;
    this.pending = undefined;
    if (!pending) return;
    try {
      if (pending.kind === 'reset') {
        this.log(`guest reset: ${pending.cause}; booting again`);
        if (pending.diagnose !== undefined) this.log(`vCPU ${pending.diagnose} before the reset:\n${this.registers(pending.diagnose)}`);
        this.boot();
        return;
      }
      this.finish(pending.status, this.withRegisters(pending.reason, pending.registersOf));
    } catch (e) {
      this.phase = 'finished';
      this.settle?.reject(e);
    }
  }

  private withRegisters(reason: string, which: number | 'all' | undefined): string {
    if (which === undefined) return reason;
    const indexes = which === 'all' ? this.hosts.map((_, i) => i) : [which];
    return [reason, ...indexes.map((i) => `vCPU ${i} registers:\n${this.registers(i)}`)].join('\n');
  }

  private registers(index: number): string {
    try {
      const { regs, sregs } = this.machine.registers(index);
      return formatRegisters(regs, sregs);
    } catch (e) {
      return `(registers unavailable: ${e instanceof Error ? e.message : String(e)})`;
    }
  }

  private finish(exitStatus: number, reason: string): void {
    this.phase = 'finished';
    const pio = this.platform.bus.stats;
    const unclaimed = pio.unclaimedReads + pio.unclaimedWrites;
    if (unclaimed >= FLOOD) {
      const top = pio.unclaimedPorts.slice(0, 4).map((p) => `0x${p.port.toString(16)} (${p.reads + p.writes})`).join(', ');
      this.log(`${unclaimed} accesses to unclaimed I/O ports, most to ${top}`);
    }
    this.settle?.resolve({ exitStatus, reason, report: this.report!, boots: this.boots, stats: { pio, mmio: this.dispatcher.mmioStats } });
  }

  private watchSignals(): void {
    const onInt = () => this.requestStop(EXIT_STATUS.SIGINT, 'interrupted (SIGINT)');
    const onTerm = () => this.requestStop(EXIT_STATUS.SIGTERM, 'terminated (SIGTERM)');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    this.cleanups.push(() => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    });
  }

  /** Park and close every vCPU thread, restore the console. Safe after any failure. */
  async dispose(): Promise<void> {
    for (const undo of this.cleanups.splice(0)) undo();
    if (this.hosts.some((h) => h.isRunning)) {
      this.phase = 'parking';
      this.pending = undefined;
      const parked = new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          this.hosts.filter((h) => h.isRunning).forEach((h) => h.park());
          if (!this.hosts.some((h) => h.isRunning)) {
            clearInterval(poll);
            resolve();
          }
        }, REKICK_MS);
      });
      await parked;
    }
    clearInterval(this.rekick);
    this.phase = 'finished';
    await Promise.all(this.hosts.map((h) => h.close()));
    this.console.close();
  }
}

function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v), 2);
}
