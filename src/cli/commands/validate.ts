/**
 * `igvm validate FILE`: exit 0 and `FILE: valid (N headers, M pages)` when the file is valid; exit 1 and
 * one `FILE: <problem>` line per problem on stderr when it is not. Lenient-parse warnings are printed as
 * `FILE: warning: ...` on stderr.
 */
import { collectProblemsLazy, IgvmFormatError, parseIgvmLazy, type LazyIgvm } from '../../format/index.js';
import { ExitCode, oneLine } from '../exit.js';
import { withInput } from './common.js';

export interface ValidateOptions {
  readonly lenient?: boolean;
}

export interface ValidateStreams {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export async function validateCommand(
  file: string,
  options: ValidateOptions,
  streams: ValidateStreams = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const parseOptions = { lenient: options.lenient === true };
  return withInput(file, async (source) => {
    let parsed: LazyIgvm | undefined;
    let firstError: IgvmFormatError | undefined;
    try {
      parsed = await parseIgvmLazy(source, parseOptions);
    } catch (e) {
      if (!(e instanceof IgvmFormatError)) throw e;
      firstError = e;
    }
    if (parsed) {
      for (const w of parsed.warnings) streams.stderr.write(`${file}: warning: ${oneLine(w.message)}\n`);
      const headers = parsed.platforms.length + parsed.initializations.length + parsed.directives.length;
      const pages = parsed.directives.filter((d) => d.type === 'PAGE_DATA').length;
      streams.stdout.write(`${file}: valid (${plural(headers, 'header')}, ${plural(pages, 'page')})\n`);
      return ExitCode.OK;
    }
    // Invalid: list every problem, not only the first the parser stopped at.
    const problems = await collectProblemsLazy(source, parseOptions);
    const lines = problems.length > 0 ? problems : firstError ? [firstError] : [];
    for (const p of lines) streams.stderr.write(`${file}: ${oneLine(p.message)}\n`);
    return ExitCode.INVALID;
  });
}
