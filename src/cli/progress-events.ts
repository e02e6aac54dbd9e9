import {
  type BuildEvent,
  createProgressThrottle,
  PLAIN_PROGRESS_INTERVAL_MS,
  PROGRESS_EVENT_INTERVAL_MS,
  type ProgressThrottle,
  type SyncPhase,
} from '../progress/index.js';
import type { BuilderSession, SyncOutcome } from '../session/index.js';

/** How often progress events are produced and plain progress lines printed. */
export interface ProgressIntervals {
  eventMs: number;
  plainMs: number;
}

/**
 * The intervals in force: the defaults, or both set to `DEPOT_PROGRESS_INTERVAL_MS` (milliseconds)
 * when it is a number — so short work can be watched, e.g. in tests.
 */
export function progressIntervals(env: NodeJS.ProcessEnv = process.env): ProgressIntervals {
  const raw = env.DEPOT_PROGRESS_INTERVAL_MS;
  const ms = raw !== undefined && raw.trim() !== '' ? Number(raw) : Number.NaN;
  if (Number.isFinite(ms) && ms >= 0) return { eventMs: ms, plainMs: ms };
  return { eventMs: PROGRESS_EVENT_INTERVAL_MS, plainMs: PLAIN_PROGRESS_INTERVAL_MS };
}

/** A throttle that turns hashing or upload counts into `sync/progress` events. */
export function syncProgressEvents(
  emit: (e: BuildEvent) => void,
  phase: SyncPhase,
  intervalMs = progressIntervals().eventMs,
): ProgressThrottle {
  return createProgressThrottle((r, timeMs) => emit({ type: 'sync/progress', timeMs, phase, ...r }), {
    intervalMs,
  });
}

/** A throttle that turns bytes loaded into `load/progress` events. */
export function loadProgressEvents(
  emit: (e: BuildEvent) => void,
  intervalMs = progressIntervals().eventMs,
): ProgressThrottle {
  return createProgressThrottle(
    (r, timeMs) =>
      emit({
        type: 'load/progress',
        timeMs,
        bytes: r.bytes,
        bytesTotal: r.bytesTotal,
        bytesPerSecond: r.bytesPerSecond,
        etaMs: r.etaMs,
      }),
    { intervalMs },
  );
}

/**
 * Syncs a context through `session` between `sync/started` and `sync/acked`: the upload's counts
 * become `sync/progress` events, the last with the final counts.
 */
export async function syncWithProgress(
  session: Pick<BuilderSession, 'sync'>,
  scan: Parameters<BuilderSession['sync']>[0],
  base: Parameters<BuilderSession['sync']>[1],
  signal: AbortSignal,
  emit: (e: BuildEvent) => void,
): Promise<SyncOutcome> {
  const uploading = syncProgressEvents(emit, 'uploading');
  const synced = await session.sync(scan, base, signal, (p) => uploading.update(p));
  const { blobsSent: files, bytesSent: bytes } = synced;
  uploading.finish({ files, filesTotal: files, bytes, bytesTotal: bytes });
  return synced;
}

/** The `sync/acked` event of a finished sync. */
export function syncAcked(synced: SyncOutcome): BuildEvent {
  return {
    type: 'sync/acked',
    timeMs: Date.now(),
    snapshotId: synced.snapshotId,
    bytesSent: synced.bytesSent,
    blobsSent: synced.blobsSent,
    filesChanged: synced.filesChanged,
    entries: synced.entries,
    totalBytes: synced.totalBytes,
  };
}
