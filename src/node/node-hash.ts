/**
 * The measurement layer's hash interface (`HashProvider` in src/measure/hash.ts, matched structurally
 * so that this layer need not import it) over `node:crypto`, i.e. OpenSSL.
 */
import { createHash, hash as oneShot, type Hash } from 'node:crypto';

type Algorithm = 'sha256' | 'sha384';

interface NodeHasher {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
  copy(): NodeHasher;
}

function wrap(inner: Hash): NodeHasher {
  return {
    update(data) {
      inner.update(data);
    },
    digest: () => new Uint8Array(inner.digest()),
    copy: () => wrap(inner.copy()),
  };
}

export const nodeHashProvider = {
  name: 'node:crypto',
  create: (algorithm: Algorithm): NodeHasher => wrap(createHash(algorithm)),
  hash: (algorithm: Algorithm, data: Uint8Array): Uint8Array => oneShot(algorithm, data, 'buffer'),
  /** A 'binary' (latin1) string out and `Buffer.write` in: measurably cheaper per call than a fresh Buffer. */
  hashInto(algorithm: Algorithm, data: Uint8Array, target: Uint8Array, offset: number): void {
    const out = Buffer.isBuffer(target) ? target : Buffer.from(target.buffer, target.byteOffset, target.byteLength);
    out.write(oneShot(algorithm, data, 'binary'), offset, 'binary');
  },
};
