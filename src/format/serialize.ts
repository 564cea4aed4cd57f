/**
 * The IGVM writer, byte-identical to the reference's `IgvmFile::serialize`: headers in stored order,
 * each padded to 8 bytes with zeros; payloads appended to the file data section in header order,
 * padded to their natural size, and deduplicated (an identical padded blob reuses the first offset).
 */
import { codecFor, type EncodeContext } from './codecs.js';
import { align8, FIXED_HEADER_SIZE_V1, FIXED_HEADER_SIZE_V2, HeaderType, IGVM_MAGIC, TLV_PREFIX_SIZE, Architecture } from './constants.js';
import { IgvmFormatError, type IgvmErrorCode } from './errors.js';
import { computeChecksum } from './fixed-header.js';
import type { IgvmFile, IgvmHeader } from './model.js';
import { FixedHeaderV1, FixedHeaderV2, TlvPrefix } from './structs.js';
import { modelLocator, validateFile, type Section } from './validate.js';

const U32_MAX = 0xffff_ffff;


function hashBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5 ^ bytes.length;
  const words = bytes.length >>> 2;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < words; i++) h = Math.imul(h ^ dv.getUint32(i * 4, true), 0x01000193);
  for (let i = words * 4; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The file data section under construction: blobs in order, with deduplication. */
class FileDataWriter {
  readonly blobs: Uint8Array[] = [];
  private size = 0;
  private readonly seen = new Map<number, { offset: number; bytes: Uint8Array }[]>();

  constructor(private readonly start: number) {}

  get length(): number {
    return this.size;
  }

  write(bytes: Uint8Array, paddedLength: number): number {
    let blob = bytes;
    if (bytes.length < paddedLength) {
      blob = new Uint8Array(paddedLength);
      blob.set(bytes);
    }
    const key = hashBytes(blob);
    const bucket = this.seen.get(key);
    const hit = bucket?.find((e) => sameBytes(e.bytes, blob));
    if (hit) return hit.offset;
    const offset = this.start + this.size;
    if (offset + blob.length > U32_MAX) {
      throw new IgvmFormatError('TooLarge', `file data passes 4 GiB at ${offset} (+${blob.length} bytes)`);
    }
    this.blobs.push(blob);
    this.size += blob.length;
    const entry = { offset, bytes: blob };
    if (bucket) bucket.push(entry);
    else this.seen.set(key, [entry]);
    return offset;
  }
}

function sectionsOf(file: IgvmFile): [Section, readonly IgvmHeader[]][] {
  return [
    ['platforms', file.platforms],
    ['initializations', file.initializations],
    ['directives', file.directives],
  ];
}

/** Write `file` as IGVM bytes. The model is validated first (as the reference's `IgvmFile::new`). */
export function serializeIgvm(file: IgvmFile): Uint8Array {
  const sections = sectionsOf(file);
  validateFile(file, modelLocator(file));

  const fixedSize = file.revision.formatVersion === 1 ? FIXED_HEADER_SIZE_V1 : FIXED_HEADER_SIZE_V2;
  let variableSize = 0;
  for (const [, headers] of sections) {
    for (const h of headers) variableSize += TLV_PREFIX_SIZE + align8(codecFor(h).bodySize);
  }
  const dataStart = fixedSize + variableSize;
  if (dataStart > U32_MAX) throw new IgvmFormatError('TooLarge', `variable headers of ${variableSize} bytes do not fit a u32`);

  const headerBytes = new Uint8Array(variableSize);
  const data = new FileDataWriter(dataStart);
  let pos = 0;
  for (const [section, headers] of sections) {
    headers.forEach((h, index) => {
      const codec = codecFor(h);
      const ctx: EncodeContext = {
        writeData: (bytes, padded) => data.write(bytes, padded),
        fail: (code: IgvmErrorCode, detail: string): never => {
          throw new IgvmFormatError(code, detail, modelLocator(file)(section, index));
        },
      };
      TlvPrefix.write({ type: HeaderType[h.type], length: codec.bodySize }, headerBytes, pos);
      codec.encode(h, headerBytes.subarray(pos + TLV_PREFIX_SIZE, pos + TLV_PREFIX_SIZE + codec.bodySize), ctx);
      pos += TLV_PREFIX_SIZE + align8(codec.bodySize);
    });
  }

  const total = dataStart + data.length;
  const out = new Uint8Array(total);
  const common = {
    magic: IGVM_MAGIC,
    formatVersion: file.revision.formatVersion,
    variableHeaderOffset: fixedSize,
    variableHeaderSize: variableSize,
    totalFileSize: total,
    checksum: 0,
  };
  if (file.revision.formatVersion === 1) {
    FixedHeaderV1.write(common, out);
  } else {
    FixedHeaderV2.write(
      { ...common, architecture: Architecture.values[file.revision.architecture], pageSize: file.revision.pageSize },
      out,
    );
  }
  out.set(headerBytes, fixedSize);
  let at = dataStart;
  for (const blob of data.blobs) {
    out.set(blob, at);
    at += blob.length;
  }
  const checksum = computeChecksum(out.subarray(0, fixedSize), headerBytes);
  new DataView(out.buffer).setUint32(0x14, checksum, true);
  return out;
}
