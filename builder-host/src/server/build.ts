import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { normalizePlatform } from '../../../src/protocol/fleet/index.js';
import {
  type BuildEvent,
  type BuilderHandlers,
  type BuildRequest,
  type BuildResult__Output,
  CONTEXT_INCOMPLETE,
  compileInclude,
  formatBytes,
} from '../../../src/protocol/index.js';
import { parseReference, registryOf, splitTagReference } from '../../../src/registry/index.js';
import type {
  EngineBuildOptions,
  EngineBuildRequest,
  EngineEvent,
  PushAuth,
  SessionOutput,
} from '../engine/index.js';
import { authForHost, createContextTar, DOCKER_MANIFEST_V2 } from '../engine/index.js';
import { singleFileEntries } from '../engine/session/fs-view.js';
import type { SessionCredentials } from '../engine/session/session.js';
import { type BuildRecording, beginRecording, createStepLabeler } from '../history/index.js';
import type { ProjectStore } from '../store/index.js';
import type { CallContext } from './authorize.js';
import { ImageNameError, resolveImageNames } from './base-names.js';
import { createContextKeys } from './context-keys.js';
import { type ServerDeps, SHUTTING_DOWN } from './deps.js';
import { checkEngineOptions, EngineOptionsError, engineOptionsKey } from './engine-options.js';
import { BUILD_ID_PATTERN, checkBuildInputs, checkDockerfile, createSlots } from './limits.js';
import { createLocalBaseCheck } from './local-base.js';
import { checkOutputRequest, createOutputSink } from './output.js';
import { createResultMemo, type MemoVertex, memoKey, resolveBaseImages } from './result-memo.js';
import { RpcError, toStatus } from './rpc-error.js';
import { type StepVertex, stepLayers } from './step-layers.js';

/** A scoped context names at most this many follow paths, each at most this long. */
const MAX_SCOPE_PATHS = 10_000;
const MAX_SCOPE_PATH_LENGTH = 4096;

/**
 * Build: one build of one of the project's snapshots on the engine, streamed back as BuildEvents,
 * then pushed when asked; an identical earlier build's result is reused.
 */
