/**
 * Node file access for the IGVM library: a random-access `ByteSource` over a file handle (positional
 * reads only, the file is never read whole) and an atomic file write (temp file + fsync + rename).
 */
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ByteSource } from '../format/parse.js';

/** An I/O failure while reading a file through a `FileSource` (as opposed to a format problem). */
export class FileReadError extends Error {
  override readonly name = 'FileReadError';
  readonly path: string;
  /** The errno code of the underlying failure (`ENOENT`, `EISDIR`, `EIO`, ...), when there is one. */
  readonly code: string | undefined;

  constructor(path: string, reason: string, code?: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.path = path;
    this.code = code;
  }
}

export interface FileSource extends ByteSource {
  readonly path: string;
  /** Read up to `target.length` bytes at `offset` into `target`; fewer only at the end of the file. */
  readInto(offset: number, target: Uint8Array): Promise<number>;
  /** Close the underlying handle. Safe to call more than once. */
  close(): Promise<void>;
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
};

function errnoCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** A short human reason for a file-system error: "no such file or directory", ... */
export function describeFsError(error: unknown): string {
  const code = errnoCode(error);
  if (code !== undefined && ERRNO_TEXT[code] !== undefined) return ERRNO_TEXT[code];
  if (error instanceof Error) {
    // Node messages look like "EXDEV: cross-device link not permitted, rename 'a' -> 'b'".
    const m = /^[A-Z0-9_]+: ([^,]+)/.exec(error.message);
    return m?.[1] ?? error.message;
  }
  return String(error);
}

function wrap(path: string, error: unknown): FileReadError {
  if (error instanceof FileReadError) return error;
  return new FileReadError(path, describeFsError(error), errnoCode(error), { cause: error });
}

/**
 * Open `path` for random-access reading. Fails with a `FileReadError` when the file cannot be opened
 * or is not a regular file. `read(offset, length)` returns fewer bytes than asked only at the end of
 * the file (like `Blob.slice`); reads run as positional `FileHandle.read` calls.
 */
export async function openFileSource(path: string): Promise<FileSource> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw wrap(path, e);
  }
  let size: number;
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new FileReadError(path, 'is a directory', 'EISDIR');
    if (!stat.isFile()) throw new FileReadError(path, 'not a regular file', 'EINVAL');
    size = stat.size;
  } catch (e) {
    await handle.close().catch(() => undefined);
    throw wrap(path, e);
  }

  let closed: Promise<void> | undefined;
  return {
    path,
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
        throw new RangeError(`read(${offset}, ${length}): offset and length must be non-negative integers`);
      }
      if (closed) throw new FileReadError(path, 'the file was already closed', 'EBADF');
      const want = Math.max(0, Math.min(length, size - offset));
      const buffer = new Uint8Array(want);
      let done = 0;
      try {
        while (done < want) {
          const { bytesRead } = await handle.read(buffer, done, want - done, offset + done);
          if (bytesRead === 0) break; // the file shrank under us
          done += bytesRead;
        }
      } catch (e) {
        throw wrap(path, e);
      }
      return done === want ? buffer : buffer.subarray(0, done);
    },
    /** Read into `target` (no allocation; the measurement loop reuses its buffers); returns the bytes read. */
    async readInto(offset: number, target: Uint8Array): Promise<number> {
      if (closed) throw new FileReadError(path, 'the file was already closed', 'EBADF');
      let done = 0;
      try {
        while (done < target.length) {
          const { bytesRead } = await handle.read(target, done, target.length - done, offset + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
      } catch (e) {
        throw wrap(path, e);
      }
      return done;
    },
    close(): Promise<void> {
      closed ??= handle.close();
      return closed;
    },
  };
}

/**
 * Write `bytes` to `path` atomically: into a fresh temp file in the same directory, fsync it, rename it
 * over `path`, then fsync the directory (best effort). On any failure the temp file is removed and
 * `path` is left as it was.
 */
let tempCounter = 0;

export async function writeFileAtomic(path: string, bytes: Uint8Array, options: { mode?: number } = {}): Promise<void> {
  const dir = dirname(path);
  // Unique per process and call; 'wx' below refuses to reuse a name that exists anyway.
  const temp = join(dir, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}${(tempCounter++).toString(36)}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx', options.mode ?? 0o666);
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
      done += bytesWritten;
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, path);
  } catch (e) {
    if (handle) await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  await syncDirectory(dir);
}

/** fsync a directory so that a rename in it is durable; some platforms refuse, which is fine. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // EISDIR/EINVAL/EPERM on platforms without directory fsync: nothing more to do.
  } finally {
    if (handle) await handle.close().catch(() => undefined);
  }
}
