import { countDockerfileSteps, isDockerfileStep } from '../protocol/dockerfile-steps.js';
import type { BuildEvent, StatusInfo, StepCauseInfo, SyncPhase, VertexInfo } from './events.js';
import type { ProgressReading } from './meter.js';

/** Lines of output kept per step (BuildKit's tty view keeps a similar tail). */
export const MAX_LOG_LINES = 200;
/** Free-form daemon messages kept in state. */
export const MAX_MESSAGES = 50;

/** One line of RUN output. */
export interface LogLine {
  /** ms since epoch of the chunk that started the line */
  timeMs: number;
  /** 1 stdout, 2 stderr */
  stream: number;
  /** the line without its newline; may hold `\r` redraws, see `visibleLogText` */
  text: string;
}

/** One BuildKit vertex as the views see it. */
export interface StepState {
  digest: string;
  /** BuildKit plain-progress number (`#N`): order of first appearance, from 1 */
  number: number;
  /** full vertex name, e.g. `[build 2/3] RUN make` */
  name: string;
  /** stage from `[stage N/M]`; '' for unnamed stages, `[internal]` and unbracketed names */
  stage: string;
  /** platform prefix of multi-platform names (`[linux/arm64 build 2/3]`), else '' */
  platform: string;
  /** N of `[N/M]`, 0 when absent */
  stepIndex: number;
  /** M of `[N/M]`, 0 when absent */
  stepTotal: number;
  /** bracket tag that is not a step ref (`internal`, `auth`), else '' */
  tag: string;
  /** the name without its bracket prefix, e.g. `RUN make` */
  instruction: string;
  inputs: readonly string[];
  cached: boolean;
  startedMs: number;
  completedMs: number;
  error: string;
  /** sub-progress, unique by id, in order of first appearance */
  statuses: readonly StatusInfo[];
  /** the last MAX_LOG_LINES lines */
  logs: readonly LogLine[];
  /** lines dropped from the front of `logs` */
  logsDropped: number;
  /** the last log chunk did not end in a newline: the next chunk continues the last line */
  logPartial: boolean;
  bytesCurrent: number;
  bytesTotal: number;
  /** why the step missed the cache, once the builder explained it; null otherwise */
  cause: StepCauseInfo | null;
  /** a cached step the smart cache's reordering reused, and how; null otherwise */
  reused: string | null;
  /** what the cached step would have run cold (its last uncached run, from the history); 0 unknown */
  coldMs: number;
  /** bytes of the layer the step added to the built image (`step/layer`); null while unknown */
  layerBytes: number | null;
}

/** Context sync as reported by the client. */
export interface SyncState {
  startedMs: number;
  /** 0 until the builder acknowledged the snapshot */
  ackedMs: number;
  entries: number;
  snapshotId: string;
  bytesSent: number;
  /** unique contents uploaded */
  blobsSent: number;
  /** files new or changed since the client's last snapshot (`blobsSent` when not reported) */
  filesChanged: number;
  totalBytes: number;
  /** the latest `sync/progress` of the running phase; null when none came or the sync was acked */
  progress: SyncProgress | null;
}

/** The latest progress of a sync phase. */
export interface SyncProgress extends ProgressReading {
  phase: SyncPhase;
  timeMs: number;
}

/** The latest progress of a load. */
export interface LoadProgress {
  bytes: number;
  bytesTotal: number;
  bytesPerSecond: number;
  etaMs: number;
  timeMs: number;
}

/** Outcome of the build (the `build/finished` event). */
export interface BuildResultState {
  ok: boolean;
  imageId: string;
  error: string;
  errorCode: string;
  finishedMs: number;
}

/** Load of the result into the local engine. */
export interface LoadState {
  startedMs: number;
  /** 0 while loading */
  finishedMs: number;
  bytes: number;
  imageSize: number;
  layersSent: number;
  layersTotal: number;
  note: string;
  tags: readonly string[];
  /** the latest `load/progress` while loading; null when none came or the load finished */
  progress: LoadProgress | null;
}

/** Everything the renderers show, derived only from BuildEvents by `reduceBuild`. */
export interface BuildState {
  buildId: string;
  builderId: string;
  platform: string;
  /** first of build/started and sync/started; 0 before either */
  startedMs: number;
  /** time of build/finished; 0 before */
  finishedMs: number;
  /** latest event time seen: the views' clock, so output depends only on events */
  nowMs: number;
  /** vertices in order of first appearance */
  steps: readonly StepState[];
  /** digest → position in `steps` */
  stepIndex: Readonly<Record<string, number>>;
  sync: SyncState | null;
  result: BuildResultState | null;
  load: LoadState | null;
  messages: readonly { timeMs: number; text: string }[];
  /** informational lines from the builder (`message/logged` with `info`), not warnings */
  notes: readonly { timeMs: number; text: string }[];
  /** causes explained before their vertex appeared, by digest; moved onto the step when it does */
  pendingCauses: Readonly<Record<string, StepCauseInfo>>;
  /** the Dockerfile and target being built (`build/defined`); null when not reported */
  definition: BuildDefinition | null;
}

