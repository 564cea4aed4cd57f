/**
 * The builders' last step: check the file they made against the loaders it is meant for
 * (loader/compat.ts), so that nothing is written that QEMU 10.2 or igvm-ts would refuse or misread.
 */
import { parseIgvm } from '../format/index.js';
import { checkLoaderCompat, formatCompatWarning, type CompatWarning, type LoaderName } from '../loader/index.js';

export class LoaderCompatError extends Error {
  override readonly name = 'LoaderCompatError';
  constructor(
    readonly what: string,
    readonly warnings: readonly CompatWarning[],
  ) {
    const loaders = [...new Set(warnings.map((w) => w.loader))].join(', ');
    super(`${what} would fail on ${loaders}: ${warnings.map(formatCompatWarning).join('; ')}`);
  }
}

/** Throw LoaderCompatError if `bytes` fails on any of `loaders`; returns `bytes`. */
export function checkBuiltFile(bytes: Uint8Array, loaders: readonly LoaderName[], what: string): Uint8Array {
  if (loaders.length === 0) return bytes;
  const warnings = checkLoaderCompat(parseIgvm(bytes), loaders);
  if (warnings.length > 0) throw new LoaderCompatError(what, warnings);
  return bytes;
}
