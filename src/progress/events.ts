/**
 * The one event union every renderer (plain, json, Ink) and the dev loop consume.
 * Events are past-tense facts; they are produced by the client from the builder's stream
 * and from its own sync and load steps.
 */

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

export type BuildEvent =
  | { type: 'build/started'; timeMs: number; builderId: string; platform: string; buildId: string }
  | { type: 'sync/started'; timeMs: number; entries: number }
  | {
      type: 'sync/acked';
      timeMs: number;
      snapshotId: string;
      /** Blob bytes uploaded (file contents only). */
      bytesSent: number;
      blobsSent: number;
      entries: number;
      totalBytes: number;
    }
  | { type: 'vertex/updated'; timeMs: number; vertex: VertexInfo }
  | { type: 'status/updated'; timeMs: number; status: StatusInfo }
  | { type: 'log/appended'; timeMs: number; vertex: string; stream: number; data: string }
  | { type: 'message/logged'; timeMs: number; text: string }
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

export type BuildEventType = BuildEvent['type'];