export function createBuildHandler(deps: ServerDeps): BuilderHandlers['Build'] {
  const { engine, logger, namespaces, driver, history, explainer, feed, now, syncs, sshRelays } = deps;
  const { activeBuilds, defaultPlatform, logCall, limits, holds } = deps;
  const buildSlots = createSlots(
    limits.buildsPerProject,
    (project, max) =>
      `project ${project} is running ${max} builds on this builder already, its limit: wait for one to finish`,
  );
  const memo = deps.opts.memoDir ? createResultMemo(deps.opts.memoDir) : undefined;
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
  const readBlob = async (store: ProjectStore, digest: string): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const c of store.open(digest) as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  };
  return (call) => {
    const started = Date.now();
    const ac = new AbortController();
    let caller: CallContext | undefined;
    let recording: BuildRecording | undefined;
    /** Why the handler failed, for the history. */
    let failure: string | undefined;
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
        const ev: BuildEvent = {
          result: {
            ok: false,
            error: 'the builder shut down during the build',
            errorCode: 'builder_shutdown',
            tags: call.request.tags,
          },
        };
        recording?.event(ev);
        failure = 'the builder shut down during the build';
        call.write(ev);
        end();
      },
      { once: true },
    );
    // Everything the client is sent goes into the build's trace too (but the output's files).
    const send = (ev: BuildEvent) => {
      recording?.event(ev);
      if (!ac.signal.aborted) call.write(ev);
    };
    /**
     * The result: into the trace, recorded with the build, then sent, so that a Stats or history
     * call right after the client has its result finds the build finished, with its trace.
     */
    const finishWith = async (result: BuildResult, outcome: 'ok' | 'failed' | 'cancelled') => {
      const ev: BuildEvent = { result };
      recording?.event(ev);
      await recording?.finish(outcome, result.ok ? undefined : result.error || result.errorCode);
      if (!ac.signal.aborted) call.write(ev);
    };
    const sendVertex = async (v: Parameters<BuildRecording['vertex']>[0] & { inputs: string[] }) => {
      send({ vertex: v });
      for (const explained of (await recording?.vertex(v)) ?? []) send({ explained });
      const coldMs = (await recording?.coldMs(v)) ?? 0;
      if (coldMs > 0) send({ saved: { vertex: v.digest, coldMs } });
    };
    // The built image's history, asked for beside its inspect: what each step's layer weighs.
    const readHistory = (imageId: string) =>
      engine.imageHistory(imageId).catch((err: Error) => {
        logger.warn({ rpc: 'Build', image: imageId, err: err.message }, 'image history failed');
        return undefined;
      });
    const sendLayers = async (steps: Iterable<StepVertex>, history: ReturnType<typeof readHistory>) => {
      for (const layer of stepLayers(steps, (await history) ?? [])) send({ layer });
    };
    let releaseSlot = () => {};
    let endResultUse = () => {};
    const handled = (async () => {
      caller = await deps.auth.authorize(call);
      const store = caller.store;
      const req = call.request;
      // Before the snapshot, the store or the engine see any of it.
      checkBuildInputs(limits, req);
      let engineOptions: EngineBuildOptions | undefined;
      try {
        engineOptions = checkEngineOptions(req.engineOptions, {
          allowNetworkHost: deps.opts.allowNetworkHost ?? false,
          isInternal: (ref) => namespaces.isInternal(ref),
        });
      } catch (err) {
        if (!(err instanceof EngineOptionsError)) throw err;
        throw new RpcError(
          err.kind === 'denied' ? grpc.status.PERMISSION_DENIED : grpc.status.INVALID_ARGUMENT,
          err.message,
        );
      }
      if (req.platform)
        try {
          normalizePlatform(req.platform);
        } catch (err) {
          throw new RpcError(grpc.status.INVALID_ARGUMENT, (err as Error).message);
        }
      if (req.buildId && !BUILD_ID_PATTERN.test(req.buildId))
        throw new RpcError(
          grpc.status.INVALID_ARGUMENT,
          'invalid build id: use up to 128 letters, digits, ".", "_" and "-"',
        );
      if (req.dockerfileContent.length)
        checkDockerfile(limits, req.dockerfileContent, () => req.dockerfileContent.toString('utf8'));
      if (req.contextScoped && driver !== 'session')
        throw new RpcError(
          grpc.status.FAILED_PRECONDITION,
          'this builder serves whole contexts only (tar driver): sync the whole context',
        );
      if (
        req.contextScope.length > MAX_SCOPE_PATHS ||
        req.contextScope.some((p) => p.length > MAX_SCOPE_PATH_LENGTH || p.includes('\0'))
      )
        throw new RpcError(
          grpc.status.INVALID_ARGUMENT,
          `context scope too large: at most ${MAX_SCOPE_PATHS} paths of ${MAX_SCOPE_PATH_LENGTH} characters`,
        );
      // Only `local` and `tar`, served through the session: nothing of the request names a path.
      const output = checkOutputRequest(limits, req.output, driver);
      releaseSlot = buildSlots.take(caller.project);
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
      const ns = caller.images;
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
      // A cache source is found as FROM finds an image: the project's own of that name first.
      if (engineOptions?.cacheFrom)
        engineOptions = {
          ...engineOptions,
          cacheFrom: await Promise.all(engineOptions.cacheFrom.map(engineRef)),
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
        checkDockerfile(limits, entry.size);
      }
      const dfBytes =
        extra?.dockerfile ?? (await readBlob(store, entries.find((e) => e.path === dockerfile)!.digest));
      if (!extra) checkDockerfile(limits, dfBytes, () => dfBytes.toString('utf8'));
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
        const synced = syncs.take(caller.project, req.snapshotId);
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
      // An output is the engine's export of the build: a remembered image cannot stand in for it.
      if (!req.noCache && !req.pull && memo && !output) {
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
              engine: engineOptionsKey(engineOptions),
            },
            bases,
          );
          const hit = await memo.get(key);
          // Held before it is looked at, as a built result is (below): its names may be old.
          const endHitUse = hit ? holds.use(caller.project, hit.imageId) : () => {};
          const history = hit ? readHistory(hit.imageId) : undefined;
          const img = hit ? await engine.inspectImage(hit.imageId) : undefined;
          if (!(hit && img && ns.owns(img.repoTags))) endHitUse();
          else {
            endResultUse = endHitUse;
            if (req.load) holds.awaitLoad(caller.project, hit.imageId);
            await engine.tagImage(
              hit.imageId,
              [
                ...req.tags.map((t) => ns.name(t)),
                // Tagged again: its age is its last use.
                ns.result(hit.imageId),
              ].filter(Boolean),
            );
            const now = Date.now();
            send({ info: `reusing the result of an identical build (${hit.builtAt})` });
            // A vertex BuildKit never named (memos written before names were kept) would show as
            // a bare `#N CACHED`: it says nothing, so it is not replayed.
            for (const v of hit.vertices)
              if (v.name !== '')
                await sendVertex({ ...v, cached: true, startedMs: now, completedMs: now, error: '' });
            if (history) await sendLayers(hit.vertices, history);
            const pushed = await pushAfterBuild(hit.imageId, req.tags);
            await finishWith(
              {
                ...pushed,
                imageId: hit.imageId,
                tags: req.tags,
                imageSize: img.size,
                diffIds: img.diffIds,
                platform: img.platform || req.platform,
              },
              pushed.ok ? 'ok' : 'failed',
            );
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
      // Set when the engine asked a scoped context for a path it does not hold.
      let incomplete: string | undefined;
      const common = {
        buildArgs: req.buildArgs,
        target: req.target,
        platform: req.platform,
        // Names in the project's namespace: a client's -t never names a shared engine image. An
        // output build keeps no image to name.
        tags: output ? [] : req.tags.map((t) => ns.name(t)),
        noCache: req.noCache,
        pull: req.pull,
        labels: req.labels,
        buildId,
        options: engineOptions,
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
              [
                'context',
                {
                  entries,
                  open: (d: string) => store.open(d),
                  scope: req.contextScoped ? req.contextScope.map(compileInclude) : undefined,
                },
              ],
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
            // The files go to this call's stream only: the caller's own Build, nowhere on disk.
            output: output
              ? ({
                  ...output,
                  sink: createOutputSink(call, ac.signal, (totals) =>
                    logger.info({ rpc: 'Build', project, buildId, ...totals }, 'output sent'),
                  ),
                } satisfies SessionOutput)
              : undefined,
            onIncomplete: (dir, path) => {
              incomplete = path;
              logger.info(
                { rpc: 'Build', project, buildId, dir, path },
                'the engine asked for an unsynced path',
              );
            },
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
          if (!ev.ok && incomplete !== undefined)
            outcome = {
              ok: false,
              error: `the build reads ${JSON.stringify(incomplete)}, which the Dockerfile's COPY sources do not name (a base image's ONBUILD?)`,
              errorCode: CONTEXT_INCOMPLETE,
              pushed: [],
            };
          if (ev.ok && !output) {
            // Held before it is named: a collection that listed the image's old name (a cache hit
            // re-tags an earlier result) must not remove it now. A client that loads gets it held
            // until its Export.
            endResultUse = holds.use(caller.project, ev.imageId);
            if (req.load) holds.awaitLoad(caller.project, ev.imageId);
            // The name that makes this image id the project's (Export answers only for those).
            const resultName = ns.result(ev.imageId);
            if (resultName) await engine.tagImage(ev.imageId, [resultName]);
            const history = readHistory(ev.imageId);
            const img = await engine.inspectImage(ev.imageId);
            size = img?.size ?? 0;
            diffIds = img?.diffIds ?? [];
            platform = img?.platform ?? '';
            await sendLayers(vertices.values(), history);
            if (key && memo)
              await memo.put(key, {
                imageId: ev.imageId,
                vertices: [...vertices.values()],
                builtAt: new Date().toISOString(),
              });
            outcome = await pushAfterBuild(ev.imageId, req.tags);
          }
          for (const explained of (await recording?.flush()) ?? []) send({ explained });
          // A build the client repeats with the whole context is not a failure of the project's.
          await finishWith(
            {
              ...outcome,
              imageId: ev.imageId,
              tags: req.tags,
              imageSize: size,
              diffIds,
              platform: platform || req.platform,
            },
            outcome.ok
              ? 'ok'
              : outcome.errorCode === 'cancelled' || outcome.errorCode === CONTEXT_INCOMPLETE
                ? 'cancelled'
                : 'failed',
          );
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
        failure ??= err instanceof Error ? err.message : String(err);
        if (!ac.signal.aborted) call.emit('error', toStatus(err));
      })
      .finally(async () => {
        // A build that ended without a result (cancelled, engine lost, builder stopped) is recorded
        // too, before the handler settles (the server's close waits for that).
        await recording?.finish(
          ac.signal.aborted ? 'cancelled' : 'failed',
          failure ?? (ac.signal.aborted ? 'cancelled' : 'the build ended without a result'),
        );
        activeBuilds.delete(ac);
        releaseSlot();
        endResultUse();
        // The context is read and the snapshot named: what the build pinned in the store goes now.
        caller?.store.release();
      });
    activeBuilds.set(ac, handled);
  };
}

type PushedImage = BuildResult__Output['pushed'][number];
type BuildResult = NonNullable<BuildEvent['result']>;
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