/** What a build builds, as `build/defined` reported it. */
export interface BuildDefinition {
  dockerfile: string;
  /** '' for the last stage */
  target: string;
}

/** Where a step stands, for glyphs and counts. */
export type StepPhase = 'waiting' | 'running' | 'done' | 'cached' | 'failed' | 'canceled';

/** Totals shown in summaries. */
export interface BuildSummary {
  /**
   * Dockerfile steps (`[stage n/m] …` vertices) that finished, as `countDockerfileSteps` defines
   * them; BuildKit's own vertices (load build definition, load metadata, exporting…) do not count
   */
  steps: number;
  /** of those, the ones cached (a `FROM` of an image already in the builder's engine included) */
  cached: number;
  /** of the cached ones, the installs the smart cache reused (the original order would have run them) */
  reused: number;
  /** Dockerfile steps reported so far, finished or not: the `M` of a running `steps N/M` */
  seen: number;
  /** build start (sync included) to build/finished, or to the latest event while running */
  durationMs: number;
  bytesSynced: number;
  bytesLoaded: number;
  imageSize: number;
  ok: boolean;
}

/** The empty state a build (or each rebuild of the dev loop) starts from. */
export function initialBuildState(): BuildState {
  return {
    buildId: '',
    builderId: '',
    platform: '',
    startedMs: 0,
    finishedMs: 0,
    nowMs: 0,
    steps: [],
    stepIndex: {},
    sync: null,
    result: null,
    load: null,
    messages: [],
    notes: [],
    pendingCauses: {},
    definition: null,
  };
}

/** Parsed parts of a BuildKit vertex name. */
export interface ParsedVertexName {
  stage: string;
  platform: string;
  stepIndex: number;
  stepTotal: number;
  tag: string;
  instruction: string;
}

const BRACKET = /^\[([^\]]*)\]\s?(.*)$/s;
const STEP_REF = /^(?:(.*?)\s+)?(\d+)\/(\d+)$/;

/** Splits `[stage N/M] INSTR`, `[platform stage N/M] INSTR`, `[internal] …` and plain names. */
export function parseVertexName(name: string): ParsedVertexName {
  const out: ParsedVertexName = {
    stage: '',
    platform: '',
    stepIndex: 0,
    stepTotal: 0,
    tag: '',
    instruction: name,
  };
  const m = BRACKET.exec(name);
  if (!m) return out;
  const inside = (m[1] ?? '').trim();
  out.instruction = m[2] ?? '';
  const ref = STEP_REF.exec(inside);
  if (!ref) {
    out.tag = inside;
    return out;
  }
  out.stepIndex = Number(ref[2]);
  out.stepTotal = Number(ref[3]);
  const words = (ref[1] ?? '').split(/\s+/).filter(Boolean);
  if (words.length > 0 && /^[a-z0-9]+\/[a-z0-9_/.-]+$/i.test(words[0] ?? '')) {
    out.platform = words.shift() ?? '';
  }
  out.stage = words.join(' ');
  return out;
}

/** Whether a step will not change any more (done, cached, failed or canceled). */
export function isStepFinished(step: StepState): boolean {
  return step.cached || step.completedMs > 0 || step.error !== '';
}

/** A step's phase; an error ending in "context canceled" is a cancellation, as BuildKit prints it. */
export function stepPhase(step: StepState): StepPhase {
  if (step.error !== '') return /cancel(l)?ed$/.test(step.error) ? 'canceled' : 'failed';
  if (step.cached) return 'cached';
  if (step.completedMs > 0) return 'done';
  if (step.startedMs > 0) return 'running';
  return 'waiting';
}

/** The step for a digest, if it has been seen. */
export function findStep(state: BuildState, digest: string): StepState | undefined {
  const pos = state.stepIndex[digest];
  return pos === undefined ? undefined : state.steps[pos];
}

/** digest → BuildKit plain-progress number (`#N`), as assigned in order of first appearance. */
export function numberSteps(state: BuildState): ReadonlyMap<string, number> {
  return new Map(state.steps.map((s) => [s.digest, s.number]));
}

/** The text a terminal would show for a log line (what follows its last carriage return). */
export function visibleLogText(text: string): string {
  const cr = text.lastIndexOf('\r');
  return cr < 0 ? text : text.slice(cr + 1);
}

// dockerd's own `{"stream": …}` lines that only repeat what the trace already showed
// (`naming to …`, the image id); docker's BuildKit output does not print them either.
const ECHOED_DAEMON_MESSAGE = /^\s*Successfully (built|tagged) \S+\s*$/;

