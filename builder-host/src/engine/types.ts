import { EngineApiError } from '../../../src/engine-api/index.js';
import type { EngineBuildOptions } from '../../../src/protocol/engine-options.js';
import type { PushAuth, PushResult } from './push.js';
import type { SessionOptions } from './session/session.js';

/** Facts about a Docker engine, from `GET /version` and `GET /info`. */
export interface EngineInfo {
  version: string;
  apiVersion: string;
  os: string;
  arch: string;
  /** e.g. linux/amd64 or linux/arm64/v8 */
  platform: string;
  imageStore: 'graphdriver' | 'containerd';
  id: string;
}

/** What `inspectImage` tells about an image. */
export interface ImageFacts {
  id: string;
  size: number;
  diffIds: string[];
  /** From the image config, e.g. linux/arm64/v8; empty when the config does not say. */
  platform: string;
  /** The names the engine has for it (`repo:tag`). */
  repoTags: string[];
  /** Registry digests it was pushed or pulled as (`repo@sha256:…`). */
  repoDigests: string[];
}

/** One entry of an image's history (`GET /images/{id}/history`), newest first as the engine lists them. */
export interface ImageHistoryEntry {
  /** the instruction as the image config records it, e.g. `RUN /bin/sh -c make # buildkit` */
  createdBy: string;
  /** bytes of the layer the entry added (uncompressed); 0 for an entry without a layer */
  size: number;
}

/** One build to run on the engine. */
export interface EngineBuildRequest {
  /** The build context as a tar stream (the tar driver); ignored when `session` is set. */
  context?: NodeJS.ReadableStream;
  /**
   * The session driver: BuildKit fetches the context and the Dockerfile (dirs "context" and
   * "dockerfile"), secrets, registry credentials and SSH agents through a session the engine
   * opens back to the builder.
   */
  session?: SessionOptions;
  /** Path of the Dockerfile inside the tar, or its name in the session's "dockerfile" dir. */
  dockerfile: string;
  buildArgs: Record<string, string>;
  target: string;
  platform: string;
  tags: string[];
  noCache: boolean;
  pull: boolean;
  labels: Record<string, string>;
  /** Engine-side build id; `cancel(buildId)` stops it. */
  buildId: string;
  /** `docker build`'s engine flags, checked by the server (server/engine-options.ts). */
  options?: EngineBuildOptions;
}

/** `docker build`'s engine flags as the Engine API's /build takes them (checked by the protocol). */
export type { EngineBuildOptions };

/** A BuildKit vertex (one step of the build graph), as last reported. Same shape as the client's VertexInfo. */
export interface EngineVertex {
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

/** Progress of one sub-task of a vertex. Same shape as the client's StatusInfo plus the engine timestamp. */
export interface EngineStatus {
  id: string;
  vertex: string;
  name: string;
  current: number;
  total: number;
  startedMs: number;
  completedMs: number;
  timestampMs: number;
}

/** Stable codes of a failed build result. */
export type BuildErrorCode =
  | 'dockerfile_syntax'
  | 'unknown_target'
  | 'dockerfile_not_found'
  | 'cancelled'
  | 'step_failed'
  | 'context_failed'
  | 'session_lost'
  | 'registry_denied'
  | 'build_failed'
  | 'push_denied'
  | 'push_failed'
  | 'registry_unreachable';

/** What the engine reported during a build; a stream always ends with exactly one `result`. */
export type EngineEvent =
  | { type: 'vertex'; vertex: EngineVertex }
  | { type: 'status'; status: EngineStatus }
  | { type: 'log'; vertex: string; stream: number; data: Buffer; timestampMs: number }
  | { type: 'message'; text: string }
  | { type: 'result'; ok: boolean; imageId: string; error: string; errorCode: BuildErrorCode | '' };

/** What an export sent. */
export interface ExportSummary {
  layersTotal: number;
  layersSent: number;
  /** Image size as the engine reports it (uncompressed). */
  imageSize: number;
  /** Bytes of the emitted docker-archive. */
  archiveBytes: number;
}

/** A Docker engine the builder drives. */
export interface Engine {
  /** Engine version, platform and image store; throws EngineError('engine_unreachable') when down. */
  info(): Promise<EngineInfo>;
  /**
   * Runs a build and streams what happens. Always ends with exactly one 'result' event (build
   * failures and cancellation are results); throws only when the engine cannot be reached.
   * Aborting `signal` drops the connection, which makes the engine stop the build.
   */
  build(req: EngineBuildRequest, signal: AbortSignal): AsyncIterable<EngineEvent>;
  /** Asks the engine to stop a running build; a no-op for unknown ids. */
  cancel(buildId: string): Promise<void>;
  /** The image's id, size, layer diff ids and platform, or undefined when the engine lacks it. */
  inspectImage(id: string): Promise<ImageFacts | undefined>;
  /** The image's history, newest entry first, or undefined when the engine lacks the image. */
  imageHistory(id: string): Promise<ImageHistoryEntry[] | undefined>;
  /**
   * Pushes one tag (`[HOST/]PATH:TAG`) of a local image to its registry with these credentials
   * (sent as `X-Registry-Auth`, never stored). Throws EngineError with code `push_denied`,
   * `registry_unreachable`, `push_failed` or `cancelled`.
   */
  pushImage(
    ref: string,
    auth: PushAuth | undefined,
    signal: AbortSignal,
    onProgress?: (text: string) => void,
  ): Promise<PushResult>;
  /** Tags an image (`name[:tag]`, tag defaults to latest). */
  tagImage(id: string, tags: string[]): Promise<void>;
  /**
   * Removes one name (`repo:tag` or `repo@digest`); an image with other names keeps them and its
   * layers, one left without any name is deleted as `docker rmi` would. A no-op for an unknown name.
   */
  untagImage(ref: string): Promise<void>;
  /**
   * Streams a docker-archive of the image whose manifest lists every layer but whose tar omits
   * the layers whose chain id is in `haveChainIds` (unless `allLayers`).
   */
  exportImage(
    imageId: string,
    haveChainIds: ReadonlySet<string>,
    allLayers: boolean,
    signal: AbortSignal,
  ): { stream: NodeJS.ReadableStream; summary: Promise<ExportSummary> };
}

/** An engine failure that is not a build result: unreachable, bad response, missing image. */
export class EngineError extends EngineApiError {
  override name = 'EngineError';
}
