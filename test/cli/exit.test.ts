import { describe, expect, it } from 'vitest';
import { CliError, ExitCode, cannotRead, invalidFile, oneLine, reportError, usageError } from '../../src/cli/exit.js';

function report(error: unknown): { code: number; text: string } {
  let text = '';
  const code = reportError(error, (t) => {
    text += t;
  });
  return { code, text };
}

describe('exit', () => {
  it('reports CLI errors as one line with their exit code', () => {
    expect(report(usageError('bad option'))).toEqual({ code: ExitCode.USAGE, text: 'igvm: bad option\n' });
    expect(report(cannotRead('f.igvm', 'no such file or directory'))).toEqual({ code: 2, text: 'igvm: cannot read f.igvm: no such file or directory\n' });
    expect(report(invalidFile('f.igvm', 'header #3 (PAGE_DATA) at 0x60: bad'))).toEqual({ code: 1, text: 'igvm: f.igvm: header #3 (PAGE_DATA) at 0x60: bad\n' });
    expect(report(new CliError('two\nlines', ExitCode.INVALID))).toEqual({ code: 1, text: 'igvm: two lines\n' });
  });

  it('reports anything else as an internal error (70), without a stack', () => {
    const r = report(new TypeError('x is not a function'));
    expect(r).toEqual({ code: 70, text: 'igvm: internal error: x is not a function\n' });
    expect(report('a string').text).toBe('igvm: internal error: a string\n');
    expect(report(new Error('')).text).toBe('igvm: internal error: Error\n');
  });

  it('oneLine collapses line breaks', () => {
    expect(oneLine('a\n  b\r\nc\n')).toBe('a b c');
  });
});
