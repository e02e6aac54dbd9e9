/**
 * A minimal Tilt-style store: one state, a pure reducer, synchronous dispatch, subscribers.
 * Created by whoever runs the loop and passed in; never a module singleton.
 */

export type Reducer<S, A> = (state: S, action: A) => S;
export type Listener<S> = (state: S, previous: S) => void;

export interface Store<S, A> {
  /** The current state (never mutated; a new object after every change). */
  getState(): S;
  /** Reduces `action` into the state and notifies subscribers when the state changed. */
  dispatch(action: A): void;
  /** Calls `fn` after every change; returns the function that unsubscribes. */
  subscribe(fn: Listener<S>): () => void;
  /**
   * Resolves with the first state (the current one included) that satisfies `predicate`;
   * rejects after `timeoutMs` (real time; a guard for tests, 5 s by default).
   */
  waitUntilState(predicate: (state: S) => boolean, timeoutMs?: number): Promise<S>;
}

/** Creates a store over `reducer`, starting from `initial`. */
export function createStore<S, A>(reducer: Reducer<S, A>, initial: S): Store<S, A> {
  let state = initial;
  const listeners = new Set<Listener<S>>();
  // A listener may dispatch; nested dispatches are queued so listeners see changes in order.
  const queue: A[] = [];
  let dispatching = false;

  function dispatch(action: A): void {
    queue.push(action);
    if (dispatching) return;
    dispatching = true;
    try {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const previous = state;
        state = reducer(state, next);
        if (state === previous) continue;
        for (const fn of [...listeners]) {
          try {
            fn(state, previous);
          } catch {
            // A broken subscriber (a renderer) must not take the loop down.
          }
        }
      }
    } finally {
      dispatching = false;
      queue.length = 0;
    }
  }

  function subscribe(fn: Listener<S>): () => void {
    listeners.add(fn);
    return () => {
      listeners.delete(fn);
    };
  }

  function waitUntilState(predicate: (state: S) => boolean, timeoutMs = 5000): Promise<S> {
    if (predicate(state)) return Promise.resolve(state);
    return new Promise<S>((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`waitUntilState: predicate not met within ${timeoutMs} ms`));
      }, timeoutMs);
      const unsubscribe = subscribe((s) => {
        if (!predicate(s)) return;
        clearTimeout(timer);
        unsubscribe();
        resolve(s);
      });
    });
  }

  return { getState: () => state, dispatch, subscribe, waitUntilState };
}
