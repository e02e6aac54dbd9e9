import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { normalizePlatform } from '../../../src/protocol/fleet/index.js';
import {
  AUTH_METADATA_KEY,
  applyDiff,
  type BuildEvent,
  type BuilderHandlers,
  type BuildRequest,
  type BuildResult__Output,
  CHUNK_SIZE,
  type ContextEntry,
  type Entry__Output,
  entryFromWire,
  formatBytes,
  loadBuilderProto,
  ManifestError,
  PROJECT_METADATA_KEY,
  PROTOCOL_VERSION,
  type SyncRequest__Output,
  validateManifest,
} from '../../../src/protocol/index.js';
import { parseReference, registryOf, splitTagReference } from '../../../src/registry/index.js';
import type { TokenRecord } from '../auth/index.js';
import type { Engine, EngineBuildRequest, EngineEvent, PushAuth } from '../engine/index.js';
import { authForHost, createContextTar, DOCKER_MANIFEST_V2 } from '../engine/index.js';
import { singleFileEntries } from '../engine/session/fs-view.js';
import type { SessionCredentials } from '../engine/session/session.js';
import {
  type BuildFeed,
  type BuildRecording,
  beginRecording,
  createBuildFeed,
  createStepLabeler,
  type History,
  type StatsGroupBy,
  type StatsWindow,
  type StepExplainer,
  trivialExplainer,
} from '../history/index.js';
import { type BlobWriter, createProjectStores, type ProjectStore, type SharedStore } from '../store/index.js';
import { ImageNameError, resolveImageNames } from './base-names.js';
import { createContextKeys } from './context-keys.js';
import type { ImageNamespaces } from './image-namespace.js';
import { createLocalBaseCheck } from './local-base.js';
import { createResultMemo, type MemoVertex, memoKey, resolveBaseImages } from './result-memo.js';
import { createSshRelays } from './ssh-relay.js';

export {
  createImageNamespaces,
  type ImageNamespaces,
  loadNamespaceKey,
  NAMESPACE_HOST,
  OWN_ENGINE_NAMES,
} from './image-namespace.js';

/** Checks a bearer token; undefined when unknown or revoked. */
export interface TokenVerifier {
  verify(token: string): Promise<TokenRecord | undefined>;
}

export interface BuilderServerOptions {
  builderId: string;
  version: string;
  engine: Engine;
  /** Blobs, snapshots and which project holds which: handlers see only the caller's project's. */
  store: SharedStore;
  tokens: TokenVerifier;
  /** The names of each project's images on the shared engine. */
  namespaces: ImageNamespaces;
  logger: Logger;
  /** Platforms this builder serves (declared, e.g. an engine that emulates arm64); default: the engine's. */
  platforms?: string[];
  /** Platforms served through emulation, announced in Hello ("*": whatever the engine's binfmt runs). */
  emulated?: string[];
  /** Where results of earlier builds are remembered; no reuse when absent. */
  memoDir?: string;
  /** Build history behind Stats and WatchBuilds; both answer UNIMPLEMENTED when absent. */
  history?: History;
  /** Why-missed analysis of uncached steps; default: the trivial one (no_cache / first_build / unknown). */
  explainer?: StepExplainer;
  /** Clock for recorded builds and Stats windows (tests). */
  now?: () => number;
  /**
   * How builds reach the engine: 'session' (default) — BuildKit pulls the context, Dockerfile,
   * secrets, registry credentials and SSH agents through a session served from the store;
   * 'tar' — the whole context as the body of POST /build (no secrets, no SSH).
   */
  driver?: 'session' | 'tar';
}

/** An error that maps to one gRPC status; the only way handlers report failures. */
export class RpcError extends Error {
  constructor(
    readonly status: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

interface Caller {
  project: string;
  user: string;
  /** An admin token (project "*"): may use any project and read every project's history. */
  admin: boolean;
}

/** Token project that makes a token an admin token. */
export const ADMIN_PROJECT = '*';
/** What a project name may be (as `depot-builder token create --project` accepts it). */
const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const STATS_WINDOWS: readonly StatsWindow[] = ['1h', '24h', '7d'];
const STATS_GROUPS: readonly StatsGroupBy[] = ['project', 'user', 'platform'];
/** The abort reason of builds stopped because the builder is shutting down. */
const SHUTTING_DOWN = new Error('builder shutting down');
/** How long a shutdown waits for running builds to answer their clients and stop. */
const BUILD_DRAIN_MS = 2000;
/**
 * The status of a stream still open when the builder shuts down. The `builder_shutdown:` prefix is
 * the code clients map (src/session/errors.ts): without it they would see grpc's CANCELLED, which
 * reads like their own Ctrl-C.
 */
const SHUTDOWN_STATUS: Partial<grpc.StatusObject> = {
  code: grpc.status.UNAVAILABLE,
  details: 'builder_shutdown: the builder is shutting down',
};
/** How many Sync results are kept for the builds that follow them. */
const SYNC_BYTES_KEPT = 1024;

/** Maps any thrown error to a gRPC status object (the one place the server does this). */
function toStatus(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof RpcError) return { code: err.status, details: err.message };
  if (err instanceof ManifestError) return { code: grpc.status.INVALID_ARGUMENT, details: err.message };
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'digest_mismatch' || code === 'invalid_digest')
    return { code: grpc.status.INVALID_ARGUMENT, details: message };
  if (code === 'size_mismatch' || code === 'invalid_size')
    return { code: grpc.status.INVALID_ARGUMENT, details: message };
  if (code === 'blob_missing') return { code: grpc.status.FAILED_PRECONDITION, details: message };
  return { code: grpc.status.INTERNAL, details: message };
}

