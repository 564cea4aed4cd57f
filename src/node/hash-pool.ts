/**
 * `nodeHashProvider` plus `hashMany` on worker threads: independent inputs (SEV-SNP page contents)
 * are split among the workers, which read them in place when they live in a SharedArrayBuffer. The
 * workers hold the process open only while they have work.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { nodeHashProvider } from './node-hash.js';

type Algorithm = 'sha256' | 'sha384';
const SIZE: Record<Algorithm, number> = { sha256: 32, sha384: 48 };

/** Inputs as a few buffers and a table of (buffer index, offset, length): cheap to post. */
interface Job {
  readonly buffers: ArrayBufferLike[];
  readonly table: Float64Array;
}

const WORKER = `
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const one = typeof crypto.hash === 'function'
  ? (a, d) => crypto.hash(a, d, 'buffer')
  : (a, d) => crypto.createHash(a).update(d).digest();
parentPort.on('message', ({ id, algorithm, size, buffers, table }) => {
  const n = table.length / 3;
  const views = buffers.map((b) => new Uint8Array(b));
  const out = new Uint8Array(n * size);
  for (let i = 0; i < n; i++) {
    const at = table[3 * i + 1];
    out.set(one(algorithm, views[table[3 * i]].subarray(at, at + table[3 * i + 2])), i * size);
  }
  parentPort.postMessage({ id, out }, [out.buffer]);
});
`;

interface Pending {
  resolve(bytes: Uint8Array): void;
  reject(error: Error): void;
}

class HashWorker {
  private readonly worker = new Worker(WORKER, { eval: true });
  private readonly pending = new Map<number, Pending>();
  private next = 0;

  constructor() {
    this.worker.unref();
    this.worker.on('message', ({ id, out }: { id: number; out: Uint8Array }) => {
      const p = this.pending.get(id);
      this.pending.delete(id);
      if (this.pending.size === 0) this.worker.unref();
      p?.resolve(out);
    });
    this.worker.on('error', (e) => this.failAll(e));
    this.worker.on('exit', (code) => this.failAll(new Error(`a hashing worker exited (code ${code})`)));
  }

  private failAll(error: Error): void {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  hash(algorithm: Algorithm, job: Job): Promise<Uint8Array> {
    const id = this.next++;
    if (this.pending.size === 0) this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, algorithm, size: SIZE[algorithm], buffers: job.buffers, table: job.table });
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

/** Shared inputs are posted where they lie; the others are copied into one buffer. */
function jobOf(inputs: readonly Uint8Array[]): Job {
  const buffers: ArrayBufferLike[] = [];
  const table = new Float64Array(inputs.length * 3);
  const copied = inputs.filter((x) => !(typeof SharedArrayBuffer === 'function' && x.buffer instanceof SharedArrayBuffer));
  const copy = new Uint8Array(copied.reduce((n, x) => n + x.byteLength, 0));
  let copyAt = 0;
  inputs.forEach((x, i) => {
    let buffer: ArrayBufferLike = copy.buffer;
    let offset: number;
    if (typeof SharedArrayBuffer === 'function' && x.buffer instanceof SharedArrayBuffer) {
      buffer = x.buffer;
      offset = x.byteOffset;
    } else {
      copy.set(x, copyAt);
      offset = copyAt;
      copyAt += x.byteLength;
    }
    let index = buffers.indexOf(buffer);
    if (index < 0) index = buffers.push(buffer) - 1;
    table.set([index, offset, x.byteLength], 3 * i);
  });
  return { buffers, table };
}

/** Worker threads to use: one less than the CPUs (the main thread chains the digest), 1 to 4. */
export function defaultHashThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

export function createParallelHashProvider(threads = defaultHashThreads()): typeof nodeHashProvider & {
  hashMany(algorithm: Algorithm, inputs: readonly Uint8Array[]): Promise<Uint8Array>;
  close(): Promise<void>;
} {
  const workers = Array.from({ length: threads }, () => new HashWorker());
  return {
    ...nodeHashProvider,
    name: `node:crypto on ${threads} worker thread${threads === 1 ? '' : 's'}`,
    async hashMany(algorithm: Algorithm, inputs: readonly Uint8Array[]): Promise<Uint8Array> {
      const size = SIZE[algorithm];
      const per = Math.ceil(inputs.length / workers.length);
      const parts = await Promise.all(
        workers.map((w, i) => {
          const mine = inputs.slice(i * per, (i + 1) * per);
          return mine.length ? w.hash(algorithm, jobOf(mine)) : Promise.resolve(new Uint8Array(0));
        }),
      );
      const out = new Uint8Array(inputs.length * size);
      let at = 0;
      for (const part of parts) {
        out.set(part, at);
        at += part.length;
      }
      return out;
    },
    async close(): Promise<void> {
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
