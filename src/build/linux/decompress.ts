/** Decompressing a bzImage payload into the kernel ELF (vmlinux), for the formats distributions use. */
import { gunzipSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import type { Compression } from './bzimage.js';
import { InputFileError } from '../input-error.js';

interface XzLibrary {
  unxzSync(payload: Uint8Array): Uint8Array;
}

/** node-liblzma (liblzma, with the x86 BCJ filter kernels use) is a native addon: load it only when needed. */
async function unxz(payload: Uint8Array): Promise<Uint8Array> {
  const mod = (await import('node-liblzma')) as unknown as XzLibrary & { default?: XzLibrary };
  return new Uint8Array((mod.default ?? mod).unxzSync(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)));
}

export async function decompressKernel(payload: Uint8Array, compression: Compression, file: string): Promise<Uint8Array> {
  try {
    switch (compression) {
      case 'gzip':
        return new Uint8Array(gunzipSync(payload));
      case 'zstd':
        return zstdDecompress(payload);
      case 'xz':
        return await unxz(payload);
      case 'none':
        return payload;
      default:
        throw new InputFileError(file, 0x248, `the kernel is compressed with ${compression}, which igvm-ts cannot decompress; build with --compressed to keep the bzImage and its own decompressor`);
    }
  } catch (e) {
    if (e instanceof InputFileError) throw e;
    throw new InputFileError(file, 0x248, `the ${compression} payload does not decompress: ${(e as Error).message}`);
  }
}
