import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { type Duplex, PassThrough, type Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import type { BuildSummary__Output } from '../protocol/generated/depot/builder/v1/BuildSummary.js';
import type { BuildTraceChunk__Output } from '../protocol/generated/depot/builder/v1/BuildTraceChunk.js';
import type { ListBuildsResponse__Output } from '../protocol/generated/depot/builder/v1/ListBuildsResponse.js';
import type { StatsRequest } from '../protocol/generated/depot/builder/v1/StatsRequest.js';
import type { StatsResponse__Output } from '../protocol/generated/depot/builder/v1/StatsResponse.js';
import type { StepCostsRequest } from '../protocol/generated/depot/builder/v1/StepCostsRequest.js';
import type { StepCostsResponse__Output } from '../protocol/generated/depot/builder/v1/StepCostsResponse.js';
import {
  AUTH_METADATA_KEY,
  applyDelta,
  type BuildEvent__Output,
  type BuilderClient,
  type BuildRequest,
  buildTree,
  CHUNK_SIZE,
  type ContextEntry,
  diffManifests,
  entryToWire,
  type HelloResponse__Output,
  loadBuilderProto,
  type ManifestDiff,
  ManifestError,
  memoryNodes,
  ownProtocolVersion,
  PROJECT_METADATA_KEY,
  type SyncRequest,
  type SyncResponse__Output,
  type TreeResult,
} from '../protocol/index.js';
import { ContentChangedError, DepotError, fromGrpcError } from './errors.js';
import { relaySshAgents, type SshRelay } from './ssh-relay.js';
import { type ClientTransport, channelCredentials, transportFromEnv } from './transport.js';

/** Where a builder listens, parsed from a user-facing URL. */
export interface BuilderAddress {
  /** grpc-js target, e.g. "127.0.0.1:7000" or "unix:/run/depot.sock" */
  target: string;
  tls: boolean;
  /** The URL as the user wrote it, for messages. */
  url: string;
}

/** Parses tcp://h:p, h:p, tls://h:p, https://h:p, unix:/path and unix:///path. */
export function parseBuilderUrl(url: string): BuilderAddress {
  const u = url.trim();
  if (u.startsWith('unix://')) return { target: `unix:${u.slice('unix://'.length)}`, tls: false, url: u };
  if (u.startsWith('unix:')) return { target: u, tls: false, url: u };
  const m = /^(?:(tcp|tls|https|http|grpc|grpcs):\/\/)?([^/\s]+):(\d+)\/?$/.exec(u);
  if (!m)
    throw new DepotError(
      'invalid_builder_url',
      `invalid builder address: ${JSON.stringify(url)}`,
      'use tcp://HOST:PORT, tls://HOST:PORT or unix:///PATH',
    );
  const scheme = m[1] ?? 'tcp';
  return {
    target: `${m[2]}:${m[3]}`,
    tls: scheme === 'tls' || scheme === 'https' || scheme === 'grpcs',
    url: u,
  };
}

/** The builder address forms a user may type. */
export const BUILDER_URL_FORMS = 'tcp://HOST:PORT, tls://HOST:PORT, unix:///PATH or HOST:PORT';

/**
 * Checks a builder address typed by a user (flag, env, `depot config set`, `depot login`): only
 * tcp://HOST:PORT, tls://HOST:PORT, unix:///PATH (or unix:/PATH) and HOST:PORT; returns it trimmed.
 */
export function validateBuilderUrl(url: string): string {
  const u = url.trim();
  const bad = () =>
    new DepotError(
      'invalid_builder_url',
      `invalid builder address ${JSON.stringify(url)}`,
      `use ${BUILDER_URL_FORMS}`,
    );
  if (u.startsWith('unix:')) {
    const path = u.startsWith('unix://') ? u.slice('unix://'.length) : u.slice('unix:'.length);
    if (!path.startsWith('/') || /\s/.test(path)) throw bad();
    return u;
  }
  const m =
    /^(?:(?:tcp|tls):\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})\/?$/.exec(
      u,
    );
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw bad();
  return u;
}

