import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { agentWanted } from '../agent/wanted.js';
import { formatPlatform, hostPlatform, normalizeOrKeep } from '../arch/index.js';
import { type ContextScan, scanContext } from '../context-sync/scan.js';
import { createLocalEngine } from '../docker/index.js';
import { contextScope } from '../dockerfile/context-scope.js';
import { writeFileDurably } from '../durable-file/index.js';
import { type BuildEvent, type BuildState, initialBuildState, reduceBuild } from '../progress/index.js';
import { parseReference, type RegistryAuth } from '../registry/index.js';
import { type BuilderSession, createBuilderSession, DepotError, loadImage } from '../session/index.js';
import type { SmartPlan } from '../smart-cache/plan.js';
import {
  type BuildInputs,
  type BuildOptions,
  type BuildOutcome,
  buildRegistryAuth,
  checkBeforeSync,
  dockerfileText,
  failureHint,
  type Greeting,
  greetBuilder,
  NO_OUTPUT_WARNING,
  noOutputForTags,
  type PushedRef,
  parsePlatforms,
  resolveBuildInputs,
  writeMetadata,
} from './build-inputs.js';
import { pushImageIndexes, samePlatform } from './multi.js';
import { openOutputWriter, outputLine } from './output-flag.js';
import { loadProgressEvents, syncProgressEvents } from './progress-events.js';
import { type ProgressSink, progressSinks } from './progress-sink.js';
import { agentSyncFor, syncThenBuild } from './sync-build.js';
import type { PlatformTarget } from './targets.js';

/**
 * `depot build`: sync the context, build on the builder, optionally load into the local engine,
 * push, or write the result's files (-o). One pipeline for one platform or several: each platform
 * is built on its own builder in parallel from one scan of the context; with several, `--push`
 * ends in one image index per tag and `--load` loads this machine's platform.
 */
export async function runBuild(opts: BuildOptions, signal: AbortSignal): Promise<BuildOutcome> {
  const platforms = parsePlatforms(opts.platform, true);
  if (opts.smartCache === 'verify') {
    if (platforms.length > 1)
      throw new DepotError(
        'invalid_flag',
        '--smart-cache=verify compares one platform at a time',
        'verify with one --platform, then build them all with --smart-cache',
      );
    if (opts.file === '-' || opts.context === '-')
      throw new DepotError(
        'invalid_flag',
        '--smart-cache=verify builds the context three times: it cannot read it from stdin',
        'pass a context directory',
      );
    return (await import('./smart-cache.js')).runSmartCacheVerify(opts, signal);
  }
  const inputs = await resolveBuildInputs(opts, true);
  try {
    await checkBeforeSync(opts, inputs);
    let dockerfile = await dockerfileText(inputs);
    const registryAuth = await buildRegistryAuth(opts, inputs, dockerfile);
    // The smart cache builds a Dockerfile of its own (installs before the rest of the context),
    // planned once for every platform (the context and Dockerfile are the same).
    let smart: SmartPlan | undefined;
    if (opts.smartCache === 'on' || opts.smartCache === 'plan') {
      smart = await (await import('./smart-cache.js')).smartCachePlan(opts, inputs, dockerfile);
      if (opts.smartCache === 'plan')
        return { ok: true, imageId: '', state: initialBuildState(), diffIds: [] };
      if (smart) dockerfile = smart.dockerfile;
    }
    return await buildPlatforms({ opts, inputs, platforms, dockerfile, smart, registryAuth, signal });
  } finally {
    inputs.cleanup();
  }
}

/** What one platform's build produced. */
interface PlatformResult {
  target: PlatformTarget;
  state: BuildState;
  imageId: string;
  diffIds: string[];
  /** Platform of the image config as the builder reports it (falls back to the requested one). */
  platform: string;
  pushed: PushedRef[];
}

interface PipelineInput {
  opts: BuildOptions;
  inputs: BuildInputs;
  /** Normalised --platform list; empty: this machine's (or the builder's) platform. */
  platforms: string[];
  /** The Dockerfile built (the smart cache's when it planned one). */
  dockerfile: string;
  smart: SmartPlan | undefined;
  registryAuth: Record<string, RegistryAuth>;
  signal: AbortSignal;
}

