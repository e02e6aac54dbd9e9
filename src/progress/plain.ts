import { causeRoot, causeText } from './cause.js';
import type { BuildEvent, StatusInfo } from './events.js';
import { formatBytes, formatDuration, formatProgress, formatSeconds, shortDigest } from './format.js';
import {
  type BuildState,
  findStep,
  initialBuildState,
  isEchoedDaemonMessage,
  isStepFinished,
  reduceBuild,
  type StepState,
  summarize,
} from './state.js';

/** A progress sink fed one event at a time; `close` prints what is left and the summary. */
export interface ProgressRenderer {
  handle(event: BuildEvent): void;
  close(): void;
}

/** Log lines of a failed step repeated under the `------` block, as BuildKit does. */
export const ERROR_LOG_TAIL = 10;
/** A running status is reprinted at most this often (event time); BuildKit batches by tick. */
const STATUS_REPRINT_MS = 1000;
/** Default gap (event time) between two progress lines of a sync or load. */
export const PLAIN_PROGRESS_INTERVAL_MS = 5000;

/** Options of createPlainRenderer. */
export interface PlainRendererOptions {
  /**
   * A running sync or load prints a progress line at most this often (event time; default
   * PLAIN_PROGRESS_INTERVAL_MS), the first one this long after it started: short work prints none.
   */
  progressIntervalMs?: number;
}

/** The group of lines being printed: a vertex digest, or one of depot's own groups. */
type Group = { kind: 'vertex'; digest: string } | { kind: 'depot' | 'error' | 'load' | 'summary' };

/**
 * BuildKit-style plain progress (`docker build --progress plain`): `#N name` headers,
 * `#N 0.123 <log line>`, statuses, `#N DONE 0.3s` / `#N CACHED` / `#N ERROR: …`, a blank line
 * whenever the output switches to another vertex, plus depot's `#0` sync lines, a
 * `#N MISS: <cause>` line under a non-cached step's header (or its finish line, when the cause
 * came later), the load line and a summary on close. Output depends only on the events (times come from `timeMs`).
 */
