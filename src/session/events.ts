import type { BuildEvent } from '../progress/index.js';
import type { BuildEvent__Output } from '../protocol/index.js';

/**
 * Turns one wire event into the client's event union, stamped with `timeMs` (when it arrived; a
 * replay passes the time the builder sent it) unless it carries a time of its own (logs).
 */
export function wireToEvent(ev: BuildEvent__Output, timeMs = Date.now()): BuildEvent | undefined {
  if (ev.vertex) return { type: 'vertex/updated', timeMs, vertex: { ...ev.vertex } };
  if (ev.status) return { type: 'status/updated', timeMs, status: { ...ev.status } };
  if (ev.log)
    return {
      type: 'log/appended',
      timeMs: ev.log.timestampMs || timeMs,
      vertex: ev.log.vertex,
      stream: ev.log.stream,
      data: ev.log.data.toString('utf8'),
    };
  if (ev.message !== undefined && ev.event === 'message')
    return { type: 'message/logged', timeMs, text: ev.message };
  if (ev.info !== undefined && ev.event === 'info')
    return { type: 'message/logged', timeMs, text: ev.info, info: true };
  if (ev.explained) {
    const c = ev.explained.cause;
    return {
      type: 'step/explained',
      timeMs,
      vertex: ev.explained.vertex,
      cause: {
        kind: c?.kind || 'unknown',
        text: c?.text ?? '',
        paths: [...(c?.paths ?? [])],
        morePaths: c?.morePaths ?? 0,
        name: c?.name ?? '',
        line: c?.line ?? 0,
        digest: c?.digest ?? '',
        ...(c?.rootVertex ? { rootVertex: c.rootVertex } : {}),
      },
    };
  }
  if (ev.saved)
    return { type: 'step/saved', timeMs, vertex: ev.saved.vertex, coldMs: Number(ev.saved.coldMs) };
  if (ev.layer) return { type: 'step/layer', timeMs, vertex: ev.layer.vertex, bytes: Number(ev.layer.bytes) };
  if (ev.result)
    return {
      type: 'build/finished',
      timeMs,
      ok: ev.result.ok,
      imageId: ev.result.imageId,
      error: ev.result.error,
      errorCode: ev.result.errorCode,
      imageSize: ev.result.imageSize,
      diffIds: ev.result.diffIds,
    };
  return undefined;
}
