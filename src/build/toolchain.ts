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
  /** The linked ELF executable itself. */
  readonly elf: Uint8Array;
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

export interface AssembleOptions {
  /** Where the image is linked (flat images; reset-vector images always end at 4 GiB). */
  readonly loadAddress?: bigint;
  /** `flat`: one image at loadAddress. `reset-vector`: the top page of 4 GiB, ending with the reset vector. */
  readonly layout?: 'flat' | 'reset-vector';
  /** Symbols defined for the assembler (`as --defsym NAME=VALUE`). */
  readonly defines?: Readonly<Record<string, number>>;
}

const RESET_VECTOR_PAGE = 0xffff_f000n;

/** Assemble and link `sources` (paths relative to guests/) into one image. */
export async function assembleGuest(sources: readonly string[], options: AssembleOptions): Promise<GuestImage> {
  const layout = options.layout ?? 'flat';
  const loadAddress = layout === 'reset-vector' ? RESET_VECTOR_PAGE : (options.loadAddress ?? 0x10_0000n);
  const defines = Object.entries(options.defines ?? {}).flatMap(([k, v]) => ['--defsym', `${k}=${v}`]);
  const work = await mkdtemp(path.join(tmpdir(), 'igvm-guest-'));
  try {
    const objects: string[] = [];
    for (const [i, source] of sources.entries()) {
      const object = path.join(work, `${i}.o`);
      await tool('as', ['--64', '-I', path.join(GUESTS_DIR, 'lib'), ...defines, '-o', object, path.join(GUESTS_DIR, source)], work);
      objects.push(object);
    }
    const elf = path.join(work, 'guest.elf');
    await tool(
      'ld',
      [
        '-T',
        path.join(GUESTS_DIR, layout === 'flat' ? 'lib/flat.ld' : 'lib/reset-vector.ld'),
        ...(layout === 'flat' ? [`--defsym=LOAD_ADDRESS=0x${loadAddress.toString(16)}`] : []),
        '--no-warn-rwx-segments',
        '-o',
        elf,
        ...objects,
      ],
      work,
    );
    const bin = path.join(work, 'guest.bin');
    await tool('objcopy', ['-O', 'binary', elf, bin], work);
    const symbols = new Map<string, bigint>();
    for (const line of (await tool('nm', [elf], work)).split('\n')) {
      const m = /^([0-9a-f]+) \w (\S+)$/.exec(line.trim());
      if (m) symbols.set(m[2]!, BigInt(`0x${m[1]}`));
    }
    return { bytes: new Uint8Array(await readFile(bin)), loadAddress, symbols, elf: new Uint8Array(await readFile(elf)) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