/** Creates the Builder service implementation and a grpc.Server that serves it. */
export function createBuilderServer(opts: BuilderServerOptions): {
  server: grpc.Server;
  /** `tls.clientCa`: require client certificates signed by this CA (mutual TLS). */
  listen(address: string, tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer }): Promise<string>;
  close(): Promise<void>;
} {
  const { engine, tokens, logger, namespaces } = opts;
  const proto = loadBuilderProto();
  // Each running Build: its controller and the promise of its handler (settled once it has answered).
  const activeBuilds = new Map<AbortController, Promise<void>>();
  const memo = opts.memoDir ? createResultMemo(opts.memoDir) : undefined;
  const driver = opts.driver ?? 'session';
  const sshRelays = createSshRelays();
  const contextKeys = createContextKeys();
  // A registry name exists on the shared engine only while its push runs (one push per name at a
  // time); afterwards the image is named only in its project's namespace, and the digest name the
  // push left is removed too, so another project's FROM cannot find it on the engine.
  const pushLocks = new Map<string, Promise<void>>();
  const pushNamed = async <T extends { repository: string; digest: string }>(
    imageId: string,
    ref: string,
    push: () => Promise<T>,
  ): Promise<T> => {
    const prev = pushLocks.get(ref) ?? Promise.resolve();
    let release = () => {};
    const mine = prev.then(() => new Promise<void>((r) => (release = r)));
    pushLocks.set(ref, mine);
    await prev;
    let tagged = false;
    let digestName = '';
    try {
      const existing = await engine.inspectImage(ref);
      if (existing && existing.id !== imageId)
        throw new RpcError(
          grpc.status.FAILED_PRECONDITION,
          `${ref} names another image on the builder's engine (one kept for every project, or a name an older builder left): push under another name, or ask the operator to remove it (docker rmi ${ref})`,
        );
      if (!existing) {
        await engine.tagImage(imageId, [ref]);
        tagged = true;
      }
      const r = await push();
      if (tagged) digestName = `${r.repository}@${r.digest}`;
      return r;
    } finally {
      if (tagged)
        for (const name of [ref, digestName].filter(Boolean))
          await engine
            .untagImage(name)
            .catch((err: Error) =>
              logger.warn({ ref: name, err: err.message }, 'removing a pushed name failed'),
            );
      release();
      if (pushLocks.get(ref) === mine) pushLocks.delete(ref);
    }
  };
  const now = opts.now ?? Date.now;
  // The only way handlers reach blobs and snapshots: the caller's project's view.
  const stores = createProjectStores(opts.store, now);
  const history = opts.history;
  const explainer = opts.explainer ?? trivialExplainer;
  const feed: BuildFeed = createBuildFeed();
  // Bytes of the last Sync of each snapshot (per project), taken by the build that follows it.
  const syncBytes = new Map<string, { received: number; total: number }>();
  const noteSync = (key: string, received: number, total: number) => {
    syncBytes.delete(key);
    syncBytes.set(key, { received, total });
    if (syncBytes.size > SYNC_BYTES_KEPT) syncBytes.delete(syncBytes.keys().next().value!);
  };
  const syncKey = (project: string, id: string) => `${project}\0${id}`;
  let enginePlatform: Promise<string> | undefined;
  const defaultPlatform = () => {
    enginePlatform ??= engine.info().then(
      (i) => normalizePlatform(i.platform),
      (err) => {
        enginePlatform = undefined;
        throw err;
      },
    );
    return enginePlatform;
  };
  const readBlob = async (store: ProjectStore, digest: string): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const c of store.open(digest) as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  };

  async function authenticate(call: { metadata: grpc.Metadata }): Promise<Caller> {
    const header = String(call.metadata.get(AUTH_METADATA_KEY)[0] ?? '');
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    const record = token ? await tokens.verify(token) : undefined;
    if (!record || record.revoked)
      throw new RpcError(
        grpc.status.UNAUTHENTICATED,
        'invalid or missing token: run `depot login --builder URL` or pass --token',
      );
    const asked = String(call.metadata.get(PROJECT_METADATA_KEY)[0] ?? '');
    if (asked && !PROJECT_NAME.test(asked))
      throw new RpcError(
        grpc.status.INVALID_ARGUMENT,
        `invalid project ${JSON.stringify(asked.slice(0, 64))}: use letters, digits, ".", "_" and "-" (up to 128)`,
      );
    if (record.project === ADMIN_PROJECT)
      return { project: asked || 'default', user: record.user, admin: true };
    if (asked && asked !== record.project)
      throw new RpcError(
        grpc.status.PERMISSION_DENIED,
        `token of project "${record.project}" cannot use project "${asked}"`,
      );
    return { project: record.project, user: record.user, admin: false };
  }

  /** The project whose history a caller may read: its own, or for an admin the one asked for, else all. */
  async function historyScope(call: {
    metadata: grpc.Metadata;
  }): Promise<{ caller: Caller; project?: string }> {
    const caller = await authenticate(call);
    if (!caller.admin) return { caller, project: caller.project };
    const asked = String(call.metadata.get(PROJECT_METADATA_KEY)[0] ?? '');
    return { caller, project: asked || undefined };
  }

  function logCall(method: string, caller: Caller | undefined, started: number, err?: unknown): void {
    const fields = {
      rpc: method,
      project: caller?.project,
      user: caller?.user,
      ms: Date.now() - started,
    };
    if (err) logger.warn({ ...fields, err: toStatus(err).details }, 'rpc failed');
    else logger.info(fields, 'rpc done');
  }

  const handlers: BuilderHandlers = {
    Hello(call, callback) {
      const started = Date.now();
      authenticate(call)
        .then(async (caller) => {
          const info = await engine.info();
          callback(null, {
            builderId: opts.builderId,
            builderVersion: opts.version,
            protocolVersion: PROTOCOL_VERSION,
            platforms: opts.platforms?.length ? opts.platforms : [info.platform],
            emulatedPlatforms: opts.emulated ?? [],
            capabilities: [
              'sync.delta',
              'export.missing-layers',
              'build.cancel',
              ...(driver === 'session'
                ? ['driver.session', 'build.secrets', 'build.ssh', 'build.registry-auth']
                : ['driver.tar']),
            ],
            engineVersion: info.version,
            imageStore: info.imageStore,
          });
          logCall('Hello', caller, started);
        })
        .catch((err) => {
          logCall('Hello', undefined, started, err);
          callback(toStatus(err));
        });
    },

    Sync(call) {
      const started = Date.now();
      let caller: Caller | undefined;
      let writer: BlobWriter | undefined;
      let finished = false;
      const fail = (err: unknown) => {
        if (finished) return;
        finished = true;
        void writer?.abort();
        logCall('Sync', caller, started, err);
        call.emit('error', toStatus(err));
      };
      call.on('cancelled', () => {
        finished = true;
        void writer?.abort();
      });
      (async () => {
        caller = await authenticate(call);
        const store = stores.forProject(caller.project);
        // Not `call[Symbol.asyncIterator]()`: that iterator destroys the stream when the client's
        // side ends, and a destroyed call can no longer send its status — a client that stopped
        // early (or sent nothing) would wait forever instead of getting an error.
        const iter = call.iterator({ destroyOnReturn: false }) as AsyncIterator<SyncRequest__Output>;
        const first = await iter.next();
        if (first.done || !first.value.begin)
          throw new RpcError(grpc.status.INVALID_ARGUMENT, 'sync must start with a manifest');
        const begin = first.value.begin;
        let entries: ContextEntry[];
        if (begin.delta) {
          // Another project's snapshot is as unknown as one nobody stored.
          const base = await store.snapshot(begin.delta.baseSnapshot);
          if (!base)
            throw new RpcError(
              grpc.status.FAILED_PRECONDITION,
              `unknown base snapshot ${begin.delta.baseSnapshot}`,
            );
          if (begin.delta.upserts.length === 0 && begin.delta.removals.length === 0) {
            // Nothing changed: the base was validated and stored already; acknowledge it as is.
            const totalBytes = base.reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0);
            call.write({ need: { digests: [], bytes: 0 } });
            store.touch(begin.delta.baseSnapshot);
            noteSync(syncKey(caller.project, begin.delta.baseSnapshot), 0, totalBytes);
            call.write({
              ready: {
                snapshotId: begin.delta.baseSnapshot,
                entries: base.length,
                totalBytes,
                receivedBytes: 0,
              },
            });
            finished = true;
            call.end();
            logCall('Sync', caller, started);
            return;
          }
          entries = applyDiff(base, {
            upserts: begin.delta.upserts.map(wireEntry),
            removals: begin.delta.removals,
          });
        } else {
          entries = (begin.full?.entries ?? []).map(wireEntry);
        }
        validateManifest(entries);
        const sizes = new Map<string, number>();
        for (const e of entries)
          if (e.type === 'file') {
            const seen = sizes.get(e.digest);
            if (seen !== undefined && seen !== e.size)
              throw new RpcError(
                grpc.status.INVALID_ARGUMENT,
                `invalid manifest: ${e.digest} is listed with sizes ${seen} and ${e.size}`,
              );
            sizes.set(e.digest, e.size);
          }
        // Proof of possession: the project uploads every blob it has not uploaded itself, even when
        // the store has the bytes from another project, so presence never answers for others' files.
        const missing = await store.missing(sizes);
        const pending = new Set(missing);
        const needBytes = missing.reduce((n, d) => n + (sizes.get(d) ?? 0), 0);
        call.write({ need: { digests: missing, bytes: needBytes } });
        let received = 0;
        let current = '';
        const inflight = new Set<Promise<void>>();
        let putError: unknown;
        while (pending.size > 0) {
          const next = await iter.next();
          if (next.done)
            throw new RpcError(
              grpc.status.INVALID_ARGUMENT,
              'the sync ended before every blob asked for was sent',
            );
          const chunk = next.value.chunk;
          if (!chunk) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'expected a blob chunk');
          if (chunk.digest !== current && chunk.last && !writer) {
            // A whole blob in one message (most files): verified in memory, stored in the
            // background with bounded concurrency, made durable by one flush before the ack.
            if (!pending.has(chunk.digest))
              throw new RpcError(grpc.status.INVALID_ARGUMENT, `blob ${chunk.digest} was not asked for`);
            const want = sizes.get(chunk.digest);
            if (chunk.data.length !== want)
              throw new RpcError(
                grpc.status.INVALID_ARGUMENT,
                `blob ${chunk.digest} was ${chunk.data.length} bytes, expected ${want}`,
              );
            pending.delete(chunk.digest);
            received += chunk.data.length;
            const put: Promise<void> = store
              .put(chunk.digest, chunk.data)
              .catch((err) => {
                putError ??= err;
              })
              .finally(() => inflight.delete(put));
            inflight.add(put);
            if (inflight.size >= 32) await Promise.race(inflight);
            if (putError) throw putError;
            continue;
          }
          if (chunk.digest !== current) {
            if (writer)
              throw new RpcError(grpc.status.INVALID_ARGUMENT, `blob ${current} ended without last`);
            if (!pending.has(chunk.digest))
              throw new RpcError(grpc.status.INVALID_ARGUMENT, `blob ${chunk.digest} was not asked for`);
            current = chunk.digest;
            writer = store.begin(chunk.digest, sizes.get(chunk.digest) ?? 0);
          }
          if (chunk.data.length > CHUNK_SIZE)
            throw new RpcError(grpc.status.INVALID_ARGUMENT, 'blob chunk larger than the protocol allows');
          if (chunk.data.length) await writer!.write(chunk.data);
          received += chunk.data.length;
          if (chunk.last) {
            const w = writer!;
            writer = undefined;
            current = '';
            await w.commit();
            pending.delete(chunk.digest);
          }
        }
        await Promise.all(inflight);
        if (putError) throw putError;
        await store.flushAndClaim(missing.map((digest) => ({ digest, size: sizes.get(digest) ?? 0 })));
        const id = await store.putSnapshot(entries);
        const totalBytes = [...sizes.values()].reduce((a, b) => a + b, 0);
        noteSync(syncKey(caller.project, id), received, totalBytes);
        call.write({
          ready: { snapshotId: id, entries: entries.length, totalBytes, receivedBytes: received },
        });
        finished = true;
        call.end();
        logger.info(
          { rpc: 'Sync', project: caller.project, snapshot: id, blobs: missing.length, bytes: received },
          'snapshot ready',
        );
        logCall('Sync', caller, started);
      })().catch(fail);
    },

    Build(call) {
      const started = Date.now();
      const ac = new AbortController();
      let caller: Caller | undefined;
      let recording: BuildRecording | undefined;
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        call.end();
      };
      call.on('cancelled', () => ac.abort());
      ac.signal.addEventListener(
        'abort',
        () => {
          if (ac.signal.reason !== SHUTTING_DOWN || ended) return;
          // The client must not take this for its own cancel: a failed result with a stable code.
          call.write({
            result: {
              ok: false,
              error: 'the builder shut down during the build',
              errorCode: 'builder_shutdown',
              tags: call.request.tags,
            },
          });
          end();
        },
        { once: true },
      );
      const send = (ev: BuildEvent) => {
        if (!ac.signal.aborted) call.write(ev);
      };
      const sendVertex = async (v: Parameters<BuildRecording['vertex']>[0] & { inputs: string[] }) => {
        send({ vertex: v });
        for (const explained of (await recording?.vertex(v)) ?? []) send({ explained });
      };
      const handled = (async () => {
        caller = await authenticate(call);
        const store = stores.forProject(caller.project);
        const req = call.request;
        // Another project's snapshot is as unknown as one nobody stored.
        const entries = await store.snapshot(req.snapshotId);
        if (!entries) throw new RpcError(grpc.status.NOT_FOUND, `unknown snapshot ${req.snapshotId}`);
        store.touch(req.snapshotId);
        for (const t of req.tags) {
          // The engine's tag API would take `app:bad:tag` as app + bad:tag (or worse): refuse like docker.
          try {
            parseReference(t);
          } catch (err) {
            throw new RpcError(grpc.status.INVALID_ARGUMENT, (err as Error).message);
          }
        }
        const buildId = req.buildId || randomUUID();
        if (driver !== 'session' && (Object.keys(req.secrets ?? {}).length || req.sshIds.length))
          throw new RpcError(
            grpc.status.FAILED_PRECONDITION,
            'this builder drives its engine without a BuildKit session (tar driver): it cannot serve --secret or --ssh',
          );
        // Registry credentials live only in this closure (never logged, never stored) and go to
        // the engine as X-Registry-Auth for this build's pushes.
        const registryAuth = req.registryAuth;
        const ns = namespaces.forProject(caller.project);
        // The engine's name of an image the project refers to: its own image of that name when it
        // has one (as docker finds a local tag first), else the name as written.
        const engineRef = async (ref: string): Promise<string> => {
          let own: string;
          try {
            own = ns.name(ref);
          } catch {
            return ref;
          }
          return (await engine.inspectImage(own)) ? own : ref;
        };
        const pushAfterBuild = async (imageId: string, tags: string[]): Promise<PushOutcome> => {
          const pushed: PushedImage[] = [];
          if (!req.push) return { ok: true, error: '', errorCode: '', pushed };
          if (tags.length === 0)
            return { ok: false, error: 'push needs at least one tag', errorCode: 'push_failed', pushed };
          const mediaType = (await engine.info()).imageStore === 'graphdriver' ? DOCKER_MANIFEST_V2 : '';
          for (const ref of tags) {
            const host = registryOf(splitTagReference(ref).repository);
            send({ message: `pushing ${ref}` });
            try {
              // The registry name exists on the engine only while it is pushed (see pushNamed).
              const r = await pushNamed(imageId, ref, () =>
                engine.pushImage(ref, toPushAuth(authForHost(registryAuth, host)), ac.signal, (text) =>
                  send({ message: `${ref}: ${text}` }),
                ),
              );
              pushed.push({
                repository: r.repository,
                tag: r.tag,
                digest: r.digest,
                size: r.size,
                mediaType,
              });
              send({ message: `pushed ${r.repository}:${r.tag}@${r.digest}` });
              logger.info(
                { rpc: 'Build', project: caller?.project, buildId, repository: r.repository, tag: r.tag },
                'pushed',
              );
            } catch (err) {
              const code = (err as { code?: string }).code;
              const error = err instanceof Error ? err.message : String(err);
              logger.warn({ rpc: 'Build', project: caller?.project, buildId, ref, code }, 'push failed');
              return {
                ok: false,
                error,
                errorCode: code === 'cancelled' ? 'cancelled' : code || 'push_failed',
                pushed,
              };
            }
          }
          return { ok: true, error: '', errorCode: '', pushed };
        };
        const dockerfile = req.dockerfilePath;
        const extra = req.dockerfileContent.length ? { dockerfile: req.dockerfileContent } : undefined;
        if (!extra) {
          const entry = entries.find((e) => e.path === dockerfile);
          if (!entry || (entry.type !== 'file' && entry.type !== 'hardlink')) {
            send({
              result: {
                ok: false,
                error: `dockerfile not found in the build context: ${dockerfile || '(none)'}`,
                errorCode: 'dockerfile_not_found',
              },
            });
            end();
            return;
          }
        }
        const dfBytes =
          extra?.dockerfile ?? (await readBlob(store, entries.find((e) => e.path === dockerfile)!.digest));
        const dfDigest = `sha256:${createHash('sha256').update(dfBytes).digest('hex')}`;
        // What the engine reads: the project's own images under their names in its namespace.
        let engineDockerfile: Buffer;
        try {
          engineDockerfile = Buffer.from(
            await resolveImageNames(dfBytes.toString('utf8'), {
              isInternal: (ref) => namespaces.isInternal(ref),
              // --pull asks the registry for every base image, as docker build --pull does.
              ownImage: async (ref) => {
                if (req.pull) return undefined;
                const name = await engineRef(ref);
                return name === ref ? undefined : name;
              },
              buildArgs: req.buildArgs,
            }),
          );
        } catch (err) {
          if (err instanceof ImageNameError) throw new RpcError(grpc.status.INVALID_ARGUMENT, err.message);
          throw err;
        }
        const bases =
          memo || history
            ? await resolveBaseImages(
                dfBytes.toString('utf8'),
                async (ref) => (await engine.inspectImage(await engineRef(ref)))?.id,
              )
            : undefined;
        if (history) {
          const synced = syncBytes.get(syncKey(caller.project, req.snapshotId));
          syncBytes.delete(syncKey(caller.project, req.snapshotId));
          recording = await beginRecording(
            {
              history,
              explainer,
              feed,
              snapshotEntries: (id) => store.snapshot(id),
              now,
              onError: (err) =>
                logger.warn({ rpc: 'Build', buildId, err: (err as Error).message }, 'build history failed'),
            },
            {
              buildId,
              project: caller.project,
              user: caller.user,
              platform: req.platform ? normalizePlatform(req.platform) : await defaultPlatform(),
              snapshotId: req.snapshotId,
              entries,
              buildArgs: req.buildArgs,
              dockerfilePath: extra ? '' : dockerfile,
              target: req.target,
              dockerfileDigest: dfDigest,
              dockerfile: dfBytes.toString('utf8'),
              baseImages: baseImageMap(bases),
              noCache: req.noCache,
              bytesUploaded: synced?.received ?? 0,
              bytesDeduplicated: synced ? synced.total - synced.received : 0,
            },
          );
        }
        // Reuse the result of an identical earlier build (same snapshot, Dockerfile, args and base
        // image ids): BuildKit would only answer "cached" for every step after re-reading the context.
        let key: string | undefined;
        if (!req.noCache && !req.pull && memo) {
          if (bases) {
            key = memoKey(
              {
                project: caller.project,
                snapshotId: req.snapshotId,
                dockerfile: dfBytes,
                dockerfilePath: extra ? '' : dockerfile,
                buildArgs: req.buildArgs,
                target: req.target,
                platform: req.platform,
                labels: req.labels,
              },
              bases,
            );
            const hit = await memo.get(key);
            const img = hit ? await engine.inspectImage(hit.imageId) : undefined;
            if (hit && img && ns.owns(img.repoTags)) {
              await engine.tagImage(
                hit.imageId,
                req.tags.map((t) => ns.name(t)),
              );
              const now = Date.now();
              send({ info: `reusing the result of an identical build (${hit.builtAt})` });
              // A vertex BuildKit never named (memos written before names were kept) would show as
              // a bare `#N CACHED`: it says nothing, so it is not replayed.
              for (const v of hit.vertices)
                if (v.name !== '')
                  await sendVertex({ ...v, cached: true, startedMs: now, completedMs: now, error: '' });
              const pushed = await pushAfterBuild(hit.imageId, req.tags);
              recording?.finish(pushed.ok ? 'ok' : 'failed');
              send({
                result: {
                  ...pushed,
                  imageId: hit.imageId,
                  tags: req.tags,
                  imageSize: img.size,
                  diffIds: img.diffIds,
                  platform: img.platform || req.platform,
                },
              });
              logger.info(
                {
                  rpc: 'Build',
                  project: caller.project,
                  buildId,
                  image: hit.imageId,
                  memo: true,
                  pushed: pushed.pushed.length,
                  ok: pushed.ok,
                },
                'build reused',
              );
              end();
              return;
            }
          }
        }
        const vertices = new Map<string, MemoVertex>();
        const relabel = createStepLabeler(dfBytes.toString('utf8'));
        logger.info(
          { rpc: 'Build', project: caller.project, buildId, snapshot: req.snapshotId, driver },
          'build started',
        );
        let engineReq: EngineBuildRequest;
        const common = {
          buildArgs: req.buildArgs,
          target: req.target,
          platform: req.platform,
          // Names in the project's namespace: a client's -t never names a shared engine image.
          tags: req.tags.map((t) => ns.name(t)),
          noCache: req.noCache,
          pull: req.pull,
          labels: req.labels,
          buildId,
        };
        if (driver === 'session') {
          // The Dockerfile is served on its own ("dockerfile" dir), so it never enters the context.
          const name = extra ? 'Dockerfile' : dockerfile.slice(dockerfile.lastIndexOf('/') + 1);
          const project = caller.project;
          engineReq = {
            ...common,
            dockerfile: name,
            session: {
              name: project,
              // One key per project: BuildKit keeps the project's last context and fetches only changes.
              sharedKey: contextKeys.keyFor(project, entries),
              dirs: new Map([
                ['context', { entries, open: (d: string) => store.open(d) }],
                [
                  'dockerfile',
                  {
                    entries: singleFileEntries(
                      name,
                      engineDockerfile.length,
                      engineDockerfile === dfBytes
                        ? dfDigest
                        : `sha256:${createHash('sha256').update(engineDockerfile).digest('hex')}`,
                    ),
                    open: () => Readable.from([engineDockerfile]),
                  },
                ],
              ]),
              // Held only in this closure for the build's lifetime; never logged or recorded.
              secrets: new Map(Object.entries(req.secrets ?? {})),
              credentials: (host) => sessionCredentials(authForHost(registryAuth, host)),
              ssh: req.sshIds.length
                ? { ids: req.sshIds, connect: (id) => sshRelays.connect(buildId, project, id) }
                : undefined,
              onTransfer: (dir, bytes, files, ms) => {
                logger.info(
                  { rpc: 'Build', project, buildId, dir, bytes, files, ms },
                  'context served to the engine',
                );
                if (dir === 'context' && files > 0)
                  send({
                    info: `context: ${formatBytes(bytes)} in ${files} file${files === 1 ? '' : 's'} sent to the engine`,
                  });
              },
            },
          };
        } else {
          const rewritten = !engineDockerfile.equals(dfBytes);
          const tar = createContextTar(
            entries,
            (d) => store.open(d),
            rewritten ? { dockerfile: engineDockerfile } : extra,
          );
          engineReq = {
            ...common,
            context: tar.stream,
            dockerfile: tar.dockerfilePath || dockerfile,
          };
        }
        const localBase = createLocalBaseCheck({
          inspect: (ref) => engine.inspectImage(ref),
          pull: req.pull,
          platform: req.platform,
        });
        const events = engine.build(engineReq, ac.signal);
        for await (const ev of events) {
          if (ev.type === 'result') {
            let size = 0;
            let diffIds: string[] = [];
            let platform = '';
            let outcome: PushOutcome = { ok: ev.ok, error: ev.error, errorCode: ev.errorCode, pushed: [] };
            if (ev.ok) {
              // The name that makes this image id the project's (Export answers only for those).
              const resultName = ns.result(ev.imageId);
              if (resultName) await engine.tagImage(ev.imageId, [resultName]);
              const img = await engine.inspectImage(ev.imageId);
              size = img?.size ?? 0;
              diffIds = img?.diffIds ?? [];
              platform = img?.platform ?? '';
              if (key && memo)
                await memo.put(key, {
                  imageId: ev.imageId,
                  vertices: [...vertices.values()],
                  builtAt: new Date().toISOString(),
                });
              outcome = await pushAfterBuild(ev.imageId, req.tags);
            }
            for (const explained of (await recording?.flush()) ?? []) send({ explained });
            recording?.finish(outcome.ok ? 'ok' : outcome.errorCode === 'cancelled' ? 'cancelled' : 'failed');
            send({
              result: {
                ...outcome,
                imageId: ev.imageId,
                tags: req.tags,
                imageSize: size,
                diffIds,
                platform: platform || req.platform,
              },
            });
            logger.info(
              {
                rpc: 'Build',
                project: caller.project,
                buildId,
                ok: outcome.ok,
                image: ev.imageId,
                pushed: outcome.pushed.length,
                ms: Date.now() - started,
              },
              'build finished',
            );
          } else if (ev.type === 'vertex') {
            // A vertex shared with another build on this engine may carry that build's label.
            const vertex = ev.vertex.name ? { ...ev.vertex, name: relabel(ev.vertex.name) } : ev.vertex;
            vertices.set(vertex.digest, {
              digest: vertex.digest,
              // A re-sent vertex may come without its name: keep the one seen first.
              name: vertex.name || vertices.get(vertex.digest)?.name || '',
              inputs: vertex.inputs,
            });
            await sendVertex(await localBase.adjust(vertex));
          } else {
            if (ev.type === 'status') recording?.status(ev.status);
            send(engineEventToWire(ev));
          }
        }
        if (!ac.signal.aborted) end();
      })()
        .catch((err) => {
          logCall('Build', caller, started, err);
          if (!ac.signal.aborted) call.emit('error', toStatus(err));
        })
        .finally(() => {
          // A build that ended without a result (cancelled, engine lost, builder stopped) is recorded too.
          recording?.finish(ac.signal.aborted ? 'cancelled' : 'failed');
          activeBuilds.delete(ac);
        });
      activeBuilds.set(ac, handled);
    },

    Stats(call, callback) {
      const started = Date.now();
      let caller: Caller | undefined;
      (async () => {
        const scope = await historyScope(call);
        caller = scope.caller;
        if (!history) throw new RpcError(grpc.status.UNIMPLEMENTED, 'this builder keeps no build history');
        const window = (call.request.window || '24h') as StatsWindow;
        const groupBy = (call.request.groupBy || 'project') as StatsGroupBy;
        if (!STATS_WINDOWS.includes(window))
          throw new RpcError(grpc.status.INVALID_ARGUMENT, `unknown window "${window}": use 1h, 24h or 7d`);
        if (!STATS_GROUPS.includes(groupBy))
          throw new RpcError(
            grpc.status.INVALID_ARGUMENT,
            `unknown grouping "${groupBy}": use project, user or platform`,
          );
        const stats = history.stats({ window, groupBy, project: scope.project, now: now() });
        stats.running = feed
          .running()
          .filter((b) => scope.project === undefined || b.project === scope.project);
        callback(null, stats);
        logCall('Stats', caller, started);
      })().catch((err) => {
        logCall('Stats', caller, started, err);
        callback(toStatus(err));
      });
    },

    ForwardSsh(call) {
      authenticate(call)
        .then((caller) => {
          if (driver !== 'session')
            throw new RpcError(
              grpc.status.FAILED_PRECONDITION,
              'this builder cannot forward SSH agents (tar driver)',
            );
          sshRelays.attach(call, caller.project);
        })
        .catch((err) => {
          logCall('ForwardSsh', undefined, Date.now(), err);
          call.emit('error', toStatus(err));
        });
    },

    WatchBuilds(call) {
      const started = Date.now();
      let unsubscribe: (() => void) | undefined;
      const stop = () => {
        unsubscribe?.();
        unsubscribe = undefined;
      };
      call.on('cancelled', stop);
      call.on('close', stop);
      (async () => {
        const scope = await historyScope(call);
        if (!history) throw new RpcError(grpc.status.UNIMPLEMENTED, 'this builder keeps no build history');
        if (call.cancelled) return;
        unsubscribe = feed.subscribe((summary) => {
          if (scope.project === undefined || summary.project === scope.project) call.write(summary);
        });
        // Headers now, so the client knows the watch is live before any build happens.
        call.sendMetadata(new grpc.Metadata());
        // Builds already running when the watcher arrived, so it never misses one in progress.
        for (const b of feed.running())
          if (scope.project === undefined || b.project === scope.project) call.write(b);
        logCall('WatchBuilds', scope.caller, started);
      })().catch((err) => {
        logCall('WatchBuilds', undefined, started, err);
        stop();
        call.emit('error', toStatus(err));
      });
    },

    Export(call) {
      const started = Date.now();
      const ac = new AbortController();
      let caller: Caller | undefined;
      call.on('cancelled', () => ac.abort());
      (async () => {
        caller = await authenticate(call);
        const req = call.request;
        // Only the project's own results, by id or by the name it tagged: any other image, another
        // project's included, is as unknown as one the engine does not have.
        const ns = namespaces.forProject(caller.project);
        let name = req.imageId;
        if (!/^sha256:[0-9a-f]{64}$/.test(name)) {
          try {
            name = ns.name(name);
          } catch {
            name = '';
          }
        }
        const img = name ? await engine.inspectImage(name) : undefined;
        if (!img || !ns.owns(img.repoTags))
          throw new RpcError(grpc.status.NOT_FOUND, `unknown image ${req.imageId}`);
        const { stream, summary } = engine.exportImage(
          img.id,
          new Set(req.haveChainIds),
          req.allLayers,
          ac.signal,
        );
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          for (let off = 0; off < chunk.length; off += CHUNK_SIZE) {
            const part = chunk.subarray(off, off + CHUNK_SIZE);
            if (!call.write({ data: part })) await new Promise((r) => call.once('drain', r));
          }
        }
        const s = await summary;
        call.write({ summary: s });
        call.end();
        logger.info({ rpc: 'Export', project: caller.project, image: req.imageId, ...s }, 'export done');
      })().catch((err) => {
        logCall('Export', caller, started, err);
        if (!ac.signal.aborted) call.emit('error', toStatus(err));
      });
    },
  };

  const server = new grpc.Server({
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5000,
    'grpc.max_receive_message_length': CHUNK_SIZE * 2 + 64 * 1024 * 1024,
  });
  // Streams (other than Build, which ends with its own result) still open at shutdown.
  const openStreams = new Set<NodeJS.EventEmitter>();
  const track = (call: NodeJS.EventEmitter) => {
    openStreams.add(call);
    const done = () => openStreams.delete(call);
    call.once('finish', done);
    call.once('cancelled', done);
    call.once('close', done);
  };
  const served: Record<string, unknown> = { ...handlers };
  for (const name of ['Sync', 'Export', 'WatchBuilds', 'ForwardSsh'] as const) {
    const handler = handlers[name] as (call: NodeJS.EventEmitter) => void;
    served[name] = (call: NodeJS.EventEmitter) => {
      track(call);
      handler(call);
    };
  }
  server.addService(proto.depot.builder.v1.Builder.service, served as BuilderHandlers);

  return {
    server,
    listen(address, tls) {
      const creds = tls
        ? grpc.ServerCredentials.createSsl(
            tls.clientCa ?? null,
            [{ cert_chain: tls.cert, private_key: tls.key }],
            !!tls.clientCa,
          )
        : grpc.ServerCredentials.createInsecure();
      return new Promise((resolve, reject) => {
        server.bindAsync(address, creds, (err, port) => {
          if (err) reject(err);
          else resolve(address.startsWith('unix:') ? address : address.replace(/:\d+$/, `:${port}`));
        });
      });
    },
    async close() {
      // Running builds end with a builder_shutdown result, then settle (and are recorded) before
      // the server stops; an engine slow to cancel does not hold the shutdown beyond a moment.
      const handlers = [...activeBuilds.values()];
      for (const ac of activeBuilds.keys()) ac.abort(SHUTTING_DOWN);
      for (const call of openStreams) call.emit('error', SHUTDOWN_STATUS);
      openStreams.clear();
      await Promise.race([
        Promise.allSettled(handlers),
        new Promise((r) => setTimeout(r, BUILD_DRAIN_MS).unref()),
      ]);
      await new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      });
    },
  };
}

