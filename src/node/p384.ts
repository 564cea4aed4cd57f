/**
 * ECDSA P-384 / SHA-384 with `node:crypto` for SEV-SNP ID blocks: loading keys (private PEM; public
 * SPKI PEM/DER or an X.509 certificate), signing to and verifying from raw big-endian r/s, DER
 * signatures, and key coordinates. Every failure is a `KeyError` with a one-line reason.
 */
import { createPrivateKey, createPublicKey, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';

export class KeyError extends Error {
  override readonly name = 'KeyError';
}

const COORD = 48;

export interface Point {
  readonly x: Uint8Array;
  readonly y: Uint8Array;
}
export interface RawSignature {
  readonly r: Uint8Array;
  readonly s: Uint8Array;
}

function checkCurve(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec') throw new KeyError(`${what} is a ${key.asymmetricKeyType ?? 'symmetric'} key, not an EC P-384 key`);
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve !== 'secp384r1') throw new KeyError(`${what} is on curve ${curve ?? 'unknown'}, not P-384 (secp384r1)`);
}

function reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.replace(/^error:[0-9A-F]+:[^:]*:[^:]*:/i, '').split('\n')[0]!.trim();
}

export function loadPrivateKey(bytes: Uint8Array, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(bytes), format: 'pem' });
  } catch (e) {
    throw new KeyError(`${what} is not a PEM private key (${reason(e)})`);
  }
  checkCurve(key, what);
  return key;
}

/** An SPKI public key (PEM or DER), an X.509 certificate (PEM or DER), or the public half of a private PEM. */
export function loadPublicKey(bytes: Uint8Array, what: string): KeyObject {
  const buffer = Buffer.from(bytes);
  const attempts: (() => KeyObject)[] = [
    () => createPublicKey({ key: buffer, format: 'pem' }),
    () => createPublicKey({ key: buffer, format: 'der', type: 'spki' }),
    () => new X509Certificate(buffer).publicKey,
  ];
  for (const attempt of attempts) {
    let key: KeyObject;
    try {
      key = attempt();
    } catch {
      continue;
    }
    checkCurve(key, what);
    return key;
  }
  throw new KeyError(`${what} is not a public key or certificate (PEM or DER)`);
}

function base64url(text: string | undefined, what: string): Uint8Array {
  if (!text) throw new KeyError(`${what}: the key has no coordinates`);
  const out = Buffer.from(text, 'base64url');
  if (out.length > COORD) throw new KeyError(`${what}: a coordinate of ${out.length} bytes`);
  const padded = new Uint8Array(COORD);
  padded.set(out, COORD - out.length);
  return padded;
}

export function publicPoint(key: KeyObject, what: string): Point {
  const jwk = (key.type === 'public' ? key : createPublicKey(key)).export({ format: 'jwk' });
  return { x: base64url(jwk.x, what), y: base64url(jwk.y, what) };
}

export function keyFromPoint(point: Point): KeyObject {
  return createPublicKey({
    key: { kty: 'EC', crv: 'P-384', x: Buffer.from(point.x).toString('base64url'), y: Buffer.from(point.y).toString('base64url') },
    format: 'jwk',
  });
}

export function signP384(key: KeyObject, data: Uint8Array): RawSignature {
  const raw = sign('sha384', data, { key, dsaEncoding: 'ieee-p1363' });
  return { r: new Uint8Array(raw.subarray(0, COORD)), s: new Uint8Array(raw.subarray(COORD)) };
}

export function verifyP384(key: KeyObject, data: Uint8Array, signature: RawSignature): boolean {
  const raw = Buffer.concat([signature.r, signature.s]);
  try {
    return verify('sha384', data, { key, dsaEncoding: 'ieee-p1363' }, raw);
  } catch {
    return false;
  }
}

/** r and s (48 bytes each, big-endian) of a DER `ECDSA-Sig-Value` SEQUENCE { r INTEGER, s INTEGER }. */
export function parseDerSignature(der: Uint8Array, what: string): RawSignature {
  const fail = (why: string): never => {
    throw new KeyError(`${what} is not a DER ECDSA signature (${why})`);
  };
  let pos = 0;
  const length = (): number => {
    const first = der[pos++];
    if (first === undefined) return fail('truncated');
    if (first < 0x80) return first;
    if (first !== 0x81) return fail('unexpected length form');
    const l = der[pos++];
    return l === undefined ? fail('truncated') : l;
  };
  if (der[pos++] !== 0x30) fail('no SEQUENCE');
  const seqLen = length();
  if (pos + seqLen !== der.length) fail(`the SEQUENCE is ${seqLen} bytes but ${der.length - pos} follow`);
  const integer = (): Uint8Array => {
    if (der[pos++] !== 0x02) fail('no INTEGER');
    const l = length();
    if (l === 0 || pos + l > der.length) fail('bad INTEGER length');
    let value = der.subarray(pos, pos + l);
    pos += l;
    while (value.length > 1 && value[0] === 0) value = value.subarray(1);
    if (value.length > COORD) fail(`an INTEGER of ${value.length} bytes is too large for P-384`);
    const out = new Uint8Array(COORD);
    out.set(value, COORD - value.length);
    return out;
  };
  const r = integer();
  const s = integer();
  if (pos !== der.length) fail('trailing bytes');
  return { r, s };
}
