/**
 * A build's trace: the events its Build stream sent (vertices, progress, step logs, causes, cold
 * durations, messages, the result), each with the time it was sent, kept with the build in the
 * history so that any client of the project can replay the build later as it was seen live.
 *
 * Bounded twice. While the build runs, at most `memoryBytes` of event text is held: progress
 * updates of one sub-task are kept only as often as a plain renderer prints them (the first, one
 * a second while it runs, the first completed one), and past the bound the oldest step logs go.
 * When it ends, the trace is gzipped; while that exceeds `maxBytes`, more of the oldest step logs
 * go, then progress updates that did not complete, then everything but the last state of each
 * step, its cause, cold duration and the result. Each step whose log was cut keeps one log line in
 * its place saying how much is missing, and the cut is recorded (`TraceCut`), so a replay says so.
 */
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, gzip } from 'node:zlib';
import type { BuildEvent } from '../../../src/protocol/index.js';

/** One event as a trace keeps it: the wire event, step log bytes as text. */
export type TraceEvent = Omit<BuildEvent, 'log' | 'output' | 'event'> & {
  log?: { vertex: string; timestampMs: number; stream: number; data: string };
};

/** One traced event and when it was sent (builder clock, ms). */
export interface TracedEvent {
  timeMs: number;
  event: TraceEvent;
}

/** What a trace left out to stay within its bounds; all 0 when nothing. */
export interface TraceCut {
  logBytes: number;
  statuses: number;
  events: number;
}

/** A finished trace as the history stores it. */
export interface SealedTrace {
  codec: 'gzip';
  data: Buffer;
  /** Events kept, and the bytes of their text before compression. */
  events: number;
  rawBytes: number;
  cut: TraceCut;
}

/** The bounds of one build's trace. */
export interface TraceBounds {
  /** Largest stored (compressed) trace; 0 keeps no trace at all. */
  maxBytes: number;
  /** Event text held while the build runs (default: 4 × maxBytes, at least 1 MiB). */
  memoryBytes?: number;
}

/** Default bound of one stored trace (compressed). */
export const DEFAULT_TRACE_MAX_BYTES = 4 * 1024 * 1024;
/** A plain renderer reprints a running progress update at most this often; a trace keeps no more. */
const STATUS_KEEP_MS = 1000;
/** Rounds of cutting at the end before the last resort. */
const SEAL_ROUNDS = 6;

/** Builds a trace as events are sent; `seal` compresses and bounds it. */
export interface TraceRecorder {
  /** Notes one event the Build stream sent at `timeMs` (output events are never kept). */
  add(event: BuildEvent, timeMs: number): void;
  /** The compressed trace within its bound; undefined when traces are off (maxBytes 0). */
  seal(): Promise<SealedTrace | undefined>;
}

type Kind = 'log' | 'status' | 'vertex' | 'other';

interface Slot {
  kind: Kind;
  line: string;
  /** The vertex a log or status belongs to, or a vertex event's digest. */
  vertex: string;
  /** A progress update that reports its sub-task completed. */
  done?: boolean;
  /**
   * A log whose text starts with its step's cut marker: the bytes cut before it (everything of
   * the step's log before this point that the trace no longer holds).
   */
  marker?: number;
  /** Nothing but the marker is left of it: never cut again. */
  pure?: boolean;
}

/** The line of a log marker: what a replay shows in place of the cut part of a step's log. */
export function cutLogText(bytes: number): string {
  return `[depot: ${formatCut(bytes)} of this step's log left out of the stored trace]\n`;
}

