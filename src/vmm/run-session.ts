/**
 * One run of a machine (vm-runner.ts describes the design): the vCPU threads, the devices' shared
 * state and the console; boots, resets and the stop with its result. Every method runs on the main
 * thread; the exits themselves are handled on the vCPU threads.
 */
import { writeFileSync } from 'node:fs';
import type { BootCpuState } from '../arch/x86/boot-state.js';
import type { ParsedIgvm } from '../format/model.js';
import { loadIgvm, type GuestMachine, type LoadReport } from '../loader/index.js';
import { SerialConsole, type SerialTarget } from './console.js';
import { SystemRequests, type ExitOutcome } from './exit-dispatch.js';
import type { MmioStats, PioStats, UnclaimedPort } from './devices/bus.js';
import type { KvmRegs } from './kvm/abi.js';
import type { KvmSregs } from './kvm/codecs.js';
import { setLongTimeout } from './long-timer.js';
import { OutputRing } from './output-ring.js';
import { createPlatform, type Platform } from './platform.js';
import { formatRegisters } from './registers.js';
import { VcpuHost, type VcpuHostEvents } from './vcpu-host.js';
import type { BusStats } from './vcpu-protocol.js';

export interface RunOptions {
  readonly memory: bigint;
  readonly vcpus: number;
  readonly serial: SerialTarget;
  readonly cmdline?: string;
  readonly noReboot?: boolean;
  readonly timeoutMs?: number;
  /**
   * When the timeout starts counting, in performance.now() milliseconds: 0 is the process start
   * (what `igvm run --timeout` uses, so that set-up counts). Default: when the run was called.
   */
  readonly startedAt?: number;
  /** Run even where `memory` exceeds the host's RAM (pages are used only once touched). */
  readonly allowOvercommit?: boolean;
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
  /** The VM fd, for the vCPU threads' KVM_IRQ_LINE. */
  readonly vmFd: number;
  readonly vcpus: readonly { readonly fd: number; readonly mmapSize: number }[];
  readonly cpuidVersion: number | undefined;
  applyBootState(bootCpu: BootCpuState): void;
  irqLine(irq: number, level: boolean): void;
  registers(index: number): { regs: KvmRegs; sregs: KvmSregs };
  /** Set vCPU `index`'s kvm_run.immediate_exit (from any thread), so that a kick never waits for a signal's delivery. */
  requestImmediateExit?(index: number): void;
}

type Pending =
  | { readonly kind: 'reset'; readonly cause: string; readonly diagnose: number | undefined }
  | { readonly kind: 'stop'; readonly status: number; readonly reason: string; readonly registersOf: number | 'all' | undefined };

/** The unclaimed accesses of all vCPU threads together. */
export function mergeBusStats(all: readonly BusStats[]): { pio: PioStats; mmio: MmioStats } {
  const ports = new Map<number, UnclaimedPort>();
  const addresses = new Map<bigint, number>();
  let unclaimedReads = 0;
  let unclaimedWrites = 0;
  let reads = 0;
  let writes = 0;
  for (const { pio, mmio } of all) {
    unclaimedReads += pio.unclaimedReads;
    unclaimedWrites += pio.unclaimedWrites;
    for (const p of pio.unclaimedPorts) {
      const entry = ports.get(p.port) ?? { port: p.port, reads: 0, writes: 0 };
      entry.reads += p.reads;
      entry.writes += p.writes;
      ports.set(p.port, entry);
    }
    reads += mmio.reads;
    writes += mmio.writes;
    for (const a of mmio.addresses) addresses.set(a.address, (addresses.get(a.address) ?? 0) + a.count);
  }
  return {
    pio: { unclaimedReads, unclaimedWrites, unclaimedPorts: [...ports.values()].sort((a, b) => b.reads + b.writes - (a.reads + a.writes) || a.port - b.port) },
    mmio: {
      reads,
      writes,
      addresses: [...addresses].map(([address, count]) => ({ address, count })).sort((a, b) => b.count - a.count).slice(0, 16),
    },
  };
}