/** Whether a daemon message line merely repeats the trace (`Successfully built/tagged …`). */
export function isEchoedDaemonMessage(text: string): boolean {
  return ECHOED_DAEMON_MESSAGE.test(text);
}

/** Totals for summary lines. */
export function summarize(state: BuildState): BuildSummary {
  const end = state.finishedMs || state.nowMs;
  const counted = countDockerfileSteps(state.steps);
  return {
    steps: counted.total,
    cached: counted.cached,
    reused: state.steps.filter((step) => step.reused).length,
    seen: state.steps.filter((s) => isDockerfileStep(s.name)).length,
    durationMs: state.startedMs > 0 && end > state.startedMs ? end - state.startedMs : 0,
    bytesSynced: state.sync?.bytesSent ?? 0,
    bytesLoaded: state.load?.bytes ?? 0,
    imageSize: state.load?.imageSize ?? 0,
    ok: state.result?.ok === true,
  };
}

/** Pure reducer: the next state after one event; never mutates its input. */
export function reduceBuild(state: BuildState, event: BuildEvent): BuildState {
  const s: BuildState = event.timeMs > state.nowMs ? { ...state, nowMs: event.timeMs } : { ...state };
  switch (event.type) {
    case 'build/started':
      return {
        ...s,
        buildId: event.buildId,
        builderId: event.builderId,
        platform: event.platform,
        startedMs: s.startedMs || event.timeMs,
      };
    case 'build/defined':
      return { ...s, definition: { dockerfile: event.dockerfile, target: event.target } };
    case 'sync/started':
      return {
        ...s,
        startedMs: s.startedMs || event.timeMs,
        sync: { ...newSync(event.timeMs), entries: event.entries },
      };
    case 'sync/progress': {
      const { type: _type, timeMs, phase, ...reading } = event;
      const progress: SyncProgress = { ...reading, phase, timeMs };
      // Hashing comes before `sync/started` (its entry count needs the hashes): it opens the sync.
      const sync: SyncState = s.sync ?? newSync(timeMs);
      if (sync.ackedMs > 0) return s;
      return { ...s, startedMs: s.startedMs || timeMs, sync: { ...sync, progress } };
    }
    case 'sync/acked':
      return {
        ...s,
        startedMs: s.startedMs || event.timeMs,
        sync: {
          startedMs: s.sync?.startedMs || event.timeMs,
          ackedMs: event.timeMs,
          entries: event.entries,
          snapshotId: event.snapshotId,
          bytesSent: event.bytesSent,
          blobsSent: event.blobsSent,
          filesChanged: event.filesChanged ?? event.blobsSent,
          totalBytes: event.totalBytes,
          progress: null,
        },
      };
    case 'vertex/updated':
      return upsertVertex(s, event.vertex);
    case 'status/updated': {
      const step = findStep(s, event.status.vertex);
      // BuildKit's progressui drops statuses of vertices it has not seen; so do we.
      if (!step) return s;
      const at = step.statuses.findIndex((x) => x.id === event.status.id);
      const statuses =
        at < 0
          ? [...step.statuses, event.status]
          : step.statuses.map((x, i) => (i === at ? event.status : x));
      let bytesCurrent = 0;
      let bytesTotal = 0;
      for (const st of statuses) {
        bytesCurrent += st.current;
        bytesTotal += st.total;
      }
      return replaceStep(s, { ...step, statuses, bytesCurrent, bytesTotal });
    }
    case 'log/appended': {
      const step = findStep(s, event.vertex);
      if (!step) return s;
      return replaceStep(s, appendLog(step, event.timeMs, event.stream, event.data));
    }
    case 'message/logged': {
      const text = event.text
        .split('\n')
        .filter((l) => !isEchoedDaemonMessage(l))
        .join('\n');
      if (text.trim() === '') return s;
      if (event.info)
        return { ...s, notes: [...s.notes, { timeMs: event.timeMs, text }].slice(-MAX_MESSAGES) };
      const messages = [...s.messages, { timeMs: event.timeMs, text }];
      return { ...s, messages: messages.slice(-MAX_MESSAGES) };
    }
    case 'step/explained': {
      const cause = { ...event.cause, paths: [...event.cause.paths] };
      const step = findStep(s, event.vertex);
      // The builder may explain a step before BuildKit reports its vertex: keep the cause for it.
      if (!step) return { ...s, pendingCauses: { ...s.pendingCauses, [event.vertex]: cause } };
      return replaceStep(s, { ...step, cause });
    }
    case 'step/reused': {
      const step = findStep(s, event.vertex);
      return step ? replaceStep(s, { ...step, reused: event.text }) : s;
    }
    case 'step/saved': {
      const step = findStep(s, event.vertex);
      return step && event.coldMs > 0 ? replaceStep(s, { ...step, coldMs: event.coldMs }) : s;
    }
    case 'step/layer': {
      const step = findStep(s, event.vertex);
      return step && event.bytes >= 0 ? replaceStep(s, { ...step, layerBytes: event.bytes }) : s;
    }
    case 'build/finished':
      return {
        ...s,
        finishedMs: event.timeMs,
        result: {
          ok: event.ok,
          imageId: event.imageId,
          error: event.error,
          errorCode: event.errorCode,
          finishedMs: event.timeMs,
        },
      };
    case 'load/started':
      return {
        ...s,
        load: {
          startedMs: event.timeMs,
          finishedMs: 0,
          bytes: 0,
          imageSize: 0,
          layersSent: 0,
          layersTotal: 0,
          note: '',
          tags: [],
          progress: null,
        },
      };
    case 'load/progress': {
      if (!s.load || s.load.finishedMs > 0) return s;
      const { type: _type, timeMs, ...reading } = event;
      return { ...s, load: { ...s.load, progress: { ...reading, timeMs } } };
    }
    case 'load/finished':
      return {
        ...s,
        load: {
          startedMs: s.load?.startedMs || event.timeMs,
          finishedMs: event.timeMs,
          bytes: event.bytes,
          imageSize: event.imageSize,
          layersSent: event.layersSent,
          layersTotal: event.layersTotal,
          note: event.note,
          tags: [...event.tags],
          progress: null,
        },
      };
    default:
      return s;
  }
}