export interface SyncSource {
  entries: ContextEntry[];
  /** digest → absolute path of a file with that content */
  blobs: Map<string, string>;
}

export interface SyncBase {
  snapshotId: string;
  entries: ContextEntry[];
  /** The canonical directory nodes of its tree, when known (else made from `entries` once). */
  nodes?: Map<string, string>;
}

/** Upload progress of a sync: contents sent and bytes of them, of the totals the builder asked for. */
export type SyncProgressListener = (p: {
  files: number;
  filesTotal: number;
  bytes: number;
  bytesTotal: number;
}) => void;

export interface SyncOutcome {
  snapshotId: string;
  bytesSent: number;
  /** Unique contents uploaded. */
  blobsSent: number;
  /** Files new or changed against `base` (every file when there was none). */
  filesChanged: number;
  entries: number;
  totalBytes: number;
  /** Whether a delta against `base` was used. */
  delta: boolean;
}

export interface ExportOutcome {
  layersTotal: number;
  layersSent: number;
  imageSize: number;
  archiveBytes: number;
}

/** Stats windows the builder answers for. */
export type StatsWindow = '1h' | '24h' | '7d';
/** What Stats groups by. */
export type StatsGroupBy = 'project' | 'user' | 'platform';
/** A Stats question: the window and the grouping. */
export interface StatsQuery {
  window: StatsWindow;
  groupBy: StatsGroupBy;
}
export type { BuildSummary__Output as BuildSummaryWire, StatsResponse__Output as StatsResponseWire };
/** A StepCosts question: one line of builds (as BuildRequest names it) and how many to read. */
export interface StepCostsQuery {
  dockerfilePath: string;
  target?: string;
  /** '' or undefined: every platform of the line. */
  platform?: string;
  /** Builds to read: the builder reads 50 for 0 or undefined, and at most 500. */
  last?: number;
}
export type { StepCostsResponse__Output as StepCostsResponseWire };
/** A ListBuilds question: how many (the builder lists 20 for 0, at most 500), of which result and platform. */
export interface ListBuildsQuery {
  limit?: number;
  result?: string;
  platform?: string;
  /** Only builds where a step of this instruction was a root miss (a cache buster's step). */
  missedStep?: string;
  /** The project to list (an admin token's choice; a project token may name only its own); default the session's. */
  project?: string;
}
export type { BuildRecord__Output as BuildRecordWire } from '../protocol/generated/depot/builder/v1/BuildRecord.js';
export type { BuildTraceHeader__Output as BuildTraceHeaderWire } from '../protocol/generated/depot/builder/v1/BuildTraceHeader.js';
export type { TracedEvent__Output as TracedEventWire } from '../protocol/generated/depot/builder/v1/TracedEvent.js';
export type { BuildTraceChunk__Output as BuildTraceChunkWire, ListBuildsResponse__Output as ListBuildsWire };

/** How long a Stats call may take before it fails as unreachable. */
const STATS_DEADLINE_MS = 15_000;

