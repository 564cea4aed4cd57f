/**
 * Byte-level editing of IGVM files for negative tests: little-endian field writes, splicing, and
 * recomputing the checksum the way the format defines it (independently of src/format's own
 * checksum code, using only the exported `crc32`).
 */
import { crc32 } from '../../src/format/index.js';
import { view } from './vectors.js';

export function u8(bytes: Uint8Array, at: number, value: number): void {
  view(bytes).setUint8(at, value);
}
export function u16(bytes: Uint8Array, at: number, value: number): void {
  view(bytes).setUint16(at, value, true);
}
export function u32(bytes: Uint8Array, at: number, value: number): void {
  view(bytes).setUint32(at, value >>> 0, true);
}
export function u64(bytes: Uint8Array, at: number, value: bigint): void {
  view(bytes).setBigUint64(at, value, true);
}
export function readU32(bytes: Uint8Array, at: number): number {
  return view(bytes).getUint32(at, true);
}

/** Fixed-header fields. */
export const FH = {
  magic: 0x00,
  formatVersion: 0x04,
  variableHeaderOffset: 0x08,
  variableHeaderSize: 0x0c,
  totalFileSize: 0x10,
  checksum: 0x14,
  architecture: 0x18,
  pageSize: 0x1c,
} as const;

/**
 * The IGVM checksum of `bytes` as they stand: CRC-32 over the fixed header (24 bytes for
 * format_version 1, else 32) with the checksum field zeroed, then `variable_header_size` bytes at
 * `variable_header_offset` (clamped to the file).
 */
export function computeChecksum(bytes: Uint8Array): number {
  const fixedSize = readU32(bytes, FH.formatVersion) === 1 ? 24 : 32;
  const fixed = bytes.slice(0, fixedSize);
  fixed.fill(0, FH.checksum, FH.checksum + 4);
  const start = readU32(bytes, FH.variableHeaderOffset);
  const end = Math.min(bytes.length, start + readU32(bytes, FH.variableHeaderSize));
  return crc32(bytes.subarray(Math.min(start, end), end), crc32(fixed));
}

export function fixChecksum(bytes: Uint8Array): Uint8Array {
  u32(bytes, FH.checksum, computeChecksum(bytes));
  return bytes;
}

/** A copy of `bytes` with `count` bytes removed at `at`, or `insert` inserted there. */
export function splice(bytes: Uint8Array, at: number, count: number, insert: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(bytes.length - count + insert.length);
  out.set(bytes.subarray(0, at), 0);
  out.set(insert, at);
  out.set(bytes.subarray(at + count), at + insert.length);
  return out;
}
