import type { BuildEvent, ContextEntry } from '../../../src/protocol/index.js';
import { stepCause } from './explainer.js';
import type { BuildFeed } from './feed.js';
import type { History } from './history.js';
import { diffSnapshots, EMPTY_DIFF } from './snapshot-diff.js';
import { instructionOf, isDockerfileStep } from './suggest.js';
import { createTraceRecorder } from './trace.js';
import type {
  BuildStart,
  BuildSummary,
  FoundCause,
  PreviousBuild,
  StepCause,
  StepExplainer,
  StepRecord,
} from './types.js';

/** What a recording needs besides the build itself. */
export interface RecordingDeps {
  history: History;
  explainer: StepExplainer;
  feed: BuildFeed;
  /** Entries of a stored snapshot (the previous build's, for the diff). */
  snapshotEntries(id: string): Promise<readonly ContextEntry[] | undefined>;
  now?: () => number;
  /** Called when history fails; recording never fails a build. */
  onError?: (err: unknown) => void;
}

/** The inputs of a build being recorded, as the server knows them before it runs. */
export type RecordingInput = Omit<BuildStart, 'startedMs' | 'prevSnapshotId' | 'snapshotDiff'> & {
  entries: readonly ContextEntry[];
};

/** A vertex as the engine reports it (and the memo replays it). */
export interface RecordedVertex {
  digest: string;
  name: string;
  cached: boolean;
  startedMs: number;
  completedMs: number;
  error: string;
  /** Digests of the vertices it builds on (how a cascade is followed). */
  inputs?: readonly string[];
}

/** One build being recorded: feed it the engine's vertices and statuses, then finish it. */
export interface BuildRecording {
  /** Notes a vertex; the causes to stream now (this vertex's when it just completed uncached, held ones). */
  vertex(v: RecordedVertex): Promise<Explained[]>;
  /** Causes still held back; call before sending the result. */
  flush(): Promise<Explained[]>;
  /**
   * What a Dockerfile step the cache answered would have run cold (ms, from this project's
   * history), once per step as it completes cached; 0 when unknown or not such a step.
   */
  coldMs(v: RecordedVertex): Promise<number>;
  /** Notes progress bytes of a vertex's sub-task. */
  status(s: { vertex: string; id: string; current: number }): void;
  /** Notes an event the Build stream sent, for the build's trace (output events are not kept). */
  event(ev: BuildEvent): void;
  /**
   * Records the end of the build once (later calls are ignored), with why it failed when known
   * and its trace; never rejects.
   */
  finish(result: 'ok' | 'failed' | 'cancelled', error?: string): Promise<void>;
}

/** A cause to stream for one vertex. */
export interface Explained {
  vertex: string;
  cause: StepCause;
}

interface SeenVertex extends RecordedVertex {
  cause?: StepCause;
  /** Its cause is that of a missed step it builds on. */
  cascade?: boolean;
  /** The step whose own inputs changed that this miss follows from (itself when not a cascade). */
  root?: RootStep;
  bytes: Map<string, number>;
}

/** A missed step whose own inputs changed: the root a cascaded miss names. */
interface RootStep {
  name: string;
  digest: string;
  cause: StepCause;
}

const NOOP: BuildRecording = {
  vertex: async () => [],
  flush: async () => [],
  coldMs: async () => 0,
  status() {},
  event() {},
  async finish() {},
};

/**
 * Records a build's start (and announces it on the feed), explains each uncached step as it
 * completes, and records its steps at the end. A failing history turns it into a no-op.
 */
