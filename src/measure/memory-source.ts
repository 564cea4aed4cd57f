/** A `ByteSource` over bytes already in memory (tests, the browser after a drop, small files). */
import type { ByteSource } from '../format/parse.js';

export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: (offset, length) => Promise.resolve(bytes.subarray(offset, Math.min(bytes.length, offset + length))),
  };
}