/** A connection to one builder, authenticated for one project. */
export interface BuilderSession {
  readonly address: BuilderAddress;
  hello(signal?: AbortSignal): Promise<HelloResponse__Output>;
  /** Syncs a context; `onProgress` hears of each upload chunk (throttle it: it is called often). */
  sync(
    source: SyncSource,
    base: SyncBase | undefined,
    signal?: AbortSignal,
    onProgress?: SyncProgressListener,
  ): Promise<SyncOutcome>;
  build(req: BuildRequest, signal: AbortSignal): AsyncIterable<BuildEvent__Output>;
  /**
   * Opens ForwardSsh for one build and relays the builder's agent connections to local agent
   * sockets (`agents`: ssh id → socket path). Call it before `build` with the same `buildId` as
   * the BuildRequest, and `close()` the relay once the build's result is in (or it failed).
   */
  forwardSsh(buildId: string, agents: Readonly<Record<string, string>>): SshRelay;
  exportImage(
    imageId: string,
    haveChainIds: string[],
    allLayers: boolean,
    signal: AbortSignal,
  ): { stream: Readable; summary: Promise<ExportOutcome> };
  /** Cache statistics over a window, scoped by the token (15 s deadline; numbers, not Longs). */
  stats(query: StatsQuery, signal?: AbortSignal): Promise<StatsResponse__Output>;
  /**
   * What each instruction of one line of builds cost over the project's latest builds (15 s
   * deadline). A builder without the RPC, or without history, fails with code "unsupported".
   */
  stepCosts(query: StepCostsQuery, signal?: AbortSignal): Promise<StepCostsResponse__Output>;
  /**
   * Every build's summary as it starts and finishes, until `signal` aborts (the iterator then
   * ends quietly) or the builder goes away (it throws a DepotError).
   */
  watchBuilds(signal: AbortSignal): AsyncIterable<BuildSummary__Output>;
  /**
   * The project's latest recorded builds (15 s deadline). A builder without the RPC, or without
   * history, fails with code "unsupported".
   */
  listBuilds(query: ListBuildsQuery, signal?: AbortSignal): Promise<ListBuildsResponse__Output>;
  /**
   * One recorded build of the project (by id, or the start of one): the header chunk, then its
   * events in chunks. A build the project does not have fails with code "not_found", a prefix of
   * several ids with "ambiguous_build_id", a builder without the RPC with "unsupported".
   */
  buildTrace(buildId: string, signal?: AbortSignal, project?: string): AsyncIterable<BuildTraceChunk__Output>;
  close(): void;
}

export interface SessionOptions {
  url: string;
  token: string;
  project?: string;
  /** How the connection is secured; default: the environment's settings (`transportFromEnv`). */
  transport?: ClientTransport;
}

/**
 * Throws the DepotError `createBuilderSession` would for this address and transport (a plaintext
 * remote address, an unreadable CA…), without connecting: for commands that connect later.
 */
export function checkBuilderTransport(url: string, transport: ClientTransport = transportFromEnv()): void {
  channelCredentials(parseBuilderUrl(url), transport);
}

/**
 * Opens a channel to a builder (HTTP/2 with keepalive); calls are lazy. Throws a DepotError, before
 * any network I/O, when the transport settings refuse the address (see `channelCredentials`).
 */
/** A session opened ahead of the build that will ask for it (see `prewarmBuilderSession`). */
let prewarmed: { key: string; session: BuilderSession } | undefined;

const sessionKey = (opts: SessionOptions, transport: ClientTransport) =>
  JSON.stringify([opts.url, opts.token, opts.project ?? '', transport]);

/**
 * Opens a channel to a builder now and connects it (TCP, TLS, HTTP/2), for the next
 * `createBuilderSession` with the very same url, token, project and transport to take: a process
 * waiting to run a build (the agent's warm worker) holds the builder its user built on last.
 * Any other session request gets a channel of its own; a second call replaces the first.
 */
export function prewarmBuilderSession(opts: SessionOptions): void {
  const transport = opts.transport ?? transportFromEnv();
  prewarmed?.session.close();
  prewarmed = undefined;
  const session = openBuilderSession({ ...opts, transport });
  session.connect();
  prewarmed = { key: sessionKey(opts, transport), session };
}

export function createBuilderSession(opts: SessionOptions): BuilderSession {
  const transport = opts.transport ?? transportFromEnv();
  if (prewarmed) {
    const { key, session } = prewarmed;
    prewarmed = undefined;
    if (key === sessionKey(opts, transport)) return session;
    session.close();
  }
  return openBuilderSession({ ...opts, transport });
}

