import { type BuildEvent, formatBytes } from '../progress/index.js';
import type { BuildTraceChunkWire, BuildTraceHeaderWire } from './client.js';
import { DepotError } from './errors.js';
import { wireToEvent } from './events.js';

/** A recorded build ready to replay: what the builder knows of it, then its events. */
export interface Replay {
  header: BuildTraceHeaderWire;
  /**
   * What the replay should say besides the build itself (the trace was cut, or not kept); the
   * command prints these as notes.
   */
  notes: string[];
  /**
   * The build's events as the client saw them live: `build/started` and `build/defined` (from the
   * record), then each recorded event stamped with the time the builder sent it, and a
   * `build/finished` from the record when the trace holds no result (a build that ended with its
   * builder, or whose trace was not kept). Sync and load were the client's and are not in it.
   */
  events: AsyncGenerator<BuildEvent>;
}

/** Reads a BuildTrace stream's header and hands back the replay of the rest. */
export async function openReplay(chunks: AsyncIterable<BuildTraceChunkWire>): Promise<Replay> {
  const it = chunks[Symbol.asyncIterator]();
  const first = await it.next();
  const header = first.done ? undefined : first.value.header;
  if (!header?.record?.summary)
    throw new DepotError('builder_error', 'the builder sent a build trace without its header');
  const record = header.record;
  const summary = record.summary!;
  const notes: string[] = [];
  if (summary.result === 'running')
    notes.push('the build is still running: its events are kept once it ends');
  else if (!record.hasTrace)
    notes.push(
      "this build's events were not kept (its builder keeps none, or the build was recorded before it kept them): only its outcome is shown",
    );
  const cut = header.cut;
  if (cut) {
    const parts = [
      ...(Number(cut.logBytes) > 0 ? [`${formatBytes(Number(cut.logBytes))} of step logs`] : []),
      ...(cut.statuses > 0 ? [`${cut.statuses} progress update${cut.statuses === 1 ? '' : 's'}`] : []),
      ...(cut.events > 0 ? [`${cut.events} other event${cut.events === 1 ? '' : 's'}`] : []),
    ];
    notes.push(
      `the stored trace of this build was cut to ${formatBytes(Number(cut.maxBytes))}: ${parts.join(', ') || 'part of it'} left out`,
    );
  }
  async function* events(): AsyncGenerator<BuildEvent> {
    const started = Number(summary.startedMs);
    yield {
      type: 'build/started',
      timeMs: started,
      builderId: summary.builder,
      platform: summary.platform,
      buildId: summary.buildId,
    };
    if (header!.dockerfile)
      yield { type: 'build/defined', timeMs: started, dockerfile: header!.dockerfile, target: record.target };
    let finished = false;
    let last = started;
    for (let chunk = first; !chunk.done; chunk = await it.next())
      for (const t of chunk.value.events) {
        const e = t.event ? wireToEvent(t.event, Number(t.timeMs)) : undefined;
        if (!e) continue;
        last = Math.max(last, e.timeMs);
        finished ||= e.type === 'build/finished';
        yield e;
      }
    if (!finished && summary.result !== 'running')
      yield {
        type: 'build/finished',
        timeMs: Number(summary.finishedMs) || last,
        ok: summary.result === 'ok',
        imageId: '',
        error: record.error || (summary.result === 'ok' ? '' : summary.result),
        errorCode: summary.result === 'cancelled' ? 'cancelled' : '',
      };
  }
  return { header, notes, events: events() };
}
