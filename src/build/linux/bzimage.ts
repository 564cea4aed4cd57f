/**
 * Reading a Linux x86 bzImage (Documentation/arch/x86/boot.rst): the real-mode setup header, the
 * checks `igvm build linux` needs (boot protocol >= 2.12, relocatable, 64-bit entry), and the
 * compressed payload of the protected-mode kernel.
 */
import { InputFileError } from '../input-error.js';
import { defineStruct, type StructValue } from '../../format/index.js';

/** The setup header fields igvm-ts reads, at their offsets from the start of the image (and of boot_params). */
export const SetupHeader = defineStruct('setup_header', 0x268, [
  { name: 'setupSects', offset: 0x1f1, kind: 'u8' },
  { name: 'bootFlag', offset: 0x1fe, kind: 'u16' },
  { name: 'jump', offset: 0x200, kind: 'u16' },
  { name: 'header', offset: 0x202, kind: 'u32' },
  { name: 'version', offset: 0x206, kind: 'u16' },
  { name: 'typeOfLoader', offset: 0x210, kind: 'u8' },
  { name: 'loadflags', offset: 0x211, kind: 'u8' },
  { name: 'code32Start', offset: 0x214, kind: 'u32' },
  { name: 'ramdiskImage', offset: 0x218, kind: 'u32' },
  { name: 'ramdiskSize', offset: 0x21c, kind: 'u32' },
  { name: 'heapEndPtr', offset: 0x224, kind: 'u16' },
  { name: 'cmdLinePtr', offset: 0x228, kind: 'u32' },
  { name: 'initrdAddrMax', offset: 0x22c, kind: 'u32' },
  { name: 'kernelAlignment', offset: 0x230, kind: 'u32' },
  { name: 'relocatableKernel', offset: 0x234, kind: 'u8' },
  { name: 'minAlignment', offset: 0x235, kind: 'u8' },
  { name: 'xloadflags', offset: 0x236, kind: 'u16' },
  { name: 'cmdlineSize', offset: 0x238, kind: 'u32' },
  { name: 'payloadOffset', offset: 0x248, kind: 'u32' },
  { name: 'payloadLength', offset: 0x24c, kind: 'u32' },
  { name: 'prefAddress', offset: 0x258, kind: 'u64' },
  { name: 'initSize', offset: 0x260, kind: 'u32' },
] as const);
export type SetupHeaderFields = StructValue<typeof SetupHeader.fields>;

const HDRS = 0x5372_6448; // "HdrS"
const MIN_PROTOCOL = 0x020c;
const XLF_KERNEL_64 = 1 << 0;
const LOADED_HIGH = 1 << 0;


export type Compression = 'gzip' | 'xz' | 'zstd' | 'lzma' | 'lz4' | 'bzip2' | 'lzo' | 'none';

export interface BzImage {
  readonly header: SetupHeaderFields;
  /** The setup header bytes as they are copied into boot_params (0x1f1 up to the end given by the jump). */
  readonly headerBytes: Uint8Array;
  /** The protected-mode kernel (the part loaded for `--compressed` boots). */
  readonly protectedMode: Uint8Array;
  /** The compressed kernel inside it. */
  readonly payload: Uint8Array;
  readonly compression: Compression;
}

export function detectCompression(payload: Uint8Array): Compression {
  const b = payload;
  if (b[0] === 0x1f && (b[1] === 0x8b || b[1] === 0x9e)) return 'gzip';
  if (b[0] === 0xfd && b[1] === 0x37 && b[2] === 0x7a && b[3] === 0x58 && b[4] === 0x5a && b[5] === 0x00) return 'xz';
  if (b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd';
  if (b[0] === 0x02 && b[1] === 0x21 && b[2] === 0x4c && b[3] === 0x18) return 'lz4';
  if (b[0] === 0x5d && b[1] === 0x00 && b[2] === 0x00) return 'lzma';
  if (b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68) return 'bzip2';
  if (b[0] === 0x89 && b[1] === 0x4c && b[2] === 0x5a && b[3] === 0x4f) return 'lzo';
  if (b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46) return 'none';
  return 'none';
}

/** Parse and check a bzImage for the Linux 64-bit boot protocol. */
export function readBzImage(bytes: Uint8Array, file: string): BzImage {
  if (bytes.length < SetupHeader.size) throw new InputFileError(file, 0, `too short for a Linux kernel image (${bytes.length} bytes)`);
  const h = SetupHeader.read(bytes);
  if (h.bootFlag !== 0xaa55) throw new InputFileError(file, 0x1fe, `not a Linux kernel image (boot_flag 0x${h.bootFlag.toString(16)}, expected 0xaa55)`);
  if (h.header !== HDRS) throw new InputFileError(file, 0x202, 'not a Linux bzImage (no "HdrS" setup header signature)');
  const version = `${h.version >> 8}.${(h.version & 0xff).toString().padStart(2, '0')}`;
  if (h.version < MIN_PROTOCOL) {
    throw new InputFileError(file, 0x206, `boot protocol ${version} is too old: the 64-bit boot protocol needs 2.12 or later`);
  }
  if (!(h.loadflags & LOADED_HIGH)) throw new InputFileError(file, 0x211, 'not a bzImage: the kernel does not load high (loadflags.LOADED_HIGH clear)');
  if (h.relocatableKernel === 0) throw new InputFileError(file, 0x234, 'the kernel is not relocatable (CONFIG_RELOCATABLE is off)');
  if (!(h.xloadflags & XLF_KERNEL_64)) throw new InputFileError(file, 0x236, 'the kernel has no 64-bit entry point (xloadflags.XLF_KERNEL_64 clear)');
  const setupSects = h.setupSects === 0 ? 4 : h.setupSects;
  const pmStart = (setupSects + 1) * 512;
  if (pmStart >= bytes.length) throw new InputFileError(file, 0x1f1, `setup_sects ${setupSects} points past the end of the file`);
  const protectedMode = bytes.subarray(pmStart);
  if (h.payloadOffset + h.payloadLength > protectedMode.length || h.payloadLength === 0) {
    throw new InputFileError(file, 0x248, `payload (${h.payloadLength} bytes at 0x${h.payloadOffset.toString(16)}) is not inside the protected-mode kernel`);
  }
  const headerEnd = 0x202 + (h.jump >> 8);
  const payload = protectedMode.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength);
  return {
    header: h,
    headerBytes: bytes.subarray(0x1f1, Math.min(headerEnd, bytes.length)),
    protectedMode,
    payload,
    compression: detectCompression(payload),
  };
}
