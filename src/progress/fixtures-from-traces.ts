import type { BuildEvent, StatusInfo, VertexInfo } from './events.js';

/**
 * Test helper: turns an engine trace recorded from a real dockerd/BuildKit
 * (`test/fixtures/traces/*.events.jsonl`, builder-host's `EngineEvent` as JSON) into the
 * BuildEvent stream a `depot build --load` client would have produced, so the renderers are
 * tested against real engine output. Conversion follows `wireToEvent` in src/cli/build.ts;
 * only the client-side clock is replaced by a deterministic one (see `toBuildEvents`).
 */

/** One recorded engine event (the JSON form of builder-host's `EngineEvent`). */
export type RecordedEngineEvent =
  | { type: 'vertex'; vertex: VertexInfo }
  | { type: 'status'; status: StatusInfo & { timestampMs?: number } }
  | { type: 'log'; vertex: string; stream: number; data: string; timestampMs: number }
  | { type: 'message'; text: string }
  | { type: 'result'; ok: boolean; imageId: string; error: string; errorCode: string };

/** What the client adds around the engine's events: its build, sync and load steps. */
export interface TraceClientSide {
  builderId: string;
  platform: string;
  buildId: string;
  sync: { entries: number; snapshotId: string; bytesSent: number; blobsSent: number; totalBytes: number };
  /** what `--load` reports after a successful build; omitted when the build failed */
  load?: {
    bytes: number;
    imageSize: number;
    layersSent: number;
    layersTotal: number;
    note: string;
    tags: string[];
  };
}

/** Parses a recorded `*.events.jsonl` trace (one engine event per line). */
export function parseRecordedTrace(text: string): RecordedEngineEvent[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RecordedEngineEvent);
}

function traceStartMs(trace: readonly RecordedEngineEvent[]): number {
  let min = Number.POSITIVE_INFINITY;
  const see = (t: number | undefined) => {
    if (t && t > 0 && t < min) min = t;
  };
  for (const e of trace) {
    if (e.type === 'vertex') {
      see(e.vertex.startedMs);
      see(e.vertex.completedMs);
    } else if (e.type === 'status') {
      see(e.status.startedMs);
      see(e.status.timestampMs);
    } else if (e.type === 'log') see(e.timestampMs);
  }
  return Number.isFinite(min) ? min : 0;
}

/**
 * The BuildEvents of one recorded build. The client stamps vertex, status, message and result
 * events with its own clock; here that clock is the latest time the engine has reported so far
 * (the vertex's or status's own times, else the previous event's), so the stream is deterministic.
 * Logs keep the engine's timestamp, as `wireToEvent` does.
 */
export function toBuildEvents(trace: readonly RecordedEngineEvent[], client: TraceClientSide): BuildEvent[] {
  const start = traceStartMs(trace);
  const out: BuildEvent[] = [
    {
      type: 'build/started',
      timeMs: start - 60,
      builderId: client.builderId,
      platform: client.platform,
      buildId: client.buildId,
    },
    { type: 'sync/started', timeMs: start - 55, entries: client.sync.entries },
    { type: 'sync/acked', timeMs: start - 20, ...client.sync },
  ];
  let clock = start - 20;
  const tick = (...times: (number | undefined)[]) => {
    for (const t of times) if (t && t > clock) clock = t;
    return clock;
  };
  for (const e of trace) {
    switch (e.type) {
      case 'vertex':
        out.push({
          type: 'vertex/updated',
          timeMs: tick(e.vertex.startedMs, e.vertex.completedMs),
          vertex: { ...e.vertex },
        });
        break;
      case 'status': {
        const { timestampMs, ...status } = e.status;
        out.push({
          type: 'status/updated',
          timeMs: tick(status.startedMs, status.completedMs, timestampMs),
          status,
        });
        break;
      }
      case 'log':
        tick(e.timestampMs);
        out.push({
          type: 'log/appended',
          timeMs: e.timestampMs || clock,
          vertex: e.vertex,
          stream: e.stream,
          data: e.data,
        });
        break;
      case 'message':
        out.push({ type: 'message/logged', timeMs: clock, text: e.text });
        break;
      case 'result':
        out.push({
          type: 'build/finished',
          timeMs: tick(clock + 2),
          ok: e.ok,
          imageId: e.imageId,
          error: e.error,
          errorCode: e.errorCode,
        });
        break;
      default:
        break;
    }
  }
  const finished = out[out.length - 1];
  if (client.load && finished?.type === 'build/finished' && finished.ok) {
    out.push({ type: 'load/started', timeMs: tick(clock + 3) });
    out.push({ type: 'load/finished', timeMs: tick(clock + 140), ...client.load });
  }
  return out;
}
