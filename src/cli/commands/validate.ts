/**
 * `igvm validate FILE`: exit 0 and `FILE: valid (N headers, M pages)` when the file is valid; exit 1 and
 * one `FILE: <problem>` line per problem on stderr when it is not. Lenient-parse warnings are printed as
 * `FILE: warning: ...` on stderr. The file is checked in one pass over its headers, keeping none.
 */
// Only the parser: validate must start fast (not the writer, builder or merge).
import { checkIgvmLazy } from '../../format/parse.js';
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
  return withInput(file, async (source) => {
    const { problems, warnings, counts } = await checkIgvmLazy(source, { lenient: options.lenient === true });
    for (const w of warnings) streams.stderr.write(`${file}: warning: ${oneLine(w.message)}\n`);
    if (problems.length === 0) {
      streams.stdout.write(`${file}: valid (${plural(counts.headers, 'header')}, ${plural(counts.pages, 'page')})\n`);
      return ExitCode.OK;
    }
    for (const p of problems) streams.stderr.write(`${file}: ${oneLine(p.message)}\n`);
    return ExitCode.INVALID;
  });
}
