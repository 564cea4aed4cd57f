/**
 * The measurement layer's hash interface (`HashProvider` in src/measure/hash.ts, matched structurally
 * so that this layer need not import it) over `node:crypto`, i.e. OpenSSL.
 */
import * as crypto from 'node:crypto';

type Algorithm = 'sha256' | 'sha384';

interface NodeHasher {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
  copy(): NodeHasher;
}

function wrap(inner: crypto.Hash): NodeHasher {
  return {
    update(data) {
      inner.update(data);
    },
    digest: () => new Uint8Array(inner.digest()),
    copy: () => wrap(inner.copy()),
  };
}

// `crypto.hash` (one call, no Hash object) arrived in Node 20.12; older 20.x fall back to createHash.
const oneShotBuffer: (algorithm: Algorithm, data: Uint8Array) => Buffer =
  typeof crypto.hash === 'function'
    ? (algorithm, data) => crypto.hash(algorithm, data, 'buffer')
    : (algorithm, data) => crypto.createHash(algorithm).update(data).digest();
const oneShotBinary: (algorithm: Algorithm, data: Uint8Array) => string =
  typeof crypto.hash === 'function'
    ? (algorithm, data) => crypto.hash(algorithm, data, 'binary')
    : (algorithm, data) => crypto.createHash(algorithm).update(data).digest('binary');

export const nodeHashProvider = {
  name: 'node:crypto',
  create: (algorithm: Algorithm): NodeHasher => wrap(crypto.createHash(algorithm)),
  hash: (algorithm: Algorithm, data: Uint8Array): Uint8Array => oneShotBuffer(algorithm, data),
  /** A 'binary' (latin1) string out and `Buffer.write` in: measurably cheaper per call than a fresh Buffer. */
  hashInto(algorithm: Algorithm, data: Uint8Array, target: Uint8Array, offset: number): void {
    const out = Buffer.isBuffer(target) ? target : Buffer.from(target.buffer, target.byteOffset, target.byteLength);
    out.write(oneShotBinary(algorithm, data), offset, 'binary');
  },
};