// src/protocol does not re-export these generated message types; derive them from the ones it does.
type PushedImage = BuildResult__Output['pushed'][number];
type RegistryAuthWire = NonNullable<BuildRequest['registryAuth']>[string];

/** The part of a build result that a push decides. */
interface PushOutcome {
  ok: boolean;
  error: string;
  errorCode: string;
  pushed: PushedImage[];
}

function toPushAuth(a: RegistryAuthWire | undefined): PushAuth | undefined {
  if (!a) return undefined;
  return {
    username: a.username,
    password: a.password,
    identityToken: a.identityToken,
    serverAddress: a.serverAddress,
  };
}

/** `resolveBaseImages`'s "ref=id" list as ref → id; empty when the bases could not be resolved. */
function baseImageMap(bases: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const b of bases ?? []) {
    const i = b.lastIndexOf('=');
    if (i > 0) out[b.slice(0, i)] = b.slice(i + 1);
  }
  return out;
}

function wireEntry(e: Entry__Output): ContextEntry {
  const entry = entryFromWire(e);
  if (!entry) throw new ManifestError(`invalid manifest: unknown entry type for ${JSON.stringify(e.path)}`);
  return entry;
}

function engineEventToWire(ev: Exclude<EngineEvent, { type: 'result' }>): BuildEvent {
  switch (ev.type) {
    case 'vertex':
      return { vertex: ev.vertex };
    case 'status':
      return {
        status: {
          id: ev.status.id,
          vertex: ev.status.vertex,
          name: ev.status.name,
          current: ev.status.current,
          total: ev.status.total,
          timestampMs: ev.status.timestampMs,
          startedMs: ev.status.startedMs,
          completedMs: ev.status.completedMs,
        },
      };
    case 'log':
      return { log: { vertex: ev.vertex, stream: ev.stream, data: ev.data, timestampMs: ev.timestampMs } };
    default:
      return { message: ev.text };
  }
}

/** Credentials in the form BuildKit's Auth service answers with. */
function sessionCredentials(a: RegistryAuthWire | undefined): SessionCredentials | undefined {
  if (!a) return undefined;
  if (a.identityToken) return { username: '', secret: a.identityToken };
  if (a.username || a.password) return { username: a.username ?? '', secret: a.password ?? '' };
  return undefined;
}
