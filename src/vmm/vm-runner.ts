/**
 * `runIgvm`: boot an IGVM file on KVM and run it until the guest exits, what `igvm run` calls.
 *
 * Threads. KVM_RUN blocks for as long as the guest runs, so each vCPU runs in its own
 * node:worker_threads Worker (vcpu-thread.ts) that calls KVM_RUN synchronously through koffi, and
 * handles its exits right there, as Firecracker's and rust-vmm's vCPU threads do: the devices
 * (platform.ts: UART, isa-debug-exit, i8042, 0xcf9, CMOS RTC, PCI config, unclaimed ranges) sit
 * on a range-keyed bus for port I/O and MMIO (devices/bus.ts) that each vCPU thread builds over
 * the same device state in SharedArrayBuffers, every access under one device lock
 * (devices/device-lock.ts), so `--smp N` vCPUs share them safely. COM1 output goes into a shared
 * ring (output-ring.ts) that the main thread drains in batches. No message crosses threads per
 * exit: a vCPU thread posts only when it parks (with the outcome, if an exit asked for a reset or
 * a stop) or fails. The main thread keeps what must be asynchronous (console input and output,
 * signals, the timeout) and owns the rest: the VM and vCPU fds, guest memory, every reset.
 *
 * Kicks. To stop a vCPU that is inside KVM_RUN (reset, quit, timeout), the main thread sets the
 * block's command word to PARK, sets the vCPU's kvm_run.immediate_exit and sends it a real-time
 * signal (kvm/kick.ts) with tgkill. The vCPU thread keeps that signal blocked (pthread_sigmask),
 * and KVM_SET_SIGNAL_MASK gives KVM_RUN a mask without it, so the signal is deliverable only
 * inside KVM_RUN: KVM_RUN returns EINTR; a kick that lands between two KVM_RUNs stays pending and
 * makes the next one return EINTR at once (as immediate_exit does), so none is lost. The signal
 * is ignored process-wide, so the same signal from outside kills nothing; the thread consumes the
 * pending kicks with sigtimedwait (zero timeout), reads the command word, and parks: it tells the
 * main thread and returns to its event loop. Before parking after an I/O exit it re-enters KVM_RUN
 * with immediate_exit set, so that KVM completes the instruction rather than replaying it into
 * the state a reset writes.
 *
 * Parked vCPUs are the only time the main thread calls ioctls on vCPU fds (KVM serializes a vCPU's
 * ioctls, so one issued during KVM_RUN would block the event loop): to set the boot state and to
 * read registers for an error report. Console input needs no kick: the main thread delivers it to
 * the UART's shared state under the device lock, and KVM_IRQ_LINE wakes a halted vCPU in the kernel.
 *
 * Resets (i8042 command 0xfe, port 0xcf9, a triple fault, KVM_SYSTEM_EVENT_RESET) park every vCPU,
 * return the devices, in-kernel irqchip, PIT and local APICs to power-on, process the file again
 * (fresh parameters, and the file's pages written again, as QEMU since its reset rework) and start
 * the vCPUs from the new boot state. Like QEMU's, the reset is warm: RAM the file does not cover
 * keeps its contents (memory.ts). `noReboot` turns a reset into exit status 0, as QEMU's -no-reboot.
 */
import type { ParsedIgvm } from '../format/model.js';
import { totalmem } from 'node:os';
import { KvmError } from './kvm/errors.js';
import { KvmMachine } from './kvm-machine.js';
import { RunSession, type RunOptions, type RunResult, type VmBackend } from './run-session.js';

export { EXIT_STATUS, mergeBusStats, type RunOptions, type RunResult, type VmBackend } from './run-session.js';

/** Refuse `-m` beyond the host's RAM unless asked to overcommit: a guest that uses it all would be killed by the OOM killer midway. */
export function checkMemorySize(memory: bigint, allowOvercommit: boolean, hostBytes: number = totalmem()): void {
  if (allowOvercommit || memory <= BigInt(hostBytes)) return;
  const gib = (v: number) => (v / 2 ** 30).toFixed(1);
  throw new KvmError(
    'MemoryTooLarge',
    `${gib(Number(memory))} GiB of guest RAM is more than this host's ${gib(hostBytes)} GiB; pass --allow-overcommit to run it anyway (RAM is used only as the guest touches it)`,
  );
}

export async function runIgvm(file: ParsedIgvm, options: RunOptions): Promise<RunResult> {
  const started = { startedAt: options.startedAt ?? performance.now() };
  checkMemorySize(options.memory, options.allowOvercommit ?? false);
  const machine = KvmMachine.create(options.memory, options.vcpus);
  try {
    return await runOn(machine, file, { ...options, ...started });
  } finally {
    machine.close();
  }
}

/** Run `file` on a created machine; `threadScript` replaces the vCPU thread (tests). */
export async function runOn(machine: VmBackend, file: ParsedIgvm, options: RunOptions, threadScript?: URL): Promise<RunResult> {
  const session = new RunSession(file, machine, options, threadScript);
  try {
    return await session.run();
  } finally {
    await session.dispose();
  }
}

