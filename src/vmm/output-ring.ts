/**
 * Console output between the vCPU threads (which run the UART) and the main thread (which writes
 * it out): a byte ring in a SharedArrayBuffer. Producers write under the device lock, so there is
 * one at a time; the main thread is the only consumer. The producer that makes the ring non-empty
 * wakes the main thread (Atomics.waitAsync on SIGNAL); a producer that finds it past `soft` bytes
 * waits, outside the device lock, until the main thread has written some out (backpressure: a
 * guest flooding COM1 runs at the speed of the output, and memory does not grow). Bytes beyond
 * the hard capacity (`soft` plus a margin for one exit per vCPU) are counted as dropped.
 */

const HEAD = 0; // bytes written, ever (mod 2^32)
const TAIL = 1; // bytes taken, ever (mod 2^32)
const SIGNAL = 2; // bumped when the ring becomes non-empty
const DROPPED = 3;
const HEADER = 16;

/** Atomics.waitAsync (Node 16+; in TypeScript's lib only from ES2024). */
type WaitAsync = (cells: Int32Array, index: number, value: number) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

export const RING_SOFT_LIMIT = 256 * 1024;
const MARGIN = 64 * 1024;

export class OutputRing {
  private readonly cells: Int32Array;
  private readonly data: Uint8Array;
  private readonly capacity: number;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(HEADER + RING_SOFT_LIMIT + MARGIN)) {
    this.cells = new Int32Array(buffer, 0, 4);
    this.data = new Uint8Array(buffer, HEADER);
    this.capacity = this.data.length;
  }

  get used(): number {
    return (Atomics.load(this.cells, HEAD) - Atomics.load(this.cells, TAIL)) >>> 0;
  }

  get dropped(): number {
    return Atomics.load(this.cells, DROPPED);
  }

  /** Producer (holding the device lock). */
  put(byte: number): void {
    const head = Atomics.load(this.cells, HEAD);
    const used = (head - Atomics.load(this.cells, TAIL)) >>> 0;
    if (used >= this.capacity) {
      Atomics.add(this.cells, DROPPED, 1);
      return;
    }
    this.data[(head >>> 0) % this.capacity] = byte;
    Atomics.store(this.cells, HEAD, (head + 1) | 0);
    // Empty but for this byte, judged after publishing it: the consumer may have drained the ring
    // since `used` was read, found it empty and gone to sleep, so `used` cannot decide this.
    if (Atomics.load(this.cells, TAIL) === head) {
      Atomics.add(this.cells, SIGNAL, 1);
      Atomics.notify(this.cells, SIGNAL);
    }
  }

  /** Producer, after its exit (not holding the lock): wait while the ring is past its soft limit, unless `stop()`. */
  waitForRoom(stop: () => boolean, sliceMs = 20): void {
    for (;;) {
      const tail = Atomics.load(this.cells, TAIL);
      if (((Atomics.load(this.cells, HEAD) - tail) >>> 0) < RING_SOFT_LIMIT || stop()) return;
      Atomics.wait(this.cells, TAIL, tail, sliceMs);
    }
  }

  /** Consumer: everything written so far (a copy), or undefined. */
  take(): Uint8Array | undefined {
    const tail = Atomics.load(this.cells, TAIL);
    const used = (Atomics.load(this.cells, HEAD) - tail) >>> 0;
    if (used === 0) return undefined;
    const out = new Uint8Array(used);
    const start = (tail >>> 0) % this.capacity;
    const first = Math.min(used, this.capacity - start);
    out.set(this.data.subarray(start, start + first));
    if (first < used) out.set(this.data.subarray(0, used - first), first);
    Atomics.store(this.cells, TAIL, (tail + used) | 0);
    Atomics.notify(this.cells, TAIL);
    return out;
  }

  /** Consumer: resolves once the ring may have become non-empty since `take()` last returned undefined. */
  waitForData(): { readonly promise: Promise<unknown>; readonly cancel: () => void } {
    const seen = Atomics.load(this.cells, SIGNAL);
    if (this.used > 0) return { promise: Promise.resolve(), cancel: () => undefined };
    const wait = waitAsync(this.cells, SIGNAL, seen);
    const cancel = () => {
      Atomics.add(this.cells, SIGNAL, 1);
      Atomics.notify(this.cells, SIGNAL);
    };
    return { promise: wait.async ? wait.value : Promise.resolve(), cancel };
  }
}
