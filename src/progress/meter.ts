/**
 * Progress of long work (hashing and uploading the context, loading the image): counts, a rate,
 * an ETA, and a throttle so a loop that reports every chunk produces an event a few times a
 * second at most. Pure: the clock is passed in.
 */

/** Done and total counts of one piece of long work; a total of 0 means it is not known. */
export interface ProgressCounts {
  files: number;
  filesTotal: number;
  bytes: number;
  bytesTotal: number;
}

/** Counts plus the average rate since the work started and the time left at that rate. */
export interface ProgressReading extends ProgressCounts {
  /** average bytes per second since the work started; 0 until measurable */
  bytesPerSecond: number;
  /** ms left at that rate; -1 when the total or the rate is not known */
  etaMs: number;
}

/** How often progress events are produced at most (per piece of work). */
export const PROGRESS_EVENT_INTERVAL_MS = 250;

/** Reports progress at most once per interval, plus the final counts once the work ends. */
export interface ProgressThrottle {
  /** New counts; reported when the interval since the last report (or the start) has passed. */
  update(counts: ProgressCounts): void;
  /** The work ended with these counts: report them once (unless nothing was ever done). */
  finish(counts: ProgressCounts): void;
}

/** Options of createProgressThrottle. */
export interface ProgressThrottleOptions {
  /** default PROGRESS_EVENT_INTERVAL_MS */
  intervalMs?: number;
  /** injectable clock (default Date.now) */
  now?: () => number;
}

/** Rate and ETA of `counts` when the work started at `startedMs` and it is now `nowMs`. */
export function readProgress(counts: ProgressCounts, startedMs: number, nowMs: number): ProgressReading {
  const elapsed = nowMs - startedMs;
  const bytesPerSecond = elapsed > 0 && counts.bytes > 0 ? Math.round((counts.bytes * 1000) / elapsed) : 0;
  const left = counts.bytesTotal - counts.bytes;
  const etaMs =
    counts.bytesTotal > 0 && bytesPerSecond > 0
      ? Math.max(0, Math.round((Math.max(0, left) * 1000) / bytesPerSecond))
      : -1;
  return { ...counts, bytesPerSecond, etaMs };
}

/**
 * A throttle for one piece of work: the clock starts at creation; `emit` gets a reading at most
 * once per interval (the first one an interval after the start, so short work reports nothing
 * until it ends), and once more from `finish`. Work that did nothing (0 files and 0 bytes in
 * total) reports nothing at all.
 */
export function createProgressThrottle(
  emit: (reading: ProgressReading, timeMs: number) => void,
  opts: ProgressThrottleOptions = {},
): ProgressThrottle {
  const now = opts.now ?? Date.now;
  const interval = opts.intervalMs ?? PROGRESS_EVENT_INTERVAL_MS;
  const startedMs = now();
  let lastMs = startedMs;
  let finished = false;
  return {
    update(counts) {
      if (finished) return;
      const t = now();
      if (t - lastMs < interval) return;
      lastMs = t;
      emit(readProgress(counts, startedMs, t), t);
    },
    finish(counts) {
      if (finished) return;
      finished = true;
      if (counts.files === 0 && counts.bytes === 0 && counts.filesTotal === 0 && counts.bytesTotal === 0)
        return;
      const t = now();
      emit({ ...readProgress(counts, startedMs, t), etaMs: 0 }, t);
    },
  };
}
