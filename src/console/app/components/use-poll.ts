// Data that refreshes itself: loads at once, then every `intervalMs` while the page is shown, so state
// badges follow without a reload. A failed load keeps the last data and shows the error beside it.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/** What a polled load gives a page. */
export interface Polled<T> {
  readonly data: T | undefined;
  readonly error: string | undefined;
  /** Loads again now (after an action). */
  readonly refresh: () => void;
}

/** Polls `load` every `intervalMs`; `key` restarts it (e.g. new filters). */
export function usePoll<T>(load: () => Promise<T>, intervalMs: number, key: string): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;
  const generation = useRef(0);
  const inFlight = useRef(false);
  const queued = useRef(false);
  // One load at a time: with a slow answer (10,000 volumes) timer ticks must not pile requests up. A load
  // asked for while one runs (new filters, after an action) starts when it ends; a missed tick does not.
  const run = useCallback((tick = false) => {
    if (inFlight.current) {
      if (!tick) queued.current = true;
      return;
    }
    inFlight.current = true;
    const mine = generation.current;
    loadRef
      .current()
      .then(
        (value) => {
          if (mine !== generation.current) return;
          setData(value);
          setError(undefined);
        },
        (failure: unknown) => {
          if (mine !== generation.current) return;
          setError(failure instanceof Error ? failure.message : String(failure));
        },
      )
      .finally(() => {
        inFlight.current = false;
        if (queued.current) {
          queued.current = false;
          run();
        }
      });
  }, []);
  useEffect(() => {
    generation.current += 1;
    setData(undefined);
    run();
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') run(true);
    }, intervalMs);
    return () => {
      generation.current += 1;
      queued.current = false;
      clearInterval(timer);
    };
  }, [key, intervalMs, run]);
  return { data, error, refresh: () => run() };
}