function upsertVertex(state: BuildState, v: VertexInfo): BuildState {
  const old = findStep(state, v.digest);
  if (!old) {
    const step: StepState = {
      digest: v.digest,
      number: state.steps.length + 1,
      name: v.name,
      ...parseVertexName(v.name),
      inputs: [...v.inputs],
      cached: v.cached,
      startedMs: v.startedMs,
      completedMs: v.completedMs,
      error: v.error,
      statuses: [],
      logs: [],
      logsDropped: 0,
      logPartial: false,
      bytesCurrent: 0,
      bytesTotal: 0,
      cause: state.pendingCauses[v.digest] ?? null,
      reused: null,
      coldMs: 0,
      layerBytes: null,
    };
    let pendingCauses = state.pendingCauses;
    if (step.cause) {
      const { [v.digest]: _taken, ...rest } = pendingCauses;
      pendingCauses = rest;
    }
    return {
      ...state,
      steps: [...state.steps, step],
      stepIndex: { ...state.stepIndex, [v.digest]: state.steps.length },
      pendingCauses,
    };
  }
  // A vertex is re-sent whole whenever it changes; later fields win. A zero start time
  // never erases a known one (a re-sent vertex keeps its start), but completion may reset
  // when BuildKit runs a vertex again.
  const name = v.name || old.name;
  return replaceStep(state, {
    ...old,
    ...(name !== old.name ? { name, ...parseVertexName(name) } : {}),
    inputs: v.inputs.length > 0 ? [...v.inputs] : old.inputs,
    cached: v.cached,
    startedMs: v.startedMs || old.startedMs,
    completedMs: v.completedMs,
    error: v.error,
  });
}

function replaceStep(state: BuildState, step: StepState): BuildState {
  const pos = state.stepIndex[step.digest];
  if (pos === undefined) return state;
  const steps = state.steps.slice();
  steps[pos] = step;
  return { ...state, steps };
}

function appendLog(step: StepState, timeMs: number, stream: number, data: string): StepState {
  if (data === '') return step;
  const parts = data.split('\n');
  const endsWithNewline = parts[parts.length - 1] === '';
  if (endsWithNewline) parts.pop();
  const logs = step.logs.slice();
  parts.forEach((raw, i) => {
    // CRLF endings: drop the \r of complete lines only; a partial line may still be redrawing.
    const complete = i < parts.length - 1 || endsWithNewline;
    const last = logs[logs.length - 1];
    const continues = i === 0 && step.logPartial && last !== undefined;
    const joined = continues ? last.text + raw : raw;
    const text = complete && joined.endsWith('\r') ? joined.slice(0, -1) : joined;
    if (continues) logs[logs.length - 1] = { ...last, text };
    else logs.push({ timeMs, stream, text });
  });
  const drop = Math.max(0, logs.length - MAX_LOG_LINES);
  return {
    ...step,
    logs: drop > 0 ? logs.slice(drop) : logs,
    logsDropped: step.logsDropped + drop,
    logPartial: !endsWithNewline,
  };
}

/** A sync that started at `startedMs` and has nothing to show yet. */
function newSync(startedMs: number): SyncState {
  return {
    startedMs,
    ackedMs: 0,
    entries: 0,
    snapshotId: '',
    bytesSent: 0,
    blobsSent: 0,
    filesChanged: 0,
    totalBytes: 0,
    progress: null,
  };
}
