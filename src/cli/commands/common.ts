/** What the commands share: opening the input file and turning failures into CLI errors. */
import type { PlatformTypeName } from '../../format/constants.js';
import { IgvmFormatError } from '../../format/errors.js';
import { FileReadError, openFileSource, writeFileAtomic, type FileSource } from '../../node/file-source.js';
import { cannotRead, CliError, ExitCode, invalidFile } from '../exit.js';

/** `--platform` values and the platform types they select. */
export const PLATFORM_OPTION: Readonly<Record<string, PlatformTypeName>> = {
  native: 'NATIVE',
  snp: 'SEV_SNP',
  tdx: 'TDX',
  vbs: 'VSM_ISOLATION',
  sev: 'SEV',
  'sev-es': 'SEV_ES',
  cca: 'CCA',
};
export const PLATFORM_CHOICES = Object.keys(PLATFORM_OPTION);

export async function openInput(path: string): Promise<FileSource> {
  try {
    return await openFileSource(path);
  } catch (e) {
    throw toCliError(e, path) ?? e;
  }
}

/** The CLI error for an anticipated failure (unreadable file, format error), or undefined for a bug. */
export function toCliError(error: unknown, path: string): CliError | undefined {
  if (error instanceof FileReadError) return cannotRead(path, error.message);
  if (error instanceof IgvmFormatError) return invalidFile(path, error.message);
  return undefined;
}

/** Run `body` with the opened file, closing it afterwards and mapping anticipated failures. */
export async function withInput<T>(path: string, body: (source: FileSource) => Promise<T>): Promise<T> {
  const source = await openInput(path);
  try {
    return await body(source);
  } catch (e) {
    throw toCliError(e, path) ?? e;
  } finally {
    await source.close().catch(() => undefined);
  }
}

/** Read a whole input file (the loader needs every payload). */
export async function readInput(path: string): Promise<Uint8Array> {
  const { readFile } = await import('node:fs/promises');
  try {
    const bytes = await readFile(path);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw cannotRead(path, err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.message);
  }
}

/** Write an output file atomically; a failure is a one-line CLI error. */
export async function writeOutput(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${(e as Error).message}`, ExitCode.USAGE);
  }
}
