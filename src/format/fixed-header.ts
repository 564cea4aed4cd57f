/** Reading and checking the fixed header (v1: 24 bytes, v2: 32 bytes) and the checksum. */
import {
  Architecture,
  FIXED_HEADER_SIZE_V1,
  FIXED_HEADER_SIZE_V2,
  IGVM_MAGIC,
  PAGE_SIZE_4K,
} from './constants.js';
import { crc32 } from './crc32.js';
import { hex, IgvmFormatError } from './errors.js';
import type { IgvmRevision } from './model.js';
import { FixedHeaderV1, FixedHeaderV2 } from './structs.js';

export interface FixedHeaderInfo {
  readonly revision: IgvmRevision;
  readonly fixedSize: number;
  readonly variableHeaderOffset: number;
  readonly variableHeaderSize: number;
  readonly totalFileSize: number;
  readonly checksum: number;
  /** Absolute offset where the file data section starts. */
  readonly dataStart: number;
}

function fail(detail: string, offset: number): never {
  throw new IgvmFormatError('InvalidFixedHeader', detail, { offset });
}

/**
 * Decode the fixed header from the first bytes of a file (`head` holds at least
 * min(fileSize, 32) bytes) and check it against the real file size, as the reference does.
 * With `allowEmptyData`, a file whose data section is empty is accepted (the spec allows it; the
 * reference does not).
 */
export function readFixedHeader(head: Uint8Array, fileSize: number, allowEmptyData: boolean): FixedHeaderInfo {
  if (fileSize < FIXED_HEADER_SIZE_V1 || head.length < FIXED_HEADER_SIZE_V1) {
    fail(`file is ${fileSize} bytes, shorter than the ${FIXED_HEADER_SIZE_V1}-byte fixed header`, 0);
  }
  const v1 = FixedHeaderV1.read(head);
  if (v1.magic !== IGVM_MAGIC) fail(`magic ${hex(v1.magic)} is not "IGVM" (0x4d564749)`, 0);

  let revision: IgvmRevision;
  let fixedSize: number;
  if (v1.formatVersion === 1) {
    revision = { formatVersion: 1 };
    fixedSize = FIXED_HEADER_SIZE_V1;
  } else if (v1.formatVersion === 2) {
    if (fileSize < FIXED_HEADER_SIZE_V2 || head.length < FIXED_HEADER_SIZE_V2) {
      fail(`file is ${fileSize} bytes, shorter than the ${FIXED_HEADER_SIZE_V2}-byte v2 fixed header`, 0);
    }
    const v2 = FixedHeaderV2.read(head);
    const architecture = Architecture.name(v2.architecture) ?? fail(`architecture ${v2.architecture} is not X64 (0) or AARCH64 (1)`, 0x18);
    if (v2.pageSize !== PAGE_SIZE_4K) {
      throw new IgvmFormatError('UnsupportedPageSize', `page_size ${v2.pageSize} is not supported (only 4096)`, { offset: 0x1c });
    }
    revision = { formatVersion: 2, architecture, pageSize: v2.pageSize };
    fixedSize = FIXED_HEADER_SIZE_V2;
  } else {
    return fail(`format_version ${v1.formatVersion} is not 1 or 2`, 4);
  }

  if (v1.totalFileSize !== fileSize) {
    fail(`total_file_size ${hex(v1.totalFileSize)} does not match the file size ${hex(fileSize)}`, 0x10);
  }
  if (v1.variableHeaderOffset >= fileSize) {
    fail(`variable_header_offset ${hex(v1.variableHeaderOffset)} is not inside the file (size ${hex(fileSize)})`, 0x08);
  }
  const dataStart = v1.variableHeaderOffset + v1.variableHeaderSize;
  if (dataStart > fileSize || (dataStart === fileSize && !allowEmptyData)) {
    fail(
      dataStart === fileSize
        ? `the file data section is empty (headers end at ${hex(dataStart)} = file size); the reference parser rejects such files`
        : `variable headers end at ${hex(dataStart)}, past the file size ${hex(fileSize)}`,
      0x0c,
    );
  }
  return {
    revision,
    fixedSize,
    variableHeaderOffset: v1.variableHeaderOffset,
    variableHeaderSize: v1.variableHeaderSize,
    totalFileSize: v1.totalFileSize,
    checksum: v1.checksum,
    dataStart,
  };
}

/** CRC-32 over the fixed header with a zeroed checksum field, then the variable header section. */
export function computeChecksum(fixed: Uint8Array, variableHeaders: Uint8Array): number {
  const zeroed = fixed.slice();
  zeroed.fill(0, 0x14, 0x18);
  return crc32(variableHeaders, crc32(zeroed));
}

export function checkChecksum(info: FixedHeaderInfo, head: Uint8Array, variableHeaders: Uint8Array): void {
  const computed = computeChecksum(head.subarray(0, info.fixedSize), variableHeaders);
  if (computed !== info.checksum) {
    throw new IgvmFormatError(
      'InvalidChecksum',
      `checksum ${hex(info.checksum)} does not match the computed ${hex(computed)}`,
      { offset: 0x14 },
    );
  }
}
