/**
 * The hashing the measurement layer needs, behind a small synchronous interface, so that the layer
 * itself stays browser-safe: Node passes an implementation over `node:crypto` (src/node/node-hash.ts),
 * a browser the `@noble/hashes` one below.
 */
import { sha256, sha384 } from '@noble/hashes/sha2.js';

export type HashAlgorithm = 'sha256' | 'sha384';

/** A running hash. `copy` forks it (for a trace's running digest) without finishing this one. */
export interface Hasher {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
  copy(): Hasher;
}

export interface HashProvider {
  readonly name: string;
  create(algorithm: HashAlgorithm): Hasher;
  /** One-shot hash of `data` (the hot path: one call per measured page). */
  hash(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array;
  /** One-shot hash of `data` written into `target` at `offset`, without allocating (optional). */
  hashInto?(algorithm: HashAlgorithm, data: Uint8Array, target: Uint8Array, offset: number): void;
  /**
   * The hashes of many independent inputs at once, concatenated (optional): a provider may spread
   * them over threads. Inputs may live in a SharedArrayBuffer and must not change until it resolves.
   */
  hashMany?(algorithm: HashAlgorithm, inputs: readonly Uint8Array[]): Promise<Uint8Array>;
}

/** `provider.hashInto`, or `hash` and a copy where the provider has none. */
export function hashInto(provider: HashProvider, algorithm: HashAlgorithm, data: Uint8Array, target: Uint8Array, offset: number): void {
  if (provider.hashInto) provider.hashInto(algorithm, data, target, offset);
  else target.set(provider.hash(algorithm, data), offset);
}

export const DIGEST_SIZE: Readonly<Record<HashAlgorithm, number>> = { sha256: 32, sha384: 48 };

const NOBLE = { sha256, sha384 } as const;

type NobleHash = ReturnType<typeof sha384.create> | ReturnType<typeof sha256.create>;

function nobleHasher(inner: NobleHash): Hasher {
  return {
    update(data) {
      inner.update(data);
    },
    digest: () => inner.digest(),
    copy: () => nobleHasher(inner.clone()),
  };
}

/** Pure-JavaScript SHA-2 (`@noble/hashes`): works everywhere, slower than `node:crypto`. */
export const nobleHashProvider: HashProvider = {
  name: '@noble/hashes',
  create: (algorithm) => nobleHasher(NOBLE[algorithm].create()),
  hash: (algorithm, data) => NOBLE[algorithm](data),
};

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += bytes[i]!.toString(16).padStart(2, '0');
  return s;
}
