import type { BuildRecord__Output } from '../../../src/protocol/generated/depot/builder/v1/BuildRecord.js';
import type { BuildSummary__Output } from '../../../src/protocol/generated/depot/builder/v1/BuildSummary.js';
import type { StatsResponse__Output } from '../../../src/protocol/generated/depot/builder/v1/StatsResponse.js';
import type { StepCause__Output } from '../../../src/protocol/generated/depot/builder/v1/StepCause.js';
import type { SealedTrace, TraceCut } from './trace.js';

/**
 * Why one step missed the cache (the wire `StepCause`, every field present but `rootVertex`, which
 * only the recorder knows: the explainer sees steps by name).
 */
export type StepCause = Omit<StepCause__Output, 'rootVertex'> & { rootVertex?: string };
/** Kinds of `StepCause.kind`. */
export type StepCauseKind =
  | 'changed_files'
  | 'build_arg'
  | 'dockerfile_changed'
  | 'base_image'
  | 'no_cache'
  | 'first_build'
  | 'evicted'
  | 'unknown';
/** One build as WatchBuilds streams it and Stats lists it under `running`. */
export type BuildSummary = BuildSummary__Output;
/** One build as ListBuilds lists it: its summary, Dockerfile path, target, error and trace facts. */
export type BuildRecord = BuildRecord__Output & { summary: BuildSummary };
/** What `History.stats` answers: the wire `StatsResponse`. */
export type StatsResult = StatsResponse__Output;

/** Outcome of a recorded build. */
export type BuildOutcome = 'running' | 'ok' | 'failed' | 'cancelled';

/** Context paths that differ between two snapshots, each list capped (see SNAPSHOT_DIFF_CAP). */
export interface SnapshotDiff {
  added: string[];
  changed: string[];
  removed: string[];
  /** Full counts, which exceed the lists' lengths when they were capped. */
  addedCount: number;
  changedCount: number;
  removedCount: number;
}

/** One step (BuildKit vertex) of a build, as recorded when the build finishes. */
export interface StepRecord {
  digest: string;
  /** The vertex name, e.g. "[build 3/5] RUN npm ci". */
  name: string;
  cached: boolean;
  durationMs: number;
  bytes: number;
  /**
   * Why it missed; undefined for cached steps or when nothing explained it. A cascade's names its
   * root (`rootVertex`, the root's digest), the step of the build its miss is charged to (roots.ts).
   */
  cause?: StepCause;
  /**
   * It missed only because a step it builds on missed (its cause is that step's): no cache buster of
   * its own, its rebuild charged to that root's.
   */
  cascade?: boolean;
}

/** What is known when a build starts. */
export interface BuildStart {
  buildId: string;
  project: string;
  user: string;
  platform: string;
  startedMs: number;
  snapshotId: string;
  prevSnapshotId?: string;
  snapshotDiff?: SnapshotDiff;
  buildArgs: Record<string, string>;
  /**
   * The Dockerfile's path in the context ('' when it was sent on its own: stdin, or outside the
   * context); with `target` it names the line of builds a new build is compared with.
   */
  dockerfilePath: string;
  /** The target stage ('' for the last one). */
  target: string;
  /** "sha256:<hex>" of the Dockerfile bytes. */
  dockerfileDigest: string;
  /** The Dockerfile text, kept once per digest so the next build can be compared with it. */
  dockerfile: string;
  /** Base image ref → image id, as resolved when the build started. */
  baseImages: Record<string, string>;
  noCache: boolean;
  bytesUploaded: number;
  bytesDeduplicated: number;
}

/** What is known when a build ends. */
export interface BuildFinish {
  /** The handle `recordBuildStart` returned. */
  id: number;
  finishedMs: number;
  result: Exclude<BuildOutcome, 'running'>;
  steps: StepRecord[];
  /** Why it failed or was cancelled, when known (kept cut to MAX_ERROR_CHARS). */
  error?: string;
  /** The events its Build stream sent, compressed and bounded (trace.ts); none when traces are off. */
  trace?: SealedTrace;
}

