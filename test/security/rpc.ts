// Raw RPCs against a builder, as an attacker holding one project's token would send them: no CLI in
// between to refuse odd input first.
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { BuildSummary__Output } from '../../src/protocol/generated/depot/builder/v1/BuildSummary.js';
import type { BuildTraceChunk__Output } from '../../src/protocol/generated/depot/builder/v1/BuildTraceChunk.js';
import type { ListBuildsResponse__Output } from '../../src/protocol/generated/depot/builder/v1/ListBuildsResponse.js';
import type { StatsResponse__Output } from '../../src/protocol/generated/depot/builder/v1/StatsResponse.js';
import {
  type BuildEvent__Output,
  type BuilderClient,
  type ContextEntry,
  entryToWire,
  loadBuilderProto,
  PROTOCOL_VERSION,
  type SyncResponse__Output,
  snapshotId,
} from '../../src/protocol/index.js';

export function sha(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function fileEntry(
  path: string,
  content: string | Buffer,
  over: Partial<ContextEntry> = {},
): ContextEntry {
  return {
    path,
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: Buffer.byteLength(content),
    mtimeMs: 0,
    digest: sha(content),
    link: '',
    ...over,
  };
}

export type SyncOutcome =
  | { ok: true; snapshot: string; asked: string[] }
  | { ok: false; code: number; details: string; asked: string[] };

export interface RpcClient {
  client: BuilderClient;
  md: grpc.Metadata;
  /** One Sync: sends the manifest (or a delta), then the blobs asked for that `blobs` has. */
  sync(
    entries: ContextEntry[],
    blobs: Record<string, Buffer>,
    opts?: { deltaBase?: string; stopAfterNeed?: boolean },
  ): Promise<SyncOutcome>;
  /** One Build; resolves with its events, or the status it failed with. */
  build(
    req: Record<string, unknown>,
  ): Promise<{ events: BuildEvent__Output[]; code: number; details: string }>;
  /**
   * A Sync that sends its manifest, the first `sendBytes` of the first blob asked for (not its last
   * chunk), then stalls without ending: an upload left hanging.
   */
  stallSync(entries: ContextEntry[], sendBytes: number): Promise<{ code: number; details: string }>;
  /** Hello; resolves with the answer, or the status it failed with. */
  hello(): Promise<{ projects: string[]; code: number; details: string }>;
  /** One Export; resolves with the bytes received, or the status it failed with. */
  exportImage(imageId: string): Promise<{ bytes: number; code: number; details: string }>;
  close(): void;
}

const NO_ID = `sha256:${'0'.repeat(64)}`;

/** The snapshot id a client would send with `entries` (a manifest it cannot make an id of: any). */
export function expectedId(entries: readonly ContextEntry[]): string {
  try {
    return snapshotId(entries);
  } catch {
    return NO_ID;
  }
}

export function rpcClient(url: string, token: string, project?: string): RpcClient {
  const proto = loadBuilderProto();
  const client = new proto.depot.builder.v1.Builder(
    url.replace(/^tcp:\/\//, ''),
    grpc.credentials.createInsecure(),
  ) as unknown as BuilderClient;
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  if (project) md.set('x-depot-project', project);
  return {
    client,
    md,
    sync(entries, blobs, opts = {}) {
      return new Promise((resolve) => {
        const call = client.Sync(md);
        let asked: string[] = [];
        call.on('data', (msg: SyncResponse__Output) => {
          if (msg.need) {
            asked = msg.need.digests;
            if (opts.stopAfterNeed) {
              call.end();
              return;
            }
            for (const d of msg.need.digests)
              if (blobs[d]) call.write({ chunk: { digest: d, data: blobs[d], last: true } });
            call.end();
          } else if (msg.ready) resolve({ ok: true, snapshot: msg.ready.snapshotId, asked });
        });
        call.on('error', (e: grpc.ServiceError) =>
          resolve({ ok: false, code: e.code, details: e.details, asked }),
        );
        call.on('end', () => resolve({ ok: false, code: -1, details: 'ended without an answer', asked }));
        const wire = entries.map(entryToWire);
        call.write({
          begin: opts.deltaBase
            ? // Deltas here are attacks refused before the result is compared: any expected id will do.
              { delta: { baseSnapshot: opts.deltaBase, upserts: wire, removals: [] }, snapshotId: NO_ID }
            : { full: { entries: wire }, snapshotId: expectedId(entries) },
        });
      });
    },
    build(req) {
      return new Promise((resolve) => {
        const events: BuildEvent__Output[] = [];
        const call = client.Build(req, md);
        call.on('data', (ev: BuildEvent__Output) => events.push(ev));
        call.on('error', (e: grpc.ServiceError) => resolve({ events, code: e.code, details: e.details }));
        call.on('end', () => resolve({ events, code: 0, details: '' }));
      });
    },
    stallSync(entries, sendBytes) {
      return new Promise((resolve) => {
        const call = client.Sync(md);
        call.on('data', (msg: SyncResponse__Output) => {
          const d = msg.need?.digests[0];
          if (d) call.write({ chunk: { digest: d, data: Buffer.alloc(sendBytes, 'x'), last: false } });
        });
        call.on('error', (e: grpc.ServiceError) => resolve({ code: e.code, details: e.details }));
        call.on('end', () => resolve({ code: -1, details: 'ended without an answer' }));
        call.write({
          begin: { full: { entries: entries.map(entryToWire) }, snapshotId: expectedId(entries) },
        });
      });
    },
    hello() {
      return new Promise((resolve) => {
        client.Hello({ clientVersion: 'attack', protocolVersion: PROTOCOL_VERSION }, md, (err, res) => {
          if (err) resolve({ projects: [], code: err.code, details: err.details });
          else resolve({ projects: res?.projects ?? [], code: 0, details: '' });
        });
      });
    },
    exportImage(imageId) {
      return new Promise((resolve) => {
        let bytes = 0;
        const call = client.Export({ imageId, haveChainIds: [], allLayers: true }, md);
        call.on('data', (msg: { data?: Buffer }) => {
          bytes += msg.data?.length ?? 0;
        });
        call.on('error', (e: grpc.ServiceError) => resolve({ bytes, code: e.code, details: e.details }));
        call.on('end', () => resolve({ bytes, code: 0, details: '' }));
      });
    },
    close: () => client.close(),
  };
}

/** The result of a Build's events (the last `result`), if any. */
export function buildResult(events: BuildEvent__Output[]) {
  return events.findLast((e) => e.result)?.result ?? undefined;
}

/** One Stats call; rejects with the status it failed with. */
export function stats(c: RpcClient, window = '1h', groupBy = 'project'): Promise<StatsResponse__Output> {
  return new Promise((resolve, reject) =>
    c.client.Stats({ window, groupBy }, c.md, { deadline: Date.now() + 10_000 }, (err, res) =>
      err ? reject(err) : resolve(res!),
    ),
  );
}

/** A WatchBuilds stream and what it has streamed so far (live once the builder sent its headers). */
export async function watchBuilds(c: RpcClient): Promise<{ seen: BuildSummary__Output[]; cancel(): void }> {
  const seen: BuildSummary__Output[] = [];
  const call: grpc.ClientReadableStream<BuildSummary__Output> = c.client.WatchBuilds({}, c.md);
  call.on('data', (s: BuildSummary__Output) => seen.push(s));
  call.on('error', () => {});
  await new Promise<void>((resolve) => call.once('metadata', () => resolve()));
  return { seen, cancel: () => call.cancel() };
}

/** One ListBuilds call. */
export function listBuilds(
  c: RpcClient,
  req: { limit?: number; result?: string; platform?: string; missedStep?: string } = {},
): Promise<ListBuildsResponse__Output> {
  return new Promise((resolve, reject) =>
    c.client.ListBuilds(
      { limit: 0, result: '', platform: '', missedStep: '', ...req },
      c.md,
      { deadline: Date.now() + 10_000 },
      (err, res) => (err ? reject(err) : resolve(res!)),
    ),
  );
}

/** One whole BuildTrace stream: its chunks, or the status it failed with. */
export function buildTrace(
  c: RpcClient,
  buildId: string,
): Promise<{ chunks: BuildTraceChunk__Output[]; code: number; details: string }> {
  return new Promise((resolve) => {
    const chunks: BuildTraceChunk__Output[] = [];
    const call = c.client.BuildTrace({ buildId }, c.md);
    call.on('data', (chunk: BuildTraceChunk__Output) => chunks.push(chunk));
    call.on('error', (err: grpc.ServiceError) => resolve({ chunks, code: err.code, details: err.details }));
    call.on('end', () => resolve({ chunks, code: grpc.status.OK, details: '' }));
  });
}
