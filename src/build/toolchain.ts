/**
 * Assembles guest code (GNU assembler sources under guests/) into a flat image with binutils:
 * `as` for each source, `ld` with guests/lib/flat.ld at a load address, `objcopy -O binary`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository's guests/ folder (next to dist/ and src/). */
export const GUESTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../guests');

export class ToolchainError extends Error {
  override readonly name = 'ToolchainError';
}

export interface GuestImage {
  /** Bytes to load at `loadAddress` (code, data and zeroed bss). */
  readonly bytes: Uint8Array;
  readonly loadAddress: bigint;
  /** Every symbol of the linked image, by name. */
  readonly symbols: ReadonlyMap<string, bigint>;
}

async function tool(name: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(name, args, { cwd, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') {
      throw new ToolchainError(`${name} not found: guests are assembled with binutils (apt-get install binutils)`);
    }
    throw new ToolchainError(`${name} ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** Whether binutils is installed (tests that assemble guests skip without it). */
export async function haveBinutils(): Promise<boolean> {
  try {
    await run('as', ['--version']);
    await run('ld', ['--version']);
    await run('objcopy', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/** Assemble and link `sources` (paths relative to guests/) into a flat image at `loadAddress`. */
export async function assembleGuest(sources: readonly string[], loadAddress: bigint): Promise<GuestImage> {
  const work = await mkdtemp(path.join(tmpdir(), 'igvm-guest-'));
  try {
    const objects: string[] = [];
    for (const [i, source] of sources.entries()) {
      const object = path.join(work, `${i}.o`);
      await tool('as', ['--64', '-o', object, path.join(GUESTS_DIR, source)], work);
      objects.push(object);
    }
    const elf = path.join(work, 'guest.elf');
    await tool(
      'ld',
      ['-T', path.join(GUESTS_DIR, 'lib/flat.ld'), `--defsym=LOAD_ADDRESS=0x${loadAddress.toString(16)}`, '--no-warn-rwx-segments', '-o', elf, ...objects],
      work,
    );
    const bin = path.join(work, 'guest.bin');
    await tool('objcopy', ['-O', 'binary', elf, bin], work);
    const symbols = new Map<string, bigint>();
    for (const line of (await tool('nm', [elf], work)).split('\n')) {
      const m = /^([0-9a-f]+) \w (\S+)$/.exec(line.trim());
      if (m) symbols.set(m[2]!, BigInt(`0x${m[1]}`));
    }
    return { bytes: new Uint8Array(await readFile(bin)), loadAddress, symbols };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