/** A ListBuilds question: one project's latest builds, optionally of one result and platform. */
export interface ListBuildsQuery {
  project: string;
  /** At most this many (bounded by the caller). */
  limit: number;
  result?: string;
  platform?: string;
  /** Only builds where a step of this instruction (`steps.instr`) was a root miss of the cache. */
  missedStep?: string;
}

/** One build found by its id (or an unambiguous prefix of it) in a project, with its trace. */
export type FoundBuild =
  | {
      kind: 'found';
      record: BuildRecord;
      /** The Dockerfile it ran ('' when the text was not kept). */
      dockerfile: string;
      /** The stored trace; `maxBytes`, the bound it was kept within. */
      trace?: { codec: string; data: Buffer; events: number; cut: TraceCut; maxBytes: number };
    }
  | { kind: 'none' }
  /** The prefix names several build ids of the project (the first few, newest first). */
  | { kind: 'ambiguous'; ids: string[] };

/**
 * The inputs and steps of the last finished build of the same project, platform, Dockerfile path
 * and target, which a new build is compared with.
 */
export interface PreviousBuild {
  buildId: string;
  platform: string;
  startedMs: number;
  finishedMs: number;
  result: BuildOutcome;
  snapshotId: string;
  /** The values, or their fingerprints (see buildArgFingerprint) when `buildArgsHashed`. */
  buildArgs: Record<string, string>;
  buildArgsHashed?: boolean;
  dockerfileDigest: string;
  /** Undefined when the text was not kept (pruned, or recorded by an older builder). */
  dockerfile: string | undefined;
  baseImages: Record<string, string>;
  steps: { digest: string; name: string; cached: boolean; durationMs: number }[];
}

/** Everything the why-missed analysis may look at for one uncached step. */
export interface ExplainInput {
  project: string;
  /** The build's Dockerfile path ('' when sent on its own) and target ('' for the last stage). */
  dockerfilePath: string;
  target: string;
  noCache: boolean;
  previous: PreviousBuild | undefined;
  snapshotDiff: SnapshotDiff;
  buildArgs: Record<string, string>;
  prevBuildArgs: Record<string, string>;
  dockerfile: string;
  prevDockerfile: string | undefined;
  /** Base image ref → image id. */
  baseImages: Record<string, string>;
  prevBaseImages: Record<string, string>;
  step: {
    digest: string;
    name: string;
    /**
     * The previous build (`previous`) had a step with this digest, cached or built: the evidence
     * an "evicted" cause needs.
     */
    cachedBefore: boolean;
  };
  /**
   * The first step whose own inputs changed among the missed steps this one builds on (followed
   * through the vertex inputs), with its own cause: this step's miss follows from it.
   */
  earlierCause?: { name: string; cause: StepCause };
}

/** A cause as the explainer finds it; `cascade` when it is `earlierCause`'s (the step only followed). */
export type FoundCause = StepCause & { cascade?: boolean };

/** Finds why one step missed the cache (the real analysis lives in history/explain.ts). */
export interface StepExplainer {
  explain(input: ExplainInput): FoundCause | Promise<FoundCause>;
}

/** Stats windows the Stats RPC accepts. */
export type StatsWindow = '1h' | '24h' | '7d';
/** Dimensions Stats groups by. */
export type StatsGroupBy = 'project' | 'user' | 'platform';

/** A Stats query; `project` scopes it to one project (a project token's view). */
export interface StatsQuery {
  window: StatsWindow;
  groupBy: StatsGroupBy;
  project?: string;
  /** ms since epoch; the window is (now - window, now]. */
  now: number;
}

/** Retention limits of the history database. */
export interface RetentionOptions {
  /** Largest event trace kept per build, compressed (default DEFAULT_TRACE_MAX_BYTES); 0 keeps none. */
  traceMaxBytes?: number;
  /** Builds that started longer ago are deleted; default 30. */
  maxAgeDays?: number;
  /** At most this many builds are kept (newest first); default 200 000. */
  maxBuilds?: number;
  /**
   * How build-arg values are kept: 'hashed' (default) keeps each value's sha256 fingerprint, enough
   * to tell that a value changed; 'plain' keeps the values themselves.
   */
  buildArgs?: 'hashed' | 'plain';
}
