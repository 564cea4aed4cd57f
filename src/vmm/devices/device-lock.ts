/**
 * The lock around the devices' shared state: every vCPU thread runs the device models itself
 * (over state in SharedArrayBuffers), so that an exit costs no trip to another thread, and takes
 * this lock for each access. A futex-style mutex on one Int32 (0 free, 1 held, 2 held with
 * waiters): uncontended, lock and unlock are one atomic operation each; a waiter spins briefly,
 * then sleeps in Atomics.wait. Node allows Atomics.wait on the main thread too, which takes the
 * lock for console input and resets (short sections, never while waiting for anything else).
 */

const FREE = 0;
const HELD = 1;
const CONTENDED = 2;
const SPINS = 100;

export class DeviceLock {
  private readonly cell: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.cell = new Int32Array(buffer, 0, 1);
  }

  lock(): void {
    const cell = this.cell;
    let state = Atomics.compareExchange(cell, 0, FREE, HELD);
    if (state === FREE) return;
    for (let i = 0; i < SPINS && state === HELD; i++) state = Atomics.compareExchange(cell, 0, FREE, HELD);
    if (state === FREE) return;
    // Mark it contended, and sleep until the holder hands it over.
    if (state !== CONTENDED) state = Atomics.exchange(cell, 0, CONTENDED);
    while (state !== FREE) {
      Atomics.wait(cell, 0, CONTENDED);
      state = Atomics.exchange(cell, 0, CONTENDED);
    }
  }

  unlock(): void {
    if (Atomics.sub(this.cell, 0, 1) !== HELD) {
      Atomics.store(this.cell, 0, FREE);
      Atomics.notify(this.cell, 0, 1);
    }
  }

  /** Run `f` holding the lock. */
  with<T>(f: () => T): T {
    this.lock();
    try {
      return f();
    } finally {
      this.unlock();
    }
  }
}
