/**
 * `igvm run FILE`: boot an IGVM file in native mode on KVM. The exit status is the guest's: through
 * isa-debug-exit (port 0xf4) it is (value << 1) | 1, as QEMU; a shutdown or reset with --no-reboot
 * is 0; a timeout is 124; a fault is 1, reported with the vCPU's registers.
 */
// Only what a boot needs (not the writer, builder or merge): run must start fast.
import { IgvmFormatError } from '../../format/errors.js';
import { parseIgvm } from '../../format/parse.js';
import { LoadError } from '../../loader/errors.js';
import { CliError, ExitCode, usageError } from '../exit.js';
import { readInput } from './common.js';
import { parseMachineOptions } from './machine-options.js';

export interface RunCommandOptions {
  readonly memory?: string;
  readonly smp?: string;
  readonly serial?: string;
  readonly cmdline?: string;
  readonly reboot?: boolean;
  readonly timeout?: string;
  readonly report?: string;
  readonly allowOvercommit?: boolean;
}

/** --timeout's upper bound: a year is longer than any run anyone waits for, and well within timer arithmetic. */
const MAX_TIMEOUT_SECONDS = 366 * 24 * 3600;

function parseTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) throw usageError(`--timeout ${text}: give a positive number of seconds`);
  if (seconds > MAX_TIMEOUT_SECONDS) throw usageError(`--timeout ${text}: at most ${MAX_TIMEOUT_SECONDS} seconds (366 days)`);
  return Math.round(seconds * 1000);
}

export async function runCommand(file: string, options: RunCommandOptions): Promise<number> {
  const machine = parseMachineOptions(options);
  const timeoutMs = parseTimeout(options.timeout);
  const bytes = await readInput(file);
  let parsed;
  try {
    parsed = parseIgvm(bytes);
  } catch (e) {
    if (e instanceof IgvmFormatError) throw new CliError(`${file}: ${e.message}`, ExitCode.INVALID);
    throw e;
  }
  // Loaded only now: `run` pays for the VMM, the other commands do not.
  const { runIgvm, KvmError, NativeUnavailableError, PhysicalAddressError } = await import('../../vmm/index.js');
  try {
    const result = await runIgvm(parsed, {
      memory: machine.memory,
      vcpus: machine.vcpus,
      serial: options.serial === undefined || options.serial === 'stdio' ? 'stdio' : { path: options.serial },
      ...(options.cmdline === undefined ? {} : { cmdline: options.cmdline }),
      noReboot: options.reboot === false,
      // Counted from the process start (performance.now() 0), so that set-up is part of it.
      ...(timeoutMs === undefined ? {} : { timeoutMs, startedAt: 0 }),
      allowOvercommit: options.allowOvercommit === true,
      ...(options.report === undefined ? {} : { reportPath: options.report }),
    });
    // A guest that leaves through isa-debug-exit says all it has to say on its console; anything
    // else (reset with --no-reboot, timeout, signal, fault with the registers) is reported here.
    if (!/isa-debug-exit/.test(result.reason)) {
      for (const line of result.reason.split('\n')) process.stderr.write(`igvm: ${line}\n`);
    }
    return result.exitStatus;
  } catch (e) {
    if (e instanceof LoadError || e instanceof PhysicalAddressError) throw new CliError(`${file}: ${e.message}`, ExitCode.INVALID);
    if (e instanceof KvmError || e instanceof NativeUnavailableError) throw new CliError(e.message, ExitCode.USAGE);
    throw e;
  }
}