export async function beginRecording(deps: RecordingDeps, input: RecordingInput): Promise<BuildRecording> {
  const now = deps.now ?? Date.now;
  let previous: PreviousBuild | undefined;
  let id: number;
  let startSummary: BuildSummary;
  const { entries, ...start } = input;
  let diff = EMPTY_DIFF;
  try {
    previous = await deps.history.previousBuild(
      input.project,
      input.platform,
      input.dockerfilePath,
      input.target,
    );
    const prevEntries = previous ? await deps.snapshotEntries(previous.snapshotId) : undefined;
    diff = diffSnapshots(prevEntries, entries);
    const started = await deps.history.recordBuildStart({
      ...start,
      startedMs: now(),
      prevSnapshotId: previous?.snapshotId,
      snapshotDiff: diff,
    });
    id = started.id;
    startSummary = started.summary;
    deps.feed.publish(started.summary);
  } catch (err) {
    deps.onError?.(err);
    return NOOP;
  }
  const trace = createTraceRecorder({ maxBytes: deps.history.traceMaxBytes });
  const seen = new Map<string, SeenVertex>();
  // Cached steps whose cold duration was looked up (BuildKit may report a vertex cached twice).
  const coldAsked = new Set<string>();
  // Inputs of the vertices that are no Dockerfile step, so a cascade is followed through them.
  const otherInputs = new Map<string, readonly string[]>();
  let finished = false;
  // BuildKit may report a FROM as completed uncached, then as cached; its cause waits for the next
  // vertex (or the end) so a step that turns cached is never explained.
  const held = new Set<string>();
  const prevDigests = new Set(previous?.steps.map((p) => p.digest) ?? []);

  /** The first missed step this one builds on whose own inputs changed (its root), if any. */
  function missedAncestor(s: SeenVertex): RootStep | undefined {
    const queue = [...(s.inputs ?? [])];
    const visited = new Set<string>();
    while (queue.length > 0) {
      const d = queue.shift()!;
      if (visited.has(d)) continue;
      visited.add(d);
      const parent = seen.get(d);
      if (!parent) {
        queue.push(...(otherInputs.get(d) ?? []));
        continue;
      }
      if (parent.cached || parent.completedMs <= 0) continue;
      if (parent.root) return parent.root;
    }
    return undefined;
  }

  async function explain(s: SeenVertex): Promise<Explained | undefined> {
    if (s.cached) return undefined;
    const earlierCause = missedAncestor(s);
    let cause: FoundCause;
    try {
      cause = await deps.explainer.explain({
        project: input.project,
        dockerfilePath: input.dockerfilePath,
        target: input.target,
        noCache: input.noCache,
        previous,
        snapshotDiff: diff,
        buildArgs: input.buildArgs,
        prevBuildArgs: previous?.buildArgs ?? {},
        dockerfile: input.dockerfile,
        prevDockerfile: previous?.dockerfile,
        baseImages: input.baseImages,
        prevBaseImages: previous?.baseImages ?? {},
        step: { digest: s.digest, name: s.name, cachedBefore: prevDigests.has(s.digest) },
        earlierCause,
      });
    } catch (err) {
      deps.onError?.(err);
      cause = stepCause('unknown', 'the cause could not be determined');
    }
    const { cascade, ...found } = cause;
    s.cascade = cascade === true && earlierCause !== undefined;
    // A cascade names its root's vertex, so a client can point at that step instead of repeating the cause.
    const wire: StepCause = s.cascade && earlierCause ? { ...found, rootVertex: earlierCause.digest } : found;
    s.cause = wire;
    s.root = s.cascade ? earlierCause : { name: s.name, digest: s.digest, cause: wire };
    return { vertex: s.digest, cause: wire };
  }

  async function release(except?: string): Promise<Explained[]> {
    const out: Explained[] = [];
    for (const d of [...held]) {
      if (d === except) continue;
      held.delete(d);
      const e = await explain(seen.get(d)!);
      if (e) out.push(e);
    }
    return out;
  }

  return {
    async vertex(v) {
      if (!isDockerfileStep(v.name)) {
        if (v.inputs?.length) otherInputs.set(v.digest, v.inputs);
        return [];
      }
      let s = seen.get(v.digest);
      const wasDone = s !== undefined && s.completedMs > 0;
      if (!s) {
        s = { ...v, bytes: new Map() };
        seen.set(v.digest, s);
      } else
        Object.assign(s, {
          ...v,
          startedMs: v.startedMs || s.startedMs,
          inputs: v.inputs?.length ? v.inputs : s.inputs,
        });
      const out = await release(v.digest);
      if (v.cached) held.delete(v.digest);
      if (wasDone || v.cached || v.completedMs <= 0) return out;
      if (/^FROM\s/i.test(instructionOf(v.name))) {
        held.add(v.digest);
        return out;
      }
      const e = await explain(s);
      return e ? [...out, e] : out;
    },

    flush() {
      return release();
    },

    async coldMs(v) {
      if (!v.cached || coldAsked.has(v.digest) || !isDockerfileStep(v.name)) return 0;
      coldAsked.add(v.digest);
      try {
        return await deps.history.timeSaved({ project: input.project, digest: v.digest, name: v.name });
      } catch (err) {
        deps.onError?.(err);
        return 0;
      }
    },

    status(st) {
      const s = seen.get(st.vertex);
      if (s && st.current > (s.bytes.get(st.id) ?? 0)) s.bytes.set(st.id, st.current);
    },

    event(ev) {
      if (!finished) trace.add(ev, now());
    },

    async finish(result, error) {
      if (finished) return;
      finished = true;
      const steps: StepRecord[] = [];
      for (const s of seen.values()) {
        // The steps countDockerfileSteps counts (src/protocol/dockerfile-steps): Dockerfile steps
        // only (vertex() keeps no others); those never reached neither hit nor missed.
        if (!s.cached && s.completedMs <= 0) continue;
        steps.push({
          digest: s.digest,
          name: s.name,
          cached: s.cached,
          durationMs: s.startedMs > 0 && s.completedMs >= s.startedMs ? s.completedMs - s.startedMs : 0,
          bytes: [...s.bytes.values()].reduce((a, b) => a + b, 0),
          cause: s.cached ? undefined : s.cause,
          cascade: !s.cached && s.cascade === true,
        });
      }
      const finishedMs = now();
      let summary: BuildSummary;
      try {
        // A trace that cannot be made does not cost the build its record.
        const sealed = await trace.seal().catch((err: unknown) => {
          deps.onError?.(err);
          return undefined;
        });
        summary = await deps.history.recordBuildFinish({
          id,
          finishedMs,
          result,
          steps,
          ...(error ? { error } : {}),
          ...(sealed ? { trace: sealed } : {}),
        });
      } catch (err) {
        deps.onError?.(err);
        // Unrecorded, but watchers still learn that it ended.
        summary = {
          ...startSummary,
          finishedMs,
          result,
          steps: steps.length,
          cachedSteps: steps.filter((x) => x.cached).length,
        };
      }
      deps.feed.publish(summary);
    },
  };
}
