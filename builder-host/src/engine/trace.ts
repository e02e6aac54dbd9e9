import protobuf from 'protobufjs';
import type { EngineEvent } from './types.js';

// Subset of moby/buildkit api/services/control/control.proto (moby.buildkit.v1) that
// dockerd streams as base64 `aux` of `moby.buildkit.trace` lines. Field numbers are the
// upstream ones; fields we do not read (warnings, progress groups) are skipped by the decoder.
const TIMESTAMP = { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } };
const root = protobuf.Root.fromJSON({
  nested: {
    google: { nested: { protobuf: { nested: { Timestamp: TIMESTAMP } } } },
    moby: {
      nested: {
        buildkit: {
          nested: {
            v1: {
              nested: {
                StatusResponse: {
                  fields: {
                    vertexes: { rule: 'repeated', type: 'Vertex', id: 1 },
                    statuses: { rule: 'repeated', type: 'VertexStatus', id: 2 },
                    logs: { rule: 'repeated', type: 'VertexLog', id: 3 },
                  },
                },
                Vertex: {
                  fields: {
                    digest: { type: 'string', id: 1 },
                    inputs: { rule: 'repeated', type: 'string', id: 2 },
                    name: { type: 'string', id: 3 },
                    cached: { type: 'bool', id: 4 },
                    started: { type: 'google.protobuf.Timestamp', id: 5 },
                    completed: { type: 'google.protobuf.Timestamp', id: 6 },
                    error: { type: 'string', id: 7 },
                  },
                },
                VertexStatus: {
                  fields: {
                    ID: { type: 'string', id: 1 },
                    vertex: { type: 'string', id: 2 },
                    name: { type: 'string', id: 3 },
                    current: { type: 'int64', id: 4 },
                    total: { type: 'int64', id: 5 },
                    timestamp: { type: 'google.protobuf.Timestamp', id: 6 },
                    started: { type: 'google.protobuf.Timestamp', id: 7 },
                    completed: { type: 'google.protobuf.Timestamp', id: 8 },
                  },
                },
                VertexLog: {
                  fields: {
                    vertex: { type: 'string', id: 1 },
                    timestamp: { type: 'google.protobuf.Timestamp', id: 2 },
                    stream: { type: 'int64', id: 3 },
                    msg: { type: 'bytes', id: 4 },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
});
const StatusResponse = root.lookupType('moby.buildkit.v1.StatusResponse');

interface Timestamp {
  seconds?: number;
  nanos?: number;
}
interface RawStatusResponse {
  vertexes?: Array<{
    digest?: string;
    inputs?: string[];
    name?: string;
    cached?: boolean;
    started?: Timestamp;
    completed?: Timestamp;
    error?: string;
  }>;
  statuses?: Array<{
    ID?: string;
    vertex?: string;
    name?: string;
    current?: number;
    total?: number;
    timestamp?: Timestamp;
    started?: Timestamp;
    completed?: Timestamp;
  }>;
  logs?: Array<{ vertex?: string; timestamp?: Timestamp; stream?: number; msg?: Uint8Array }>;
}

function ms(ts: Timestamp | undefined): number {
  if (!ts) return 0;
  return (ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/** Decodes one `moby.buildkit.trace` aux payload (base64 StatusResponse) into engine events, vertexes first. */
export function decodeTrace(auxBase64: string): EngineEvent[] {
  const msg = StatusResponse.decode(Buffer.from(auxBase64, 'base64'));
  const raw = StatusResponse.toObject(msg, { longs: Number, defaults: false }) as RawStatusResponse;
  const out: EngineEvent[] = [];
  for (const v of raw.vertexes ?? []) {
    out.push({
      type: 'vertex',
      vertex: {
        digest: v.digest ?? '',
        name: v.name ?? '',
        inputs: v.inputs ?? [],
        cached: v.cached ?? false,
        startedMs: ms(v.started),
        completedMs: ms(v.completed),
        error: v.error ?? '',
      },
    });
  }
  for (const s of raw.statuses ?? []) {
    out.push({
      type: 'status',
      status: {
        id: s.ID ?? '',
        vertex: s.vertex ?? '',
        name: s.name ?? '',
        current: s.current ?? 0,
        total: s.total ?? 0,
        startedMs: ms(s.started),
        completedMs: ms(s.completed),
        timestampMs: ms(s.timestamp),
      },
    });
  }
  for (const l of raw.logs ?? []) {
    out.push({
      type: 'log',
      vertex: l.vertex ?? '',
      stream: l.stream ?? 0,
      data: Buffer.from(l.msg ?? new Uint8Array()),
      timestampMs: ms(l.timestamp),
    });
  }
  return out;
}
