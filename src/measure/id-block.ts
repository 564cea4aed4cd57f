/**
 * SEV-SNP ID blocks (measurement.md §2.2): the 96-byte PSP block the ID key signs, the 0x404-byte key
 * blob the author key signs, and the IGVM SNP_ID_BLOCK header with r/s and key coordinates stored
 * little-endian in 72-byte fields. Signing itself happens outside this layer.
 */
import type { SnpIdBlockHeader } from '../format/model.js';

export const PSP_ID_BLOCK_SIZE = 96;
export const SEV_KEY_BLOB_SIZE = 0x404;
export const ECDSA_P384_SHA384 = 1;
export const CURVE_P384 = 2;
const FIELD = 72;
const COORD = 48;

export interface PspIdBlock {
  readonly ld: Uint8Array;
  readonly familyId: Uint8Array;
  readonly imageId: Uint8Array;
  readonly version: number;
  readonly guestSvn: number;
  readonly policy: bigint;
}

export function encodePspIdBlock(block: PspIdBlock): Uint8Array {
  const out = new Uint8Array(PSP_ID_BLOCK_SIZE);
  const view = new DataView(out.buffer);
  out.set(block.ld.subarray(0, 48), 0x00);
  out.set(block.familyId.subarray(0, 16), 0x30);
  out.set(block.imageId.subarray(0, 16), 0x40);
  view.setUint32(0x50, block.version, true);
  view.setUint32(0x54, block.guestSvn, true);
  view.setBigUint64(0x58, BigInt.asUintN(64, block.policy), true);
  return out;
}

export function decodePspIdBlock(bytes: Uint8Array): PspIdBlock {
  if (bytes.length !== PSP_ID_BLOCK_SIZE) throw new RangeError(`an ID block payload is ${PSP_ID_BLOCK_SIZE} bytes, not ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    ld: bytes.slice(0x00, 0x30),
    familyId: bytes.slice(0x30, 0x40),
    imageId: bytes.slice(0x40, 0x50),
    version: view.getUint32(0x50, true),
    guestSvn: view.getUint32(0x54, true),
    policy: view.getBigUint64(0x58, true),
  };
}

/** A big-endian number (an r, s or coordinate) as the PSP stores it: little-endian, zero-padded to 72 bytes. */
export function toPspField(bigEndian: Uint8Array): Uint8Array {
  if (bigEndian.length > FIELD) throw new RangeError(`a ${bigEndian.length}-byte value does not fit a ${FIELD}-byte field`);
  const out = new Uint8Array(FIELD);
  for (let i = 0; i < bigEndian.length; i++) out[i] = bigEndian[bigEndian.length - 1 - i]!;
  return out;
}

/** The 48-byte big-endian value of a 72-byte little-endian PSP field (undefined if it does not fit 48 bytes). */
export function fromPspField(field: Uint8Array): Uint8Array | undefined {
  if (field.subarray(COORD).some((b) => b !== 0)) return undefined;
  const out = new Uint8Array(COORD);
  for (let i = 0; i < COORD; i++) out[i] = field[COORD - 1 - i]!;
  return out;
}

export interface P384Point {
  /** Big-endian, 48 bytes each. */
  readonly x: Uint8Array;
  readonly y: Uint8Array;
}

/** The SEV key blob an author key signs: curve (2) ‖ qx[72] ‖ qy[72] ‖ zeros, 0x404 bytes. */
export function sevKeyBlob(key: P384Point): Uint8Array {
  const out = new Uint8Array(SEV_KEY_BLOB_SIZE);
  new DataView(out.buffer).setUint32(0, CURVE_P384, true);
  out.set(toPspField(key.x), 4);
  out.set(toPspField(key.y), 4 + FIELD);
  return out;
}

export interface Signature {
  /** Big-endian, 48 bytes each. */
  readonly r: Uint8Array;
  readonly s: Uint8Array;
}

export interface IdBlockParts {
  readonly mask: number;
  readonly payload: PspIdBlock;
  readonly idKey: P384Point;
  readonly idSignature: Signature;
  readonly author?: { readonly key: P384Point; readonly signature: Signature };
}

const EMPTY_FIELD = new Uint8Array(FIELD);

export function idBlockHeader(parts: IdBlockParts): SnpIdBlockHeader {
  const a = parts.author;
  return {
    type: 'SNP_ID_BLOCK',
    compatibilityMask: parts.mask,
    authorKeyEnabled: a ? 1 : 0,
    reserved: new Uint8Array(3),
    ld: parts.payload.ld.slice(),
    familyId: parts.payload.familyId.slice(),
    imageId: parts.payload.imageId.slice(),
    version: parts.payload.version,
    guestSvn: parts.payload.guestSvn,
    idKeyAlgorithm: ECDSA_P384_SHA384,
    authorKeyAlgorithm: ECDSA_P384_SHA384,
    idKeySignatureR: toPspField(parts.idSignature.r),
    idKeySignatureS: toPspField(parts.idSignature.s),
    idPublicKeyCurve: CURVE_P384,
    idPublicKeyReserved: 0,
    idPublicKeyQx: toPspField(parts.idKey.x),
    idPublicKeyQy: toPspField(parts.idKey.y),
    authorKeySignatureR: a ? toPspField(a.signature.r) : EMPTY_FIELD.slice(),
    authorKeySignatureS: a ? toPspField(a.signature.s) : EMPTY_FIELD.slice(),
    authorPublicKeyCurve: a ? CURVE_P384 : 0,
    authorPublicKeyReserved: 0,
    authorPublicKeyQx: a ? toPspField(a.key.x) : EMPTY_FIELD.slice(),
    authorPublicKeyQy: a ? toPspField(a.key.y) : EMPTY_FIELD.slice(),
  };
}