/** A promise with its settle functions, for the points where every platform waits for the others. */
function barrier(): { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/**
 * Scans the context once (while builders are picked and greeted), then for each platform in
 * parallel: greets its builder, waits until every builder said it can serve the build, syncs,
 * builds, writes -o files (one platform), and loads the image to load once every platform built.
 * Temporary tags are never made: with several platforms, each platform's image is pushed under the
 * final tag and the index pushed under it last (see pushImageIndexes).
 */
async function buildPlatforms(p: PipelineInput): Promise<BuildOutcome> {
  const { opts, inputs, platforms, smart, registryAuth, signal } = p;
  const { contextDir, dockerfileAbs, buildArgs, labels, secrets, ssh } = inputs;
  const several = platforms.length > 1;
  const sshIds = Object.keys(ssh);
  const smartDockerfile = smart ? Buffer.from(smart.dockerfile) : undefined;
  const smartReuseWatcher = smart ? (await import('../smart-cache/marks.js')).smartReuseWatcher : undefined;
  const progress = await progressSinks(
    opts.quiet ? 'quiet' : opts.progress,
    'platform',
    several ? platforms : [''],
  );
  if (progress.note) process.stderr.write(`depot: ${progress.note}\n`);
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const sessions: BuilderSession[] = [];
  let targets: PlatformTarget[] = [];
  // -o files outputs not committed yet (removed if the build does not finish: nothing half-written).
  const outputWriters = new Set<NonNullable<Awaited<ReturnType<typeof openOutputWriter>>>>();
  try {
    const scope = await contextScope(inputs, p.dockerfile);
    // Hashing progress goes to the first platform once its build has started (the builder is known).
    let hashTo: ((e: BuildEvent) => void) | undefined;
    const hashing = syncProgressEvents((e) => hashTo?.(e), 'hashing');
    let hashed = { files: 0, filesTotal: 0, bytes: 0, bytesTotal: 0 };
    let scanning: Promise<ContextScan> | undefined;
    const scanHere = () => {
      scanning ??= scanContext({
        contextDir,
        dockerfile: dockerfileAbs,
        scope,
        onProgress: (r) => {
          hashed = r;
          hashing.update(r);
        },
      });
      return scanning;
    };
    let hashingFinished = false;
    const scan = async () => {
      const s = await scanHere();
      if (!hashingFinished) {
        hashingFinished = true;
        hashing.finish(hashed);
      }
      return s;
    };
    let full: Promise<ContextScan> | undefined;
    const fullScan = () => {
      full ??= scanContext({ contextDir, dockerfile: dockerfileAbs });
      return full;
    };
    // The local agent keeps the context watched and the builder's channel warm between builds. A
    // context read from stdin lives only as long as this process: it stays here.
    const agent = agentWanted(opts) && !inputs.fromStdin ? await import('../agent/client.js') : undefined;
    const paths = agent ? (await import('../agent/paths.js')).agentPaths() : undefined;
    // Without the agent, the walk of the context needs no builder: it runs while the builders are
    // found and greeted.
    if (!agent) scanHere().catch(() => undefined);
    const { selectTargets } = await import('./targets.js');
    targets = await selectTargets(opts, platforms);
    // The embedded builder lives in this process: the agent cannot reach it (nor is one started).
    const embedded = targets.some((t) => t.embedded);
    const agentUp: Promise<boolean> =
      agent && paths && !embedded
        ? agent.ensureAgent(paths, process.argv[1] ?? '').then(
            () => true,
            () => false,
          )
        : Promise.resolve(false);
    if (!agent || embedded) scanHere().catch(() => undefined);

    const buildId = randomUUID();
    const refs = opts.tag.map((t) => ({ ref: t, ...parseReference(t) }));
    const host = formatPlatform(hostPlatform());
    // Writes of the sync state, one at a time (several platforms may share one builder's file).
    let saveTail: Promise<void> = Promise.resolve();
    const saveQueue = {
      run(write: () => Promise<void>): Promise<void> {
        const next = saveTail.then(write);
        saveTail = next.catch(() => {});
        return next;
      },
    };
    // No platform syncs until every builder said it can build its platform and serve the flags;
    // no image is loaded until every platform built.
    const greeted = barrier();
    const built = barrier();
    let greetings = 0;
    let builds = 0;
    let loadClaimed = false;
    // Said once the live view is closed (it owns the terminal while it runs).
    const afterView: string[] = [];

    const one = async (target: PlatformTarget, i: number): Promise<PlatformResult> => {
      const sink = progress.sinkFor(several ? target.platform : '');
      let state = initialBuildState();
      const reused = smart && smartReuseWatcher ? smartReuseWatcher(smart.rewrites) : undefined;
      const emit = (e: BuildEvent) => {
        state = reduceBuild(state, e);
        sink.handle(e);
        const mark = reused?.(e);
        if (mark) emit(mark);
      };
      const session = createBuilderSession({ url: target.url, token: target.token, project: target.project });
      sessions.push(session);
      let hello: Greeting['hello'];
      let flags: Greeting['flags'];
      try {
        ({ hello, flags } = await greetBuilder(session, ac.signal, { opts, inputs, target }));
      } catch (err) {
        // The others stop with an error of their own: this one is the cause to report.
        greeted.reject(new DepotError('cancelled', 'stopped: another platform could not start'));
        throw err;
      }
      // Said once, by the first builder to answer (they all take the same flags).
      if (greetings === 0 && !opts.quiet)
        for (const n of flags.notes) process.stderr.write(`depot: note: ${n}\n`);
      if (++greetings === targets.length) greeted.resolve();
      await greeted.promise;
      // Several platforms write a directory each under the destination, as buildx names them
      // (`out/linux_amd64`, `out/linux_arm64_v8`).
      const outSpec =
        opts.output?.kind === 'files' && several
          ? { ...opts.output, dest: join(opts.output.dest, target.platform.replace(/\//g, '_')) }
          : opts.output;
      const output = await openOutputWriter(outSpec, hello);
      if (output) outputWriters.add(output);
      const useAgent = paths !== undefined && (await agentUp);
      if (!useAgent) scanHere().catch(() => undefined);
      // Shown (progress, metadata) in its normalised form: `arm64` is linux/arm64.
      const platform = target.platform || normalizeOrKeep(hello.platforms[0] ?? '');
      emit({ type: 'build/started', timeMs: Date.now(), builderId: hello.builderId, platform, buildId });
      emit({
        type: 'build/defined',
        timeMs: Date.now(),
        dockerfile: p.dockerfile,
        target: opts.target ?? '',
      });
      if (i === 0) hashTo = emit;
      const r: PlatformResult = { target, state, imageId: '', diffIds: [], platform, pushed: [] };
      let ok = false;
      let imageSize = 0;
      const { relayError } = await syncThenBuild({
        session,
        hello,
        projectKey: target.project || '',
        contextDir,
        dockerfileAbs,
        dockerfileContent: inputs.dockerfileContent,
        dockerfileOverride: smartDockerfile,
        scan,
        fullScan,
        agent: agentSyncFor(useAgent ? paths : undefined, target, scope),
        request: {
          buildArgs,
          target: opts.target ?? '',
          platform: target.platform,
          // Several platforms: each image is pushed under the final tag itself (the Engine API pushes
          // tags, not digests) and the index under it last; the builder names an image by the ref
          // only while it pushes it, one push of a ref at a time, so platforms built on one engine
          // do not push each other's image.
          tags: several ? (opts.push ? refs.map((x) => `${x.repository}:${x.tag}`) : []) : opts.tag,
          noCache: !opts.cache,
          pull: opts.pull,
          labels,
          push: Boolean(opts.push),
          // Several platforms: only this machine's is loaded.
          load: Boolean(opts.load) && (!several || samePlatform(target.platform, host)),
          registryAuth,
          secrets,
          sshIds,
          engineOptions: flags.engineOptions,
          output:
            output && opts.output?.kind === 'files'
              ? { type: opts.output.type, have: output.have }
              : undefined,
        },
        buildId: several ? `${buildId}-${target.platform.replace(/\//g, '-')}` : buildId,
        ssh,
        saveQueue,
        signal: ac.signal,
        emit,
        onEvent: (ev) => {
          if (ev.event === 'output' && ev.output && output) return output.handle(ev.output);
          if (!ev.result) return;
          ok = ev.result.ok;
          r.imageId = ev.result.imageId;
          imageSize = ev.result.imageSize;
          r.diffIds = ev.result.diffIds;
          r.platform = ev.result.platform || platform;
          r.pushed = ev.result.pushed;
        },
      });
      if (!state.result) throw new DepotError('builder_error', 'build ended without a result');
      if (!ok) {
        const res = state.result;
        throw new DepotError(
          res.errorCode || 'build_failed',
          res.error || 'build failed',
          relayError
            ? `the ssh agent relay failed: ${relayError.message}`
            : failureHint(res.errorCode, res.error),
        );
      }
      if (++builds === targets.length) built.resolve();
      if (output && outSpec?.kind === 'files') {
        // Written once every platform built: a failed build leaves no output of any platform.
        await built.promise;
        const written = await output.commit();
        outputWriters.delete(output);
        if (!opts.quiet)
          emit({
            type: 'message/logged',
            timeMs: Date.now(),
            text: outputLine(outSpec, written),
            info: true,
          });
      }
      const loadsThis =
        opts.load &&
        !loadClaimed &&
        (!several || samePlatform(r.platform, host) || samePlatform(target.platform, host));
      if (loadsThis) {
        loadClaimed = true;
        await built.promise;
        if (target.embedded)
          // The embedded builder builds in the local engine: the image and its tags are already there.
          emit({
            type: 'load/finished',
            timeMs: Date.now(),
            bytes: 0,
            imageSize,
            layersSent: 0,
            layersTotal: r.diffIds.length,
            note: 'built in the local engine',
            tags: opts.tag,
          });
        else {
          const loaded = await loadIntoLocalEngine(
            session,
            { imageId: r.imageId, imageSize, diffIds: r.diffIds },
            opts.tag,
            emit,
            ac.signal,
          );
          if (several && !opts.quiet)
            afterView.push(
              `depot: --load with several platforms loads only this machine's platform: ${target.platform} image ${r.imageId.slice(0, 19)} loaded as ${opts.tag.join(', ') || 'an untagged image'} (${loaded.layersSent}/${loaded.layersTotal} layers sent)\n`,
            );
        }
      }
      r.state = state;
      return r;
    };

    const settled = await Promise.allSettled(
      targets.map((t, i) =>
        one(t, i).catch((err: unknown) => {
          built.reject(new DepotError('cancelled', 'stopped: another platform failed'));
          // One platform failed: stop the others (the index cannot be complete).
          if (!ac.signal.aborted) {
            ac.abort();
            (err as { first?: boolean }).first = true;
          }
          throw err;
        }),
      ),
    );
    await progress.close();
    for (const line of afterView) process.stderr.write(line);
    const failed = settled
      .map((s, i) => ({ s, t: targets[i]! }))
      .filter((x): x is { s: PromiseRejectedResult; t: PlatformTarget } => x.s.status === 'rejected');
    if (failed.length) {
      const first = failed.find((f) => (f.s.reason as { first?: boolean }).first) ?? failed[0]!;
      if (!several) throw first.s.reason;
      if (signal.aborted) throw new DepotError('cancelled', 'build cancelled');
      const err = first.s.reason as Error;
      const others = targets.filter((t) => t !== first.t).map((t) => t.platform);
      const stopped = others.length ? `stopped the build of ${others.join(', ')}` : undefined;
      const own = (err as DepotError).hint;
      throw new DepotError(
        (err as DepotError).code || 'build_failed',
        `[${first.t.platform}] ${err.message}`,
        own && stopped ? `${own}; ${stopped}` : (own ?? stopped),
        { cause: err },
      );
    }
    const results = settled.map((s) => (s as PromiseFulfilledResult<PlatformResult>).value);

    const indexDigest =
      several && opts.push ? await pushImageIndexes(refs, results, registryAuth, opts.quiet, signal) : '';
    if (!several && !opts.quiet)
      for (const x of results[0]!.pushed)
        process.stderr.write(`pushed ${x.repository}:${x.tag}@${x.digest}\n`);
    if (several && opts.load && !loadClaimed)
      process.stderr.write(
        `depot: --load: none of ${platforms.join(', ')} is this machine's platform (${host}); nothing loaded\n`,
      );
    const main =
      results.find(
        (r) => several && (samePlatform(r.platform, host) || samePlatform(r.target.platform, host)),
      ) ?? results[0]!;
    if (opts.metadataFile)
      await writeMetadata(
        opts.metadataFile,
        main.imageId,
        opts.tag,
        main.state,
        (several ? indexDigest : main.pushed[0]?.digest) || undefined,
        smart,
      );
    // As -q prints: the image index when one was pushed, else the image.
    if (opts.iidfile) await writeFileDurably(opts.iidfile, indexDigest || main.imageId);
    if (!opts.quiet && !embedded && noOutputForTags(opts) && !opts.output)
      process.stderr.write(`depot: warning: ${NO_OUTPUT_WARNING}\n`);
    if (opts.quiet && main.imageId) process.stdout.write(`${indexDigest || main.imageId}\n`);
    return { ok: true, imageId: main.imageId, state: main.state, diffIds: main.diffIds, smart };
  } finally {
    signal.removeEventListener('abort', onAbort);
    // Nothing half-written: an output the build did not finish is removed.
    await Promise.all([...outputWriters].map((w) => w.abort()));
    await progress.close().catch(() => {});
    for (const s of sessions) s.close();
    await Promise.all(targets.map((t) => t.close?.()));
  }
}

async function loadIntoLocalEngine(
  session: BuilderSession,
  image: { imageId: string; imageSize: number; diffIds: string[] },
  tags: string[],
  emit: (e: BuildEvent) => void,
  signal: AbortSignal,
): Promise<{ layersSent: number; layersTotal: number }> {
  const local = createLocalEngine();
  emit({ type: 'load/started', timeMs: Date.now() });
  const loading = loadProgressEvents(emit);
  const r = await loadImage(session, local, image, tags, signal, (bytes, bytesTotal) =>
    loading.update({ files: 0, filesTotal: 0, bytes, bytesTotal: Math.max(bytesTotal, bytes) }),
  );
  loading.finish({ files: 0, filesTotal: 0, bytes: r.bytes, bytesTotal: r.bytes });
  emit({
    type: 'load/finished',
    timeMs: Date.now(),
    bytes: r.bytes,
    imageSize: r.imageSize,
    layersSent: r.layersSent,
    layersTotal: r.layersTotal,
    note: r.note,
    tags,
  });
  return r;
}

export type { ProgressSink };