function formatCut(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** A trace recorder within `bounds`. */
export function createTraceRecorder(bounds: TraceBounds): TraceRecorder {
  const maxBytes = Math.max(0, Math.floor(bounds.maxBytes));
  const memoryBytes = bounds.memoryBytes ?? Math.max(1024 * 1024, 4 * maxBytes);
  const slots: (Slot | null)[] = [];
  let held = 0;
  /** Index of the oldest slot that may still hold a log (everything before is cut or no log). */
  let logFloor = 0;
  const cut: TraceCut = { logBytes: 0, statuses: 0, events: 0 };
  /** Per step: the slot of its marker and the log bytes it stands for. */
  const markers = new Map<string, { at: number; bytes: number }>();
  /** Per progress sub-task: when its last kept update was sent and whether it was completed. */
  const statusKept = new Map<string, { timeMs: number; done: boolean }>();

  const push = (slot: Slot) => {
    slots.push(slot);
    held += slot.line.length;
  };
  const drop = (i: number) => {
    const s = slots[i];
    if (!s) return;
    held -= s.line.length;
    slots[i] = null;
  };
  /** A log slot's own text (without its marker). */
  const logText = (slot: Slot): { t: number; log: NonNullable<TraceEvent['log']> } => {
    const ev = JSON.parse(slot.line) as { t: number; log: NonNullable<TraceEvent['log']> };
    if (slot.marker !== undefined) ev.log.data = ev.log.data.slice(cutLogText(slot.marker).length);
    return ev;
  };
  /**
   * Cuts the log at `i` but for the whole lines in its last `keep` bytes, and moves its step's
   * marker here: the oldest logs go first, so the marker always stands before what is left.
   */
  const cutLog = (i: number, keep = 0) => {
    const s = slots[i]!;
    const ev = logText(s);
    const data = ev.log.data;
    let kept = '';
    if (keep > 0) {
      const tail = data.slice(Math.max(0, data.length - keep));
      const nl = tail.indexOf('\n');
      kept = nl >= 0 ? tail.slice(nl + 1) : '';
    }
    const removed = Buffer.byteLength(data) - Buffer.byteLength(kept);
    cut.logBytes += removed;
    const was = markers.get(s.vertex);
    let bytes = (s.marker ?? 0) + removed;
    if (was && was.at !== i) {
      bytes += was.bytes;
      drop(was.at);
    }
    drop(i);
    const line = JSON.stringify({ t: ev.t, log: { ...ev.log, data: cutLogText(bytes) + kept } });
    slots[i] = { kind: 'log', line, vertex: s.vertex, marker: bytes, pure: kept === '' };
    held += line.length;
    markers.set(s.vertex, { at: i, bytes });
  };
  /** Cuts the oldest log text until `bytes` of it went (or none is left); false when none was left. */
  const cutOldestLogs = (bytes: number): boolean => {
    let freed = 0;
    let any = false;
    for (let i = logFloor; i < slots.length && freed < bytes; i++) {
      const s = slots[i];
      if (s?.kind !== 'log' || s.pure) continue;
      const size = Buffer.byteLength(logText(s).log.data);
      const need = bytes - freed;
      const before = held;
      cutLog(i, size > need ? size - need : 0);
      freed += Math.max(0, before - held);
      any = true;
      if (slots[i]?.pure) logFloor = i + 1;
      else break;
    }
    return any;
  };
  const logBytesHeld = () =>
    slots.reduce((n, s) => n + (s && s.kind === 'log' && !s.pure ? s.line.length : 0), 0);
  /** Index of the oldest slot that may still hold a progress update to cut. */
  let statusFloor = 0;
  /** Cuts progress updates that did not complete, oldest first, until `bytes` went. */
  const cutStatuses = (bytes: number): boolean => {
    let freed = 0;
    let any = false;
    for (let i = statusFloor; i < slots.length && freed < bytes; i++) {
      statusFloor = i;
      const s = slots[i];
      if (s?.kind !== 'status' || s.done) continue;
      freed += s.line.length;
      drop(i);
      cut.statuses++;
      any = true;
    }
    return any;
  };

  return {
    add(event, timeMs) {
      if (maxBytes === 0 || event.output) return;
      const t = Math.round(timeMs);
      if (event.log) {
        const data =
          typeof event.log.data === 'string'
            ? event.log.data
            : Buffer.from(event.log.data ?? []).toString('utf8');
        if (data === '') return;
        const log = {
          vertex: event.log.vertex ?? '',
          timestampMs: Number(event.log.timestampMs ?? 0),
          stream: event.log.stream ?? 0,
          data,
        };
        push({ kind: 'log', line: JSON.stringify({ t, log }), vertex: log.vertex });
      } else if (event.status) {
        const st = event.status;
        const key = `${st.vertex}\u0000${st.id}`;
        const done = Number(st.completedMs ?? 0) > 0;
        const last = statusKept.get(key);
        // The updates a plain renderer prints of this sub-task: the rest say nothing more.
        const due =
          !last || (done && !last.done) || (!done && !last.done && t - last.timeMs >= STATUS_KEEP_MS);
        if (!due) return;
        statusKept.set(key, { timeMs: t, done });
        push({ kind: 'status', line: JSON.stringify({ t, status: st }), vertex: st.vertex ?? '', done });
      } else {
        const {
          event: _oneof,
          output: _output,
          log: _log,
          ...rest
        } = event as BuildEvent & { event?: string };
        if (Object.keys(rest).length === 0) return;
        // Past the bound with nothing left to cut: the trace ends here (counted).
        if (held >= memoryBytes * 2) {
          cut.events++;
          return;
        }
        push({
          kind: event.vertex ? 'vertex' : 'other',
          line: JSON.stringify({ t, ...rest }),
          vertex: event.vertex?.digest ?? '',
        });
      }
      // Only logs and progress updates are cut while the build runs (the rest is bounded above).
      if (held > memoryBytes && (event.log || event.status)) {
        const excess = held - Math.floor((memoryBytes * 3) / 4);
        if (!cutOldestLogs(excess)) cutStatuses(excess);
      }
    },

    async seal() {
      if (maxBytes === 0) return undefined;
      const encode = async () => {
        const lines = slots.filter((s): s is Slot => s !== null).map((s) => s.line);
        const text = lines.length ? `${lines.join('\n')}\n` : '';
        const raw = Buffer.from(text, 'utf8');
        return { data: await gzipped(raw), events: lines.length, rawBytes: raw.length };
      };
      let out = await encode();
      for (let round = 0; out.data.length > maxBytes && round < SEAL_ROUNDS; round++) {
        // The text that fits, at the ratio this text compressed at (a tenth to spare); the rest goes.
        const ratio = out.rawBytes / Math.max(1, out.data.length);
        const excess = Math.max(1024, out.rawBytes - Math.floor(maxBytes * ratio * 0.9));
        const logs = logBytesHeld();
        if (logs > 0) cutOldestLogs(Math.min(logs, excess));
        else if (!cutStatuses(excess)) break;
        out = await encode();
      }
      if (out.data.length > maxBytes) {
        // Last resort: each step's last state, its cause and cold duration, and the result.
        const lastVertex = new Map<string, number>();
        slots.forEach((s, i) => {
          if (s?.kind === 'vertex') lastVertex.set(s.vertex, i);
        });
        slots.forEach((s, i) => {
          if (!s) return;
          const keep =
            (s.kind === 'vertex' && lastVertex.get(s.vertex) === i) ||
            (s.kind === 'other' && /^\{"t":-?\d+,"(explained|saved|result)"/.test(s.line));
          if (keep) return;
          if (s.kind === 'log') cut.logBytes += Buffer.byteLength(logText(s).log.data);
          else if (s.kind === 'status') cut.statuses++;
          else cut.events++;
          drop(i);
        });
        out = await encode();
        if (out.data.length > maxBytes) {
          cut.events += out.events;
          slots.length = 0;
          held = 0;
          out = await encode();
        }
      }
      return { codec: 'gzip', data: out.data, events: out.events, rawBytes: out.rawBytes, cut: { ...cut } };
    },
  };
}

function gzipped(raw: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => gzip(raw, (err, out) => (err ? reject(err) : resolve(out))));
}

/** Whether anything was left out. */
export function isCut(c: TraceCut): boolean {
  return c.logBytes > 0 || c.statuses > 0 || c.events > 0;
}

/**
 * The events of a stored trace, in order, decompressed as they are read; never more than
 * `maxRawBytes` of text (a trace the history holds was bounded when it was written).
 */
export async function* readTrace(
  data: Buffer,
  codec = 'gzip',
  maxRawBytes = 256 * 1024 * 1024,
): AsyncGenerator<TracedEvent> {
  if (codec !== 'gzip') throw new Error(`trace codec ${JSON.stringify(codec)} is unknown to this builder`);
  const gunzip = createGunzip();
  gunzip.end(data);
  // A character may span two chunks.
  const text = new StringDecoder('utf8');
  let rest = '';
  let seen = 0;
  for await (const chunk of gunzip as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > maxRawBytes) throw new Error(`trace larger than ${maxRawBytes} bytes`);
    rest += text.write(chunk);
    let nl = rest.indexOf('\n');
    while (nl >= 0) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (line) yield parseLine(line);
      nl = rest.indexOf('\n');
    }
  }
  rest += text.end();
  if (rest) yield parseLine(rest);
}

function parseLine(line: string): TracedEvent {
  const { t, ...event } = JSON.parse(line) as { t: number } & TraceEvent;
  return { timeMs: t, event };
}
