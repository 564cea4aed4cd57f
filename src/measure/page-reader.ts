/**
 * Reads the page payloads a run of steps needs from the byte source: adjacent payloads are merged
 * into one read, and the next batch is read while the current one is hashed, so a large file
 * streams through a few MiB of memory. Sources that can read into a caller's buffer (`readInto`, a
 * Node file) get two reused batch buffers, so the loop allocates nothing per batch.
 */
import { PAGE_SIZE_4K } from '../format/constants.js';
import { hex } from '../format/errors.js';
import type { ByteSource } from '../format/parse.js';
import type { DataRef } from '../format/model.js';
import type { Digester } from './digesters.js';
import { DIGEST_SIZE, type HashProvider } from './hash.js';
import { MeasureError } from './errors.js';
import type { Step } from './plan.js';

const BATCH_BYTES = 2 * 1024 * 1024;
const BATCH_STEPS = 4096;

/** A `ByteSource` that may also fill a caller's buffer. */
export interface PageSource extends ByteSource {
  readInto?(offset: number, target: Uint8Array): Promise<number>;
}

export interface Batch {
  readonly steps: Step[];
  /** The 4 KiB contents of `steps[i]`, where the digester wants them. */
  readonly pages: (Uint8Array | undefined)[];
  /** The contents hash of `pages[i]`, where it was computed ahead (`HashProvider.hashMany`). */
  readonly contentsHashes?: (Uint8Array | undefined)[];
}

interface Chunk {
  readonly start: number;
  end: number;
}

function padded(bytes: Uint8Array): Uint8Array {
  if (bytes.length === PAGE_SIZE_4K) return bytes;
  const out = new Uint8Array(PAGE_SIZE_4K);
  out.set(bytes.subarray(0, PAGE_SIZE_4K));
  return out;
}

async function readChunk(source: PageSource, c: Chunk, buffer: Uint8Array | undefined, at: number): Promise<Uint8Array> {
  const length = c.end - c.start;
  let bytes: Uint8Array;
  if (buffer && source.readInto) {
    bytes = buffer.subarray(at, at + length);
    const got = await source.readInto(c.start, bytes);
    bytes = bytes.subarray(0, got);
  } else {
    bytes = await source.read(c.start, length);
  }
  if (bytes.length !== length) {
    throw new MeasureError('ShortRead', `the file ended at ${hex(c.start + bytes.length)} while reading page data up to ${hex(c.end)}`);
  }
  return bytes;
}

async function readBatch(source: PageSource, steps: Step[], refs: (DataRef | undefined)[], buffer: Uint8Array | undefined): Promise<Batch> {
  const chunks: Chunk[] = [];
  const where: number[] = [];
  refs.forEach((ref, i) => {
    if (!ref) return;
    let last = chunks[chunks.length - 1];
    const end = ref.fileOffset + ref.length;
    if (last && ref.fileOffset >= last.start && end <= last.end) {
      // inside what is read already (a deduplicated payload)
    } else if (last && ref.fileOffset === last.end) {
      last.end = end;
    } else {
      last = { start: ref.fileOffset, end };
      chunks.push(last);
    }
    where[i] = chunks.length - 1;
  });
  // Chunks lie one after another in the batch buffer (their total is at most the batch's payload bytes).
  let at = 0;
  const data = await Promise.all(
    chunks.map((c) => {
      const offset = at;
      at += c.end - c.start;
      return readChunk(source, c, buffer, offset);
    }),
  );
  const pages = refs.map((ref, i) => {
    if (!ref) return undefined;
    const c = chunks[where[i]!]!;
    const from = ref.fileOffset - c.start;
    return padded(data[where[i]!]!.subarray(from, from + ref.length));
  });
  return { steps, pages };
}

/** Hash a batch's pages ahead with `hashMany`, where the digester has a contents hash to take. */
async function withContentsHashes(batch: Batch, digester: Digester, hash: HashProvider | undefined): Promise<Batch> {
  const algorithm = digester.contentsHash;
  if (!algorithm || !hash?.hashMany) return batch;
  const inputs = batch.pages.filter((p): p is Uint8Array => p !== undefined);
  if (inputs.length === 0) return batch;
  const all = await hash.hashMany(algorithm, inputs);
  const size = DIGEST_SIZE[algorithm];
  let k = 0;
  const contentsHashes = batch.pages.map((p) => (p ? all.subarray(size * k, size * ++k) : undefined));
  return { ...batch, contentsHashes };
}

function batchBuffer(shared: boolean): Uint8Array {
  const size = BATCH_BYTES + PAGE_SIZE_4K;
  // Shared memory lets a parallel hasher read the pages where they are; plain memory elsewhere.
  return new Uint8Array(shared && typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(size) : new ArrayBuffer(size));
}

/** Batches of steps with their page contents (and contents hashes, where computed ahead), read one batch ahead. */
export async function* batches(source: PageSource, steps: Iterator<Step>, digester: Digester, hash?: HashProvider): AsyncGenerator<Batch> {
  let done = false;
  // Two buffers: one holds the batch being hashed, the other the batch being read.
  const shared = hash?.hashMany !== undefined && digester.contentsHash !== undefined;
  const buffers = source.readInto ? [batchBuffer(shared), batchBuffer(shared)] : [];
  let turn = 0;
  const take = (): Promise<Batch> | undefined => {
    if (done) return undefined;
    const list: Step[] = [];
    const refs: (DataRef | undefined)[] = [];
    let bytes = 0;
    while (list.length < BATCH_STEPS && bytes < BATCH_BYTES) {
      const next = steps.next();
      if (next.done) {
        done = true;
        break;
      }
      const step = next.value;
      list.push(step);
      const ref = step.kind === 'page' && step.data && digester.wantsData(step) ? step.data : undefined;
      refs.push(ref);
      if (ref) bytes += Math.min(ref.length, PAGE_SIZE_4K);
    }
    if (list.length === 0) return undefined;
    const read = readBatch(source, list, refs, buffers[turn++ % 2]).then((b) => withContentsHashes(b, digester, hash));
    read.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
    return read;
  };
  let pending = take();
  while (pending) {
    const batch = await pending;
    pending = take();
    yield batch;
  }
}
