// Timers longer than Node's setTimeout allows (2^31 - 1 ms, after which it fires at once).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, setLongTimeout } from '../../src/vmm/long-timer.js';

describe('setLongTimeout', () => {
  beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => void vi.useRealTimers());

  it('waits the whole delay past 2^31 - 1 ms (a --timeout of 2147484 s)', () => {
    const f = vi.fn();
    setLongTimeout(f, 2_147_484_000);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(f).not.toHaveBeenCalled();
    vi.advanceTimersByTime(2_147_484_000 - MAX_TIMER_MS - 1);
    expect(f).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(f).toHaveBeenCalledTimes(1);
  });

  it('fires short and past-due delays as setTimeout does, once', () => {
    const f = vi.fn();
    setLongTimeout(f, -5);
    vi.advanceTimersByTime(0);
    expect(f).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10 * MAX_TIMER_MS);
    expect(f).toHaveBeenCalledTimes(1);
  });

  it('can be cancelled, also midway through the chain', () => {
    const f = vi.fn();
    const cancel = setLongTimeout(f, 3 * MAX_TIMER_MS);
    vi.advanceTimersByTime(MAX_TIMER_MS + 5);
    cancel();
    vi.advanceTimersByTime(5 * MAX_TIMER_MS);
    expect(f).not.toHaveBeenCalled();
  });
});