export class RunSession implements VcpuHostEvents {
  private readonly console: SerialConsole;
  private readonly platform: Platform;
  private readonly busStats: BusStats[] = [];
  private readonly log: (line: string) => void;
  private hosts: VcpuHost[] = [];
  private phase: 'starting' | 'running' | 'parking' | 'finished' = 'starting';
  private pending: Pending | undefined;
  private boots = 0;
  private report: LoadReport | undefined;
  private settle: { resolve: (r: RunResult) => void; reject: (e: unknown) => void } | undefined;
  private readonly cleanups: (() => void)[] = [];
  private rekick: NodeJS.Timeout | undefined;
  private readonly createdAt = performance.now();

  constructor(
    private readonly file: ParsedIgvm,
    private readonly machine: VmBackend,
    private readonly options: RunOptions,
    private readonly threadScript: URL | undefined,
  ) {
    this.log = options.log ?? ((line) => process.stderr.write(`igvm: ${line}\n`));
    const ring = new OutputRing();
    this.console = new SerialConsole(
      options.serial,
      {
        onQuit: () => this.requestStop(0, 'quit from the console (Ctrl-A x)'),
        notice: (text) => process.stderr.write(text),
      },
      ring,
    );
    // The main thread's view of the devices: console input and resets (nothing here asks for a reset or exit).
    this.platform = createPlatform({
      requests: new SystemRequests(),
      serialOut: (byte) => ring.put(byte),
      irqLine: (irq, level) => machine.irqLine(irq, level),
    });
  }

  async run(): Promise<RunResult> {
    const done = new Promise<RunResult>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    const shared = { vmFd: this.machine.vmFd, platform: this.platform.state, console: this.console.ring.buffer };
    this.hosts = this.machine.vcpus.map((v, i) => new VcpuHost(i, v.fd, v.mmapSize, shared, this, this.threadScript, () => this.machine.requestImmediateExit?.(i)));
    await Promise.all(this.hosts.map((h) => h.started()));
    this.console.attachInput((bytes) => this.platform.lock.with(() => this.platform.uart.receive(bytes)));
    this.watchSignals();
    if (this.options.timeoutMs !== undefined) {
      const ms = this.options.timeoutMs;
      const left = (this.options.startedAt ?? this.createdAt) + ms - performance.now();
      // Where every vCPU was tells a hang from a slow guest.
      this.cleanups.push(setLongTimeout(() => this.requestStop(EXIT_STATUS.TIMEOUT, `timed out after ${ms} ms`, 'all'), left));
    }
    this.boot();
    return done;
  }

  // ---- VcpuHostEvents (main thread) ----

  onParked(index: number, outcome: ExitOutcome | undefined, stats: BusStats): void {
    this.busStats[index] = stats;
    if (outcome && this.phase === 'running') this.act(index, outcome);
    this.afterPark();
  }

  onFailed(index: number, message: string, stats?: BusStats): void {
    if (stats) this.busStats[index] = stats;
    this.requestStop(EXIT_STATUS.FAULT, message, index);
    this.afterPark();
  }

  /** What an exit on vCPU `index` asked for. */
  private act(index: number, outcome: ExitOutcome): void {
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
  }

  // ---- boot, reset, stop ----

  /** Load the file and start every vCPU. RAM keeps its contents across resets (a warm reset, as QEMU). */
  private boot(): void {
    const machine = this.machine;
    this.platform.lock.with(() => this.platform.bus.reset());
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
    const { pio, mmio } = mergeBusStats(this.busStats.filter((s) => s !== undefined));
    const unclaimed = pio.unclaimedReads + pio.unclaimedWrites;
    if (unclaimed >= FLOOD) {
      const top = pio.unclaimedPorts.slice(0, 4).map((p) => `0x${p.port.toString(16)} (${p.reads + p.writes})`).join(', ');
      this.log(`${unclaimed} accesses to unclaimed I/O ports, most to ${top}`);
    }
    this.settle?.resolve({ exitStatus, reason, report: this.report!, boots: this.boots, stats: { pio, mmio } });
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
