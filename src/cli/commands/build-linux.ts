/** `igvm build linux --kernel bzImage [--initrd FILE] [--cmdline STR] [--compressed] -o linux.igvm`. */
import { InputFileError } from '../../build/input-error.js';
import { LoaderCompatError } from '../../build/loader-check.js';
import { buildLinuxIgvm } from '../../build/linux/linux-igvm.js';
import { ToolchainError } from '../../build/toolchain.js';
import { CliError, ExitCode, usageError } from '../exit.js';
import { readInput, writeOutput } from './common.js';

export interface BuildLinuxOptions {
  readonly output?: string;
  readonly kernel?: string;
  readonly initrd?: string;
  readonly cmdline?: string;
  readonly compressed?: boolean;
}

function mib(v: bigint): string {
  return `${(v + (1n << 20n) - 1n) >> 20n} MiB`;
}

export async function buildLinuxCommand(options: BuildLinuxOptions): Promise<number> {
  if (!options.kernel) throw usageError('igvm build linux needs --kernel bzImage');
  if (!options.output) throw usageError('igvm build linux needs -o OUT.igvm');
  const kernel = await readInput(options.kernel);
  const initrd = options.initrd ? await readInput(options.initrd) : undefined;
  let result;
  try {
    result = await buildLinuxIgvm({
      kernel,
      kernelName: options.kernel,
      ...(initrd ? { initrd } : {}),
      ...(options.cmdline === undefined ? {} : { cmdline: options.cmdline }),
      compressed: options.compressed === true,
    });
  } catch (e) {
    if (e instanceof InputFileError || e instanceof LoaderCompatError) throw new CliError(e.message, ExitCode.INVALID);
    if (e instanceof ToolchainError) throw new CliError(e.message, ExitCode.USAGE);
    throw e;
  }
  await writeOutput(options.output, result.bytes);
  const s = result.summary;
  const what =
    s.mode === 'uncompressed'
      ? `kernel decompressed (${s.compression}) and loaded at 0x${s.kernel.gpa.toString(16)}, entry 0x${s.kernel.entry.toString(16)}`
      : `bzImage kept (${s.compression}), 64-bit entry 0x${s.kernel.entry.toString(16)}`;
  const initrdText = s.initrd ? `, initrd at 0x${s.initrd.gpa.toString(16)} (${s.initrd.size} bytes)` : '';
  process.stdout.write(
    `wrote ${options.output} (${result.bytes.length} bytes): boot protocol ${s.protocol}, ${what}${initrdText}; boot with igvm run -m ${mib(s.minimumMemory)} or more\n`,
  );
  return ExitCode.OK;
}
