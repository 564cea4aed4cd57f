/**
 * Exit codes and one-line error reporting for the `igvm` CLI. Every failure the user can cause ends as
 * exactly one line on stderr (`igvm: ...`) and a non-zero exit code; nothing prints a stack trace.
 * Kept free of imports so that `main.ts` can load it without cost.
 */

export const ExitCode = {
  OK: 0,
  /** The input file is not a valid IGVM file (or has problems). */
  INVALID: 1,
  /** Bad command line, or a file that cannot be read. */
  USAGE: 2,
  /** A bug: an error nobody anticipated (EX_SOFTWARE). */
  INTERNAL: 70,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An anticipated failure: `message` is printed as `igvm: <message>` and the process exits with `exitCode`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: ExitCodeValue;

  constructor(message: string, exitCode: ExitCodeValue) {
    super(message);
    this.exitCode = exitCode;
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, ExitCode.USAGE);
}

export function cannotRead(path: string, reason: string): CliError {
  return new CliError(`cannot read ${path}: ${reason}`, ExitCode.USAGE);
}

export function invalidFile(path: string, message: string): CliError {
  return new CliError(`${path}: ${message}`, ExitCode.INVALID);
}

/** Collapse any line breaks so that a message is guaranteed to be a single line. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/**
 * Print one line for `error` on stderr and return the exit code to use: a `CliError` keeps its code,
 * anything else is an internal error (70).
 */
export function reportError(error: unknown, write: (text: string) => void = (t) => void process.stderr.write(t)): ExitCodeValue {
  if (error instanceof CliError) {
    write(`igvm: ${oneLine(error.message)}\n`);
    return error.exitCode;
  }
  write(`igvm: internal error: ${oneLine(messageOf(error))}\n`);
  return ExitCode.INTERNAL;
}
