import { IgvmFormatError } from '../../src/format/index.js';

/** The IgvmFormatError `fn` throws; fails the test when it succeeds or throws something else. */
export function formatErrorOf(fn: () => unknown): IgvmFormatError {
  try {
    fn();
  } catch (e) {
    if (e instanceof IgvmFormatError) return e;
    throw e;
  }
  throw new Error('expected an IgvmFormatError, but the call succeeded');
}