export function createPlainRenderer(
  write: (s: string) => void,
  opts: PlainRendererOptions = {},
): ProgressRenderer {
  const progressInterval = opts.progressIntervalMs ?? PLAIN_PROGRESS_INTERVAL_MS;
  /** event time of the last progress line of the running sync or load (or of its start) */
  let progressPrintedMs = 0;
  let state: BuildState = initialBuildState();
  let current: Group | null = null;
  let notFirst = false;
  let closed = false;
  /** digest → signature of the finish line printed (so re-sent vertices do not repeat it) */
  const finishPrinted = new Map<string, string>();
  /** digest → start time the header was printed for */
  const headerFor = new Map<string, number>();
  /** digest → unterminated log text and the time of its first chunk */
  const partial = new Map<string, { text: string; timeMs: number }>();
  /** digest + id → when the status was last printed, and whether it was done */
  const statusPrinted = new Map<string, { timeMs: number; done: boolean }>();
  /**
   * A completed vertex with statuses whose `DONE` is held until other output comes: the engine
   * reports the exporter complete before its `writing image … done` and `naming to …` statuses,
   * and BuildKit's printer, which batches updates per tick, shows those above the `DONE`.
   */
  let pendingDone: string | null = null;
  /** digests whose `#N MISS:` line was printed */
  const missPrinted = new Set<string>();
  /** the digest whose finish line was the last line printed, else null */
  let lastFinished: string | null = null;

  const line = (text: string) => {
    lastFinished = null;
    write(`${text}\n`);
  };

  const sameGroup = (a: Group | null, b: Group): boolean =>
    a !== null &&
    a.kind === b.kind &&
    (a.kind !== 'vertex' || (b.kind === 'vertex' && a.digest === b.digest));

  function switchTo(group: Group): void {
    if (sameGroup(current, group)) return;
    if (current?.kind === 'vertex') {
      const old = findStep(state, current.digest);
      if (old) {
        flushPartial(old);
        // Leaving a vertex that is still running: BuildKit marks the cut with `#N ...`;
        // a finished one gets its finish line instead.
        if (isStepFinished(old)) printFinish(old);
        else line(`#${old.number} ...`);
      }
    }
    // BuildKit prints the error block right under the last vertex line.
    if (notFirst && group.kind !== 'error') line('');
    notFirst = true;
    current = group;
    if (group.kind === 'vertex') {
      const step = findStep(state, group.digest);
      if (step) {
        line(`#${step.number} ${step.name}`);
        headerFor.set(step.digest, step.startedMs);
        printMiss(step);
      }
    }
  }

  /**
   * `#N MISS: <cause>`, once per step, for a step that ran (a cached step has nothing to explain);
   * a miss that only followed another says `because #M (<its instruction>)`: the cause is on #M.
   */
  function printMiss(step: StepState): void {
    if (!step.cause || step.cached || missPrinted.has(step.digest)) return;
    missPrinted.add(step.digest);
    const root = causeRoot(state, step);
    line(
      root
        ? `#${step.number} MISS: because #${root.number} (${root.instruction || root.name})`
        : `#${step.number} MISS: ${causeText(step.cause)}`,
    );
  }

  function onExplained(step: StepState): void {
    // Before its header the cause waits in state; the header prints it.
    if (step.cached || !headerFor.has(step.digest) || missPrinted.has(step.digest)) return;
    const here = current?.kind === 'vertex' && current.digest === step.digest;
    if (here || lastFinished === step.digest) {
      printMiss(step);
      return;
    }
    // Another block is open: reopen this step's block, as BuildKit does for late output.
    switchTo({ kind: 'vertex', digest: step.digest });
    closeIfFinished(step);
  }

  /** `#N REUSED: …` for a cached step the smart cache reused: in its block, reopened if need be. */
  function onReused(step: StepState, text: string): void {
    if (lastFinished === step.digest) {
      line(`#${step.number} REUSED: ${text}`);
      return;
    }
    switchTo({ kind: 'vertex', digest: step.digest });
    line(`#${step.number} REUSED: ${text}`);
    closeIfFinished(step);
  }

  function logLine(step: StepState, timeMs: number, text: string): void {
    const since = step.startedMs > 0 ? timeMs - step.startedMs : 0;
    line(`#${step.number} ${formatSeconds(since, 3)} ${text}`);
  }

  function flushPartial(step: StepState): void {
    const p = partial.get(step.digest);
    if (!p) return;
    partial.delete(step.digest);
    logLine(step, p.timeMs, p.text);
  }

  function flushPendingDone(): void {
    const step = pendingDone === null ? undefined : findStep(state, pendingDone);
    if (step) switchTo({ kind: 'vertex', digest: step.digest });
    if (step) printFinish(step);
  }

  function flushAllPartial(): void {
    for (const step of state.steps) {
      if (!partial.has(step.digest)) continue;
      switchTo({ kind: 'vertex', digest: step.digest });
      flushPartial(step);
    }
  }

  function onVertex(prev: StepState | undefined, step: StepState): void {
    const active = step.startedMs > 0 || step.completedMs > 0 || step.cached || step.error !== '';
    if (!active) return;
    const finished = step.cached || step.completedMs > 0 || step.error !== '';
    // Re-run while its DONE was held: that DONE still belongs above the new run's output.
    if (pendingDone === step.digest && prev && !finished) printFinish(prev);
    const signature = `${step.cached}|${step.completedMs}|${step.error}`;
    const restarted = prev !== undefined && prev.startedMs !== step.startedMs && !finished;
    const firstSeen = !headerFor.has(step.digest);
    const newFinish = finished && finishPrinted.get(step.digest) !== signature;
    if (!firstSeen && !restarted && !newFinish) return;
    switchTo({ kind: 'vertex', digest: step.digest });
    if (restarted && headerFor.get(step.digest) !== step.startedMs) {
      line(`#${step.number} ${step.name}`);
      headerFor.set(step.digest, step.startedMs);
    }
    if (!newFinish) return;
    finishPrinted.set(step.digest, signature);
    if (step.error === '' && !step.cached && step.statuses.length > 0) {
      pendingDone = step.digest;
      return;
    }
    printFinish(step);
  }

  /** `#N DONE 0.3s` / `#N CACHED` / `#N ERROR: …`; BuildKit then forgets the current vertex. */
  function printFinish(step: StepState): void {
    flushPartial(step);
    if (pendingDone === step.digest) pendingDone = null;
    if (step.error !== '') {
      line(
        /cancel(l)?ed$/.test(step.error)
          ? `#${step.number} CANCELED`
          : `#${step.number} ERROR: ${step.error}`,
      );
    } else if (step.cached) {
      line(`#${step.number} CACHED`);
    } else {
      const ms = step.startedMs > 0 ? step.completedMs - step.startedMs : 0;
      line(`#${step.number} DONE ${formatSeconds(ms)}s`);
    }
    lastFinished = step.digest;
    // The next output, even for this vertex, starts a new block with a blank line and header.
    current = null;
  }

  /**
   * After a status under a finished vertex: unless its finish line is still held, print it
   * again, as BuildKit does, so the reopened block never ends in a dangling `#N ...`.
   */
  function closeIfFinished(step: StepState): void {
    if (isStepFinished(step) && pendingDone !== step.digest) printFinish(step);
  }

  function onStatus(step: StepState, s: StatusInfo, timeMs: number): void {
    const key = `${step.digest}\u0000${s.id}`;
    const last = statusPrinted.get(key);
    const done = s.completedMs > 0;
    const due =
      !last || (done && !last.done) || (!done && !last.done && timeMs - last.timeMs >= STATUS_REPRINT_MS);
    if (!due) return;
    statusPrinted.set(key, { timeMs, done });
    switchTo({ kind: 'vertex', digest: step.digest });
    const end = s.completedMs || timeMs;
    const elapsed = s.startedMs > 0 ? end - s.startedMs : 0;
    const tm = elapsed > 10 ? ` ${formatSeconds(elapsed)}s` : '';
    const total = s.total !== 0 ? ` / ${formatBytes(s.total)}` : '';
    const doneStr = done ? ' done' : '';
    const id = s.id || s.name;
    line(
      s.current !== 0
        ? `#${step.number} ${id} ${formatBytes(s.current)}${total}${tm}${doneStr}`
        : `#${step.number} ${id}${tm}${doneStr}`,
    );
    closeIfFinished(step);
  }

  function onLog(step: StepState, timeMs: number, data: string): void {
    if (data === '') return;
    switchTo({ kind: 'vertex', digest: step.digest });
    const pending = partial.get(step.digest);
    partial.delete(step.digest);
    const parts = data.split('\n');
    const rest = parts.pop() ?? '';
    parts.forEach((raw, i) => {
      const text = (i === 0 && pending ? pending.text : '') + raw;
      logLine(
        step,
        i === 0 && pending ? pending.timeMs : timeMs,
        text.endsWith('\r') ? text.slice(0, -1) : text,
      );
    });
    if (parts.length === 0 && pending) {
      partial.set(step.digest, { text: pending.text + rest, timeMs: pending.timeMs });
    } else if (rest !== '') {
      partial.set(step.digest, { text: rest, timeMs });
    }
  }

  function onFinished(): void {
    const r = state.result;
    if (!r || r.ok) return;
    const failed = state.steps.filter(
      (s) => s.error !== '' && !/cancel(l)?ed$/.test(s.error) && s.logs.length > 0,
    );
    switchTo({ kind: 'error' });
    for (const step of failed) {
      line('------');
      line(` > ${step.name}:`);
      for (const l of step.logs.slice(-ERROR_LOG_TAIL)) {
        const since = step.startedMs > 0 ? l.timeMs - step.startedMs : 0;
        line(`${formatSeconds(since, 3)} ${l.text}`);
      }
      line('------');
    }
    line(`ERROR: ${r.error || `build failed${r.errorCode ? ` (${r.errorCode})` : ''}`}`);
  }

  function onLoaded(): void {
    const load = state.load;
    if (!load) return;
    switchTo({ kind: 'load' });
    const id = state.result?.imageId ? `image ${shortDigest(state.result.imageId)}` : 'image';
    const layers = `${load.layersSent}/${load.layersTotal} layer${load.layersTotal === 1 ? '' : 's'}`;
    // Nothing sent: the engine had the image (or built it) and was only asked to tag it.
    line(
      load.bytes === 0 && load.layersSent === 0
        ? `${id} is already in the local engine: nothing sent (${layers})`
        : `loaded ${id} into the local engine: ${formatBytes(load.bytes)} of ${formatBytes(load.imageSize)} (${layers})`,
    );
    if (load.tags.length > 0) line(`tagged ${load.tags.join(', ')}`);
    // The containerd store's note says why every layer went; with nothing sent the line above said it all.
    if (load.note !== '') line(`note: ${load.note}`);
  }

  return {
    handle(event) {
      if (closed) return;
      const prevState = state;
      state = reduceBuild(state, event);
      switch (event.type) {
        case 'build/started':
          switchTo({ kind: 'depot' });
          line(
            `#0 building on ${event.builderId || 'builder'}${event.platform ? ` for ${event.platform}` : ''}`,
          );
          break;
        case 'sync/started':
          switchTo({ kind: 'depot' });
          if (!prevState.sync) progressPrintedMs = event.timeMs;
          line(`#0 syncing context: ${event.entries} entr${event.entries === 1 ? 'y' : 'ies'}`);
          break;
        case 'sync/progress':
          if (!prevState.sync) progressPrintedMs = state.sync?.startedMs ?? event.timeMs;
          if (event.timeMs - progressPrintedMs < progressInterval) break;
          progressPrintedMs = event.timeMs;
          switchTo({ kind: 'depot' });
          line(`#0 ${event.phase} context: ${formatProgress(event)}`);
          break;
        case 'sync/acked':
          switchTo({ kind: 'depot' });
          line(`#0 ${syncedText(event)}`);
          break;
        case 'load/started':
          progressPrintedMs = event.timeMs;
          break;
        case 'load/progress':
          if (event.timeMs - progressPrintedMs < progressInterval) break;
          progressPrintedMs = event.timeMs;
          switchTo({ kind: 'load' });
          line(`loading image into the local engine: ${formatProgress(event)}`);
          break;
        case 'vertex/updated': {
          const step = findStep(state, event.vertex.digest);
          if (step) onVertex(findStep(prevState, event.vertex.digest), step);
          break;
        }
        case 'status/updated': {
          const step = findStep(state, event.status.vertex);
          if (step) onStatus(step, event.status, event.timeMs);
          break;
        }
        case 'log/appended': {
          const step = findStep(state, event.vertex);
          if (step) onLog(step, event.timeMs, event.data);
          break;
        }
        case 'step/explained': {
          const step = findStep(state, event.vertex);
          if (step) onExplained(step);
          break;
        }
        case 'step/reused': {
          const step = findStep(state, event.vertex);
          if (step) onReused(step, event.text);
          break;
        }
        case 'message/logged': {
          const lines = event.text
            .replace(/\n$/, '')
            .split('\n')
            .filter((l) => !isEchoedDaemonMessage(l));
          if (lines.length === 0) break;
          switchTo({ kind: 'depot' });
          for (const text of lines) line(`#0 ${text}`);
          break;
        }
        case 'build/finished':
          flushAllPartial();
          flushPendingDone();
          onFinished();
          break;
        case 'load/finished':
          onLoaded();
          break;
        default:
          break;
      }
    },
    close() {
      if (closed) return;
      flushAllPartial();
      flushPendingDone();
      switchTo({ kind: 'summary' });
      line(formatSummaryLine(state));
      closed = true;
    },
  };
}

