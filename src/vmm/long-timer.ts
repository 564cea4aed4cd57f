/**
 * setTimeout for any delay: Node's fires at once (after a TimeoutOverflowWarning) for delays
 * above 2^31 - 1 ms, about 24.8 days, so longer ones are a chain of shorter timers.
 */

export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Call `f` once `ms` have passed; returns the cancel. */
export function setLongTimeout(f: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const due = performance.now() + Math.max(0, ms);
  const arm = () => {
    const left = due - performance.now();
    if (left <= MAX_TIMER_MS) {
      timer = setTimeout(() => void (cancelled || f()), Math.max(0, left));
      return;
    }
    timer = setTimeout(arm, MAX_TIMER_MS);
  };
  arm();
  return () => {
    cancelled = true;
    clearTimeout(timer);
  };
}