function openBuilderSession(opts: SessionOptions): BuilderSession & { connect(): void } {
  const address = parseBuilderUrl(opts.url);
  const transport = opts.transport ?? transportFromEnv();
  const creds = channelCredentials(address, transport);
  const proto = loadBuilderProto();
  const client = new proto.depot.builder.v1.Builder(address.target, creds, {
    'grpc.keepalive_time_ms': 15000,
    'grpc.keepalive_timeout_ms': 10000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.enable_retries': 0,
  }) as unknown as BuilderClient;

  const metadata = (project = opts.project) => {
    const md = new grpc.Metadata();
    md.set(AUTH_METADATA_KEY, `Bearer ${opts.token}`);
    if (project) md.set(PROJECT_METADATA_KEY, project);
    return md;
  };
  const wrap = (err: unknown) => fromGrpcError(err, address.url, { clientCert: !!transport.certFile });
  /** An older builder has no history RPCs; one without history says so: both lack the answer. */
  const historyError = (err: unknown) =>
    (err as grpc.ServiceError).code === grpc.status.UNIMPLEMENTED
      ? new DepotError(
          'unsupported',
          `the builder at ${address.url} keeps no build records: ${(err as grpc.ServiceError).details || 'not implemented'}`,
          'upgrade depot-builder, and run it with its build history on',
          { cause: err },
        )
      : wrap(err);
  // The directory nodes of the trees this session synced: a delta's expected id is computed from
  // the base's nodes on the changed paths only.
  const nodes = memoryNodes();

  /** The snapshot id the sync will make, and whether the base can serve as one (its id checks out). */
  async function expectedTree(source: SyncSource, base: SyncBase | undefined) {
    if (base) {
      if (base.nodes) nodes.add(base.nodes);
      if (!nodes.source(base.snapshotId)) {
        const made = buildTree(base.entries);
        // A base whose entries do not make its id is not one: sync in full.
        if (made.id === base.snapshotId) nodes.add(made.nodes);
      }
      if (nodes.source(base.snapshotId)) {
        const diff = diffManifests(base.entries, source.entries);
        return { diff, tree: await applyDelta(base.snapshotId, diff, nodes.source) };
      }
    }
    return { diff: undefined, tree: buildTree(source.entries) };
  }

  async function syncOnce(
    source: SyncSource,
    base: SyncBase | undefined,
    signal?: AbortSignal,
    onProgress?: SyncProgressListener,
  ): Promise<SyncOutcome> {
    const expected = await expectedTree(source, base);
    nodes.add(expected.tree.nodes);
    // Trees of earlier syncs pile up in a long session: keep what the latest one reaches.
    if (nodes.size() > 4 * (expected.tree.entries + 64)) nodes.prune(expected.tree.id);
    const out = await syncCall(source, base, expected, signal, onProgress);
    if (out.snapshotId !== expected.tree.id)
      throw new DepotError(
        'builder_error',
        `the builder acknowledged snapshot ${out.snapshotId}, not the ${expected.tree.id} this client sent`,
      );
    return out;
  }

  function syncCall(
    source: SyncSource,
    base: SyncBase | undefined,
    expected: { diff: ManifestDiff | undefined; tree: TreeResult },
    signal?: AbortSignal,
    onProgress?: SyncProgressListener,
  ): Promise<SyncOutcome> {
    return new Promise<SyncOutcome>((resolve, reject) => {
      const call = client.Sync(metadata(), { deadline: Date.now() + 30 * 60_000 });
      let settled = false;
      const done = (err: unknown, out?: SyncOutcome) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(out!);
      };
      const onAbort = () => {
        call.cancel();
        done(new DepotError('cancelled', 'sync cancelled'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      let bytesSent = 0;
      let blobsSent = 0;
      let filesChanged = 0;
      call.on('error', (err) => done(err));
      call.on('data', (msg: SyncResponse__Output) => {
        if (msg.need) {
          const digests = msg.need.digests;
          sendBlobs(call, digests, source, onProgress)
            .then((sent) => {
              bytesSent = sent;
              blobsSent = digests.length;
            })
            .catch((err) => {
              call.cancel();
              done(err);
            });
        } else if (msg.ready) {
          done(undefined, {
            snapshotId: msg.ready.snapshotId,
            bytesSent,
            blobsSent,
            filesChanged,
            entries: msg.ready.entries,
            totalBytes: msg.ready.totalBytes,
            delta: expected.diff !== undefined,
          });
          call.end();
        }
      });
      if (expected.diff) {
        const diff = expected.diff;
        filesChanged = diff.upserts.filter(isFileEntry).length;
        call.write({
          begin: {
            delta: {
              baseSnapshot: base!.snapshotId,
              upserts: diff.upserts.map(entryToWire),
              removals: diff.removals,
            },
            snapshotId: expected.tree.id,
          },
        });
      } else {
        filesChanged = source.entries.filter(isFileEntry).length;
        call.write({
          begin: { full: { entries: source.entries.map(entryToWire) }, snapshotId: expected.tree.id },
        });
      }
    });
  }

  return {
    address,
    hello(signal) {
      return new Promise((resolve, reject) => {
        const call = client.Hello(
          { clientVersion: '0.1.0', project: opts.project ?? '', protocolVersion: ownProtocolVersion() },
          metadata(),
          { deadline: Date.now() + 15_000 },
          (err, res) => {
            if (err) reject(wrap(err));
            else {
              const mismatch = protocolMismatch(res!.protocolVersion, address.url);
              if (mismatch) reject(mismatch);
              else resolve(res!);
            }
          },
        );
        signal?.addEventListener('abort', () => call.cancel(), { once: true });
      });
    },

    async sync(source, base, signal, onProgress) {
      try {
        return await syncOnce(source, base, signal, onProgress);
      } catch (err) {
        if (err instanceof ManifestError)
          throw new DepotError(
            'invalid_manifest',
            `the context cannot be synced: ${err.message}`,
            undefined,
            {
              cause: err,
            },
          );
        const code = (err as grpc.ServiceError).code;
        if (base && code === grpc.status.FAILED_PRECONDITION)
          return syncOnce(source, undefined, signal, onProgress).catch((e) => {
            throw wrap(e);
          });
        throw wrap(err);
      }
    },

    build(req, signal) {
      const call = client.Build(req, metadata());
      const onAbort = () => call.cancel();
      signal.addEventListener('abort', onAbort, { once: true });
      return (async function* () {
        try {
          for await (const ev of call as AsyncIterable<BuildEvent__Output>) yield ev;
        } catch (err) {
          if (signal.aborted) throw new DepotError('cancelled', 'build cancelled');
          throw wrap(err);
        } finally {
          signal.removeEventListener('abort', onAbort);
          // A consumer that stops reading early (a failed output write) ends the build too.
          call.cancel();
        }
      })();
    },

    forwardSsh(buildId, agents) {
      // A grpc-js duplex call is a Node Duplex in object mode (plus cancel(), which the relay uses).
      const call = client.ForwardSsh(metadata()) as unknown as Duplex;
      return relaySshAgents(call, buildId, agents, { wrapError: wrap });
    },

    exportImage(imageId, haveChainIds, allLayers, signal) {
      const call = client.Export({ imageId, haveChainIds, allLayers }, metadata());
      signal.addEventListener('abort', () => call.cancel(), { once: true });
      const out = new PassThrough();
      const summary = (async () => {
        let result: ExportOutcome | undefined;
        try {
          for await (const chunk of call as AsyncIterable<{ data?: Buffer; summary?: ExportOutcome }>) {
            if (chunk.data?.length) {
              if (!out.write(chunk.data)) await new Promise((r) => out.once('drain', r));
            } else if (chunk.summary) result = chunk.summary;
          }
        } catch (err) {
          const e = wrap(err);
          out.destroy(e);
          throw e;
        }
        out.end();
        if (!result) throw new DepotError('builder_error', 'export ended without a summary');
        return result;
      })();
      summary.catch(() => {});
      return { stream: out, summary };
    },

    stats(query, signal) {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) {
          reject(new DepotError('cancelled', 'stats cancelled'));
          return;
        }
        const req: StatsRequest = { window: query.window, groupBy: query.groupBy };
        const onAbort = () => call.cancel();
        const call = client.Stats(
          req,
          metadata(),
          { deadline: Date.now() + STATS_DEADLINE_MS },
          (err, res) => {
            signal?.removeEventListener('abort', onAbort);
            if (err) reject(signal?.aborted ? new DepotError('cancelled', 'stats cancelled') : wrap(err));
            else resolve(res!);
          },
        );
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },

    stepCosts(query, signal) {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) {
          reject(new DepotError('cancelled', 'step costs cancelled'));
          return;
        }
        const req: StepCostsRequest = {
          dockerfilePath: query.dockerfilePath,
          target: query.target ?? '',
          platform: query.platform ?? '',
          last: query.last ?? 0,
        };
        const onAbort = () => call.cancel();
        const call = client.StepCosts(
          req,
          metadata(),
          { deadline: Date.now() + STATS_DEADLINE_MS },
          (err, res) => {
            signal?.removeEventListener('abort', onAbort);
            if (!err) resolve(res!);
            else if (signal?.aborted) reject(new DepotError('cancelled', 'step costs cancelled'));
            // An older builder has no such method; one without history says so: both lack the answer.
            else if ((err as grpc.ServiceError).code === grpc.status.UNIMPLEMENTED)
              reject(
                new DepotError(
                  'unsupported',
                  `the builder at ${address.url} keeps no step costs: ${(err as grpc.ServiceError).details || 'not implemented'}`,
                  'upgrade depot-builder, and run it with its build history on',
                  { cause: err },
                ),
              );
            else reject(wrap(err));
          },
        );
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },

    watchBuilds(signal) {
      const call = client.WatchBuilds({}, metadata());
      const onAbort = () => call.cancel();
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) call.cancel();
      return (async function* () {
        try {
          for await (const summary of call as AsyncIterable<BuildSummary__Output>) yield summary;
        } catch (err) {
          if (signal.aborted) return;
          throw wrap(err);
        } finally {
          signal.removeEventListener('abort', onAbort);
          // The consumer stopped early (break/return): do not leave the stream open.
          call.cancel();
        }
      })();
    },

    listBuilds(query, signal) {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) {
          reject(new DepotError('cancelled', 'cancelled'));
          return;
        }
        const onAbort = () => call.cancel();
        const call = client.ListBuilds(
          {
            limit: query.limit ?? 0,
            result: query.result ?? '',
            platform: query.platform ?? '',
            missedStep: query.missedStep ?? '',
          },
          metadata(query.project || undefined),
          { deadline: Date.now() + STATS_DEADLINE_MS },
          (err, res) => {
            signal?.removeEventListener('abort', onAbort);
            if (!err) resolve(res!);
            else if (signal?.aborted) reject(new DepotError('cancelled', 'cancelled'));
            else reject(historyError(err));
          },
        );
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },

    buildTrace(buildId, signal, project) {
      const call = client.BuildTrace({ buildId }, metadata(project || undefined));
      const onAbort = () => call.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) call.cancel();
      return (async function* () {
        try {
          for await (const chunk of call as AsyncIterable<BuildTraceChunk__Output>) yield chunk;
        } catch (err) {
          if (signal?.aborted) throw new DepotError('cancelled', 'cancelled');
          const e = err as grpc.ServiceError;
          if (e.code === grpc.status.NOT_FOUND)
            throw new DepotError(
              'not_found',
              `no build ${buildId} in the history of ${opts.project ? `project ${opts.project}` : "this token's project"} on ${address.url}`,
              buildId.length < 4
                ? 'give a whole id, or at least its first 4 characters (`depot history ls` lists them)'
                : '`depot history ls` lists the recorded builds',
              { cause: err },
            );
          if (e.code === grpc.status.INVALID_ARGUMENT && /start of several/.test(e.details ?? ''))
            throw new DepotError('ambiguous_build_id', e.details, undefined, { cause: err });
          throw historyError(err);
        } finally {
          signal?.removeEventListener('abort', onAbort);
          call.cancel();
        }
      })();
    },

    connect() {
      // Connects without a call; a failure here is the first call's to report.
      client.waitForReady(Date.now() + 10_000, () => {});
    },
    close() {
      client.close();
    },
  };
}

