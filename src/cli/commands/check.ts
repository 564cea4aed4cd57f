/**
 * `igvm check FILE [--loader NAME]...`: what each named native-mode loader (default: all of them)
 * would refuse or mishandle in the file, one line per finding with the header index; exit 1 when
 * the file fails on a named loader, 0 when it loads as written on all of them.
 */
import { parseIgvm } from '../../format/index.js';
import { checkLoaderCompat, formatCompatWarning, isLoaderName, LOADER_NAMES } from '../../loader/index.js';
import { ExitCode, oneLine } from '../exit.js';
import { readInput, toCliError } from './common.js';

export interface CheckOptions {
  /** Loader names (main.ts has checked them against LOADER_NAMES). */
  readonly loader?: readonly string[];
}

export async function checkCommand(file: string, options: CheckOptions): Promise<number> {
  const named = [...new Set(options.loader ?? [])].filter(isLoaderName);
  const loaders = named.length > 0 ? named : [...LOADER_NAMES];
  const bytes = await readInput(file);
  let parsed;
  try {
    parsed = parseIgvm(bytes);
  } catch (e) {
    throw toCliError(e, file) ?? e;
  }
  const warnings = checkLoaderCompat(parsed, loaders);
  for (const w of warnings) process.stdout.write(`${file}: ${oneLine(formatCompatWarning(w))}\n`);
  if (warnings.length > 0) {
    const failing = loaders.filter((l) => warnings.some((w) => w.loader === l));
    process.stdout.write(`${file}: fails on ${failing.join(', ')}\n`);
    return ExitCode.INVALID;
  }
  process.stdout.write(`${file}: loads as written on ${loaders.join(', ')}\n`);
  return ExitCode.OK;
}
