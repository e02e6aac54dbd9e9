/**
 * The one event union every renderer (plain, json, Ink) and the dev loop consume.
 * Events are past-tense facts; they are produced by the client from the builder's stream
 * and from its own sync and load steps.
 */

import type { ProgressReading } from './meter.js';

/** A BuildKit vertex (one step of the build graph), as last reported. */
export interface VertexInfo {
  digest: string;
  name: string;
  inputs: string[];
  cached: boolean;
  /** ms since epoch; 0 when not started */
  startedMs: number;
  /** ms since epoch; 0 when not completed */
  completedMs: number;
  /** non-empty when the vertex failed */
  error: string;
}

/** Progress of one sub-task of a vertex (e.g. a layer being extracted, bytes transferred). */
export interface StatusInfo {
  id: string;
  vertex: string;
  name: string;
  current: number;
  total: number;
  startedMs: number;
  completedMs: number;
}

/** Why a step missed the cache, as the builder explained it (see StepCause in builder.proto). */
export interface StepCauseInfo {
  /**
   * `changed_files`, `build_arg`, `dockerfile_changed`, `base_image`, `no_cache`, `first_build`,
   * `evicted` or `unknown` (kinds a newer builder adds are shown by their text)
   */
  kind: string;
  /** one human line, e.g. `src/app.js and 2 more changed under COPY src/ .` */
  text: string;
  /** changed_files: the changed context paths under the step's sources (capped) */
  paths: string[];
  /** changed_files: how many more paths changed than `paths` lists */
  morePaths: number;
  /** build_arg: the argument's name */
  name: string;
  /** dockerfile_changed: the instruction's line (1-based) in the new Dockerfile */
  line: number;
  /** base_image: the new image digest */
  digest: string;
  /**
   * Set on a cascade (the step missed only because a step it builds on did): the vertex digest of
   * the root, the first such step whose own inputs changed; the other fields are the root's cause.
   * Absent from older builders, whose cascade texts name the root's instruction (`follows from …`).
   */
  rootVertex?: string;
}

export type BuildEvent =
  | { type: 'build/started'; timeMs: number; builderId: string; platform: string; buildId: string }
  /**
   * What the builder builds: the Dockerfile text as sent (the smart cache's rewrite when it made
   * one) and the target ('' for the last stage). The views draw the Dockerfile's stages from it.
   */
  | { type: 'build/defined'; timeMs: number; dockerfile: string; target: string }
  | { type: 'sync/started'; timeMs: number; entries: number }
  /**
   * Long sync work moved on (rate-limited, see PROGRESS_EVENT_INTERVAL_MS): `hashing` the changed
   * files of the context (may come before `sync/started`), then `uploading` the contents the
   * builder lacks. The last one of a phase carries its final counts; totals of 0 are unknown.
   */
  | ({ type: 'sync/progress'; timeMs: number; phase: SyncPhase } & ProgressReading)
  | {
      type: 'sync/acked';
      timeMs: number;
      snapshotId: string;
      /** Blob bytes uploaded (file contents only). */
      bytesSent: number;
      /** Unique contents uploaded (files with the same content are sent once). */
      blobsSent: number;
      /** Files new or changed since the last snapshot this client synced (all files on a first sync). */
      filesChanged?: number;
      entries: number;
      totalBytes: number;
    }
  | { type: 'vertex/updated'; timeMs: number; vertex: VertexInfo }
  | { type: 'status/updated'; timeMs: number; status: StatusInfo }
  | { type: 'log/appended'; timeMs: number; vertex: string; stream: number; data: string }
  /** Daemon or builder text outside any step; `info` marks a note rather than a warning. */
  | { type: 'message/logged'; timeMs: number; text: string; info?: boolean }
  /** Why a step was not cached; may come before or after the step's vertex. */
  | { type: 'step/explained'; timeMs: number; vertex: string; cause: StepCauseInfo }
  /**
   * A cached step the original Dockerfile would have run again: the smart cache's reordering
   * reused it (`depot build --smart-cache`). Comes after the step's vertex.
   */
  | { type: 'step/reused'; timeMs: number; vertex: string; text: string }
  /**
   * What a step the cache answered would have run cold: its last uncached run in the project's
   * history (ms). Comes after the step's vertex; only when the history knows one.
   */
  | { type: 'step/saved'; timeMs: number; vertex: string; coldMs: number }
  /**
   * The size of the layer a step added to the built image (uncompressed bytes; 0 for an empty
   * layer), from the engine's image history. Comes once the image exists, before `build/finished`;
   * only for the steps of the image's own stages (a stage it copies from has no layer in it).
   */
  | { type: 'step/layer'; timeMs: number; vertex: string; bytes: number }
  | {
      type: 'build/finished';
      timeMs: number;
      ok: boolean;
      imageId: string;
      error: string;
      errorCode: string;
      /** Size of the built image on the builder, when known. */
      imageSize?: number;
      /** Diff ids of the image's layers, bottom first, when known. */
      diffIds?: string[];
    }
  | { type: 'load/started'; timeMs: number }
  /** Archive bytes sent to the local engine so far (rate-limited); `bytesTotal` 0 when unknown. */
  | {
      type: 'load/progress';
      timeMs: number;
      bytes: number;
      bytesTotal: number;
      bytesPerSecond: number;
      etaMs: number;
    }
  | {
      type: 'load/finished';
      timeMs: number;
      /** Archive bytes sent to the local engine. */
      bytes: number;
      imageSize: number;
      layersSent: number;
      layersTotal: number;
      /** Why every layer was sent, when it was (e.g. the containerd image store). */
      note: string;
      tags: string[];
    };

/** What a `sync/progress` event measures. */
export type SyncPhase = 'hashing' | 'uploading';

export type BuildEventType = BuildEvent['type'];