/**
 * The refusal of a builder that speaks another wire version than this client (`builder`: the
 * version its Hello announced, 0 from builders older than the field), or undefined when they agree.
 */
export function protocolMismatch(builder: number, url: string): DepotError | undefined {
  const theirs = builder || 1;
  const ours = ownProtocolVersion();
  if (theirs === ours) return undefined;
  return new DepotError(
    'protocol_mismatch',
    `the builder at ${url} speaks context protocol ${theirs}, this client ${ours}`,
    theirs < ours
      ? 'upgrade the builder: depot-builder from the same release as this client'
      : 'upgrade the client: npm i -g depot@latest',
  );
}

/** Whether a manifest entry has content of its own (a file, or a hardlink to one). */
function isFileEntry(e: ContextEntry): boolean {
  return e.type === 'file' || e.type === 'hardlink';
}

/** How many small files the upload reads ahead of the one it sends. */
const READ_AHEAD = 16;

async function sendBlobs(
  call: grpc.ClientDuplexStream<SyncRequest, SyncResponse__Output>,
  digests: string[],
  source: SyncSource,
  onProgress?: SyncProgressListener,
): Promise<number> {
  const blobs = source.blobs;
  // The manifest knows every content's size: the total is known before the first byte goes.
  const sizeOf = new Map<string, number>();
  for (const e of source.entries) if (e.type === 'file' && e.digest) sizeOf.set(e.digest, e.size);
  let bytesTotal = 0;
  for (const d of digests) bytesTotal += sizeOf.get(d) ?? 0;
  let sent = 0;
  let files = 0;
  const report = () => {
    // A file that grew since it was hashed would overshoot the total: the total follows.
    bytesTotal = Math.max(bytesTotal, sent);
    onProgress?.({ files, filesTotal: digests.length, bytes: sent, bytesTotal });
  };
  const write = async (msg: SyncRequest) => {
    if (!call.write(msg)) await new Promise((r) => call.once('drain', r));
  };
  // Small files are read a few ahead of the one being sent: one at a time, a first sync of many
  // small files waits on a disk round trip per file with the wire idle.
  const ahead = new Map<number, Promise<Buffer | undefined>>();
  const readSmall = async (digest: string): Promise<Buffer | undefined> => {
    const path = blobs.get(digest);
    if (!path || (await stat(path)).size > CHUNK_SIZE) return undefined;
    return readFile(path);
  };
  const prefetch = (from: number) => {
    for (let j = from; j < Math.min(digests.length, from + READ_AHEAD); j++)
      if (!ahead.has(j)) {
        const read = readSmall(digests[j]!);
        read.catch(() => {}); // reported when its turn comes
        ahead.set(j, read);
      }
  };
  for (const [i, digest] of digests.entries()) {
    const path = blobs.get(digest);
    if (!path) throw new DepotError('sync_failed', `sync failed: builder asked for unknown blob ${digest}`);
    prefetch(i);
    const small = await ahead.get(i);
    ahead.delete(i);
    if (small) {
      // Small files (most of a context) go as one message each, without a stream per file. Bytes
      // that no longer match the scan's digest are never sent: the file changed since the scan.
      const data = small;
      if (`sha256:${createHash('sha256').update(data).digest('hex')}` !== digest)
        throw new ContentChangedError(path);
      sent += data.length;
      await write({ chunk: { digest, data, last: true } });
      files++;
      report();
      continue;
    }
    let pending: Buffer | undefined;
    const hash = createHash('sha256');
    for await (const buf of createReadStream(path, { highWaterMark: CHUNK_SIZE }) as AsyncIterable<Buffer>) {
      if (pending) await write({ chunk: { digest, data: pending, last: false } });
      if (pending) report();
      sent += buf.length;
      hash.update(buf);
      pending = buf;
    }
    // The last chunk is held back until the whole file proved to be what the scan hashed.
    if (`sha256:${hash.digest('hex')}` !== digest) throw new ContentChangedError(path);
    await write({ chunk: { digest, data: pending ?? Buffer.alloc(0), last: true } });
    files++;
    report();
  }
  return sent;
}
