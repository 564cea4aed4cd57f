/**
 * `igvm load FILE --dry-run`: process the file against a machine with the given memory and vCPU count,
 * without KVM, and print the LoadReport: what would be written where, each parameter's value, the
 * boot CPU state.
 */
import { parseIgvm } from '../../format/index.js';
import { LoadError, loadIgvm, SparseMachine } from '../../loader/index.js';
import { CliError, ExitCode, usageError } from '../exit.js';
import { renderLoadReport } from '../render/load-report.js';
import { readInput, toCliError } from './common.js';
import { parseMachineOptions } from './machine-options.js';

export interface LoadCommandOptions {
  readonly dryRun?: boolean;
  readonly memory?: string;
  readonly smp?: string;
  readonly cmdline?: string;
  readonly json?: boolean;
}

export const LOAD_REPORT_SCHEMA = 'igvm-ts/load-report/v1';

export async function loadCommand(file: string, options: LoadCommandOptions): Promise<number> {
  if (!options.dryRun) throw usageError('igvm load only supports --dry-run; use igvm run to boot a file');
  const machineOptions = parseMachineOptions(options);
  const bytes = await readInput(file);
  try {
    const parsed = parseIgvm(bytes);
    const machine = new SparseMachine(machineOptions.memory, machineOptions.vcpus);
    const { report } = loadIgvm(parsed, machine, options.cmdline === undefined ? {} : { cmdline: options.cmdline });
    if (options.json) {
      const doc = { schema: LOAD_REPORT_SCHEMA, file, memory: `0x${machineOptions.memory.toString(16)}`, ...report };
      process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    } else {
      process.stdout.write(renderLoadReport(file, machineOptions.memory, report));
    }
    return ExitCode.OK;
  } catch (e) {
    if (e instanceof LoadError) throw new CliError(`${file}: ${e.message}`, ExitCode.INVALID);
    throw toCliError(e, file) ?? e;
  }
}