/**
 * `synced context: 806 files changed (759 unique contents, 12.3MB sent), snapshot sha256:…`:
 * files and distinct contents apart, since identical files are uploaded once.
 */
export function syncedText(
  sync: { filesChanged?: number; blobsSent: number; bytesSent: number; snapshotId: string },
  withSnapshot = true,
): string {
  const changed = sync.filesChanged ?? sync.blobsSent;
  const files = `${changed} file${changed === 1 ? '' : 's'} changed`;
  const unique = `${sync.blobsSent} unique content${sync.blobsSent === 1 ? '' : 's'}`;
  const snap = sync.snapshotId && withSnapshot ? `, snapshot ${shortDigest(sync.snapshotId)}…` : '';
  return `synced context: ${files} (${unique}, ${formatBytes(sync.bytesSent)} sent)${snap}`;
}

/** `steps: 6 total, 5 cached · 2.1s · synced 1.2kB · loaded 12kB` (plus `· failed`). */
export function formatSummaryLine(state: BuildState): string {
  const sum = summarize(state);
  const reused = sum.reused ? ` (${sum.reused} by the smart cache)` : '';
  const parts = [`steps: ${sum.steps} total, ${sum.cached} cached${reused}`, formatDuration(sum.durationMs)];
  if (state.sync?.ackedMs) parts.push(`synced ${formatBytes(sum.bytesSynced)}`);
  if (state.load?.finishedMs) parts.push(`loaded ${formatBytes(sum.bytesLoaded)}`);
  if (state.result && !state.result.ok) parts.push('failed');
  return parts.join(' · ');
}
