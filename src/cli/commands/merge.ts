/** `igvm merge A.igvm B.igvm ... -o OUT.igvm`: combine per-platform files into one, as the reference's merge. */
import { IgvmFormatError, mergeIgvm, parseIgvm, serializeIgvm, type IgvmFile } from '../../format/index.js';
import { CliError, ExitCode, usageError } from '../exit.js';
import { readInput, writeOutput } from './common.js';

export interface MergeOptions {
  readonly output?: string;
  readonly simple?: boolean;
}

export async function mergeCommand(files: readonly string[], options: MergeOptions): Promise<number> {
  if (!options.output) throw usageError('igvm merge needs -o OUT.igvm');
  if (files.length < 2) throw usageError('igvm merge needs at least two input files');
  let merged: IgvmFile | undefined;
  for (const file of files) {
    const bytes = await readInput(file);
    try {
      const parsed = parseIgvm(bytes);
      merged = merged ? mergeIgvm(merged, parsed, { simple: options.simple === true }) : parsed;
    } catch (e) {
      if (e instanceof IgvmFormatError) throw new CliError(`${file}: ${e.message}`, ExitCode.INVALID);
      throw e;
    }
  }
  const bytes = serializeIgvm(merged!);
  await writeOutput(options.output, bytes);
  const platforms = merged!.platforms.map((p) => `${p.platformType} (mask 0x${p.compatibilityMask.toString(16)})`).join(', ');
  process.stdout.write(`wrote ${options.output} (${bytes.length} bytes): ${platforms}; ${merged!.directives.length} directives\n`);
  return ExitCode.OK;
}
