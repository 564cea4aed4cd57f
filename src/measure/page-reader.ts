/**
 * Reads the page payloads a run of steps needs from the byte source: adjacent payloads are merged
 * into one read of at most `MAX_READ` bytes, and the next batch is read while the current one is
 * hashed, so a large file streams through a few MiB of memory.
 */
import { PAGE_SIZE_4K } from '../format/constants.js';
import { hex } from '../format/errors.js';
import type { ByteSource } from '../format/parse.js';
import type { DataRef } from '../format/model.js';
import type { Digester } from './digesters.js';
import { MeasureError } from './errors.js';
import type { Step } from './plan.js';

const MAX_READ = 4 * 1024 * 1024;
const BATCH_BYTES = 4 * 1024 * 1024;
const BATCH_STEPS = 4096;

export interface Batch {
  readonly steps: Step[];
  /** The 4 KiB contents of `steps[i]`, where the digester wants them. */
  readonly pages: (Uint8Array | undefined)[];
  /** Payload bytes read for this batch. */
  readonly bytes: number;
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

async function readBatch(source: ByteSource, steps: Step[], refs: (DataRef | undefined)[]): Promise<Batch> {
  const chunks: Chunk[] = [];
  const where: { chunk: number; ref: DataRef }[] = [];
  refs.forEach((ref, i) => {
    if (!ref) return;
    let last = chunks[chunks.length - 1];
    const end = ref.fileOffset + ref.length;
    if (last && ref.fileOffset >= last.start && end <= last.end) {
      // inside what is read already (a deduplicated payload)
    } else if (last && ref.fileOffset === last.end && end - last.start <= MAX_READ) {
      last.end = end;
    } else {
      last = { start: ref.fileOffset, end };
      chunks.push(last);
    }
    where[i] = { chunk: chunks.length - 1, ref };
  });
  const data = await Promise.all(chunks.map((c) => source.read(c.start, c.end - c.start)));
  data.forEach((bytes, i) => {
    const c = chunks[i]!;
    if (bytes.length !== c.end - c.start) {
      throw new MeasureError('ShortRead', `the file ended at ${hex(c.start + bytes.length)} while reading page data up to ${hex(c.end)}`);
    }
  });
  let total = 0;
  const pages = refs.map((ref, i) => {
    if (!ref) return undefined;
    const w = where[i]!;
    const c = chunks[w.chunk]!;
    total += ref.length;
    return padded(data[w.chunk]!.subarray(ref.fileOffset - c.start, ref.fileOffset - c.start + ref.length));
  });
  return { steps, pages, bytes: total };
}

/** Batches of steps with their page contents, read one batch ahead. */
export async function* batches(source: ByteSource, steps: Iterator<Step>, digester: Digester): AsyncGenerator<Batch> {
  let done = false;
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
      if (ref) bytes += ref.length;
    }
    if (list.length === 0) return undefined;
    const read = readBatch(source, list, refs);
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
