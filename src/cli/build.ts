import { randomUUID } from 'node:crypto';
import { agentWanted } from '../agent/wanted.js';
import { normalizeOrKeep } from '../arch/index.js';
import { type ContextScan, scanContext } from '../context-sync/scan.js';
import { createLocalEngine } from '../docker/index.js';
import { contextScope } from '../dockerfile/context-scope.js';
import { writeFileDurably } from '../durable-file/index.js';
import { type BuildEvent, initialBuildState, reduceBuild } from '../progress/index.js';
import type { RegistryAuth } from '../registry/index.js';
import { type BuilderSession, createBuilderSession, DepotError, loadImage } from '../session/index.js';
import type { SmartPlan } from '../smart-cache/plan.js';
import {
  type BuildOptions,
  type BuildOutcome,
  buildRegistryAuth,
  checkBeforeSync,
  dockerfileText,
  failureHint,
  greetBuilder,
  NO_OUTPUT_WARNING,
  noOutputForTags,
  type PushedRef,
  parsePlatforms,
  resolveBuildInputs,
  writeMetadata,
} from './build-inputs.js';
import { openOutputWriter, outputLine } from './output-flag.js';
import { loadProgressEvents, syncProgressEvents } from './progress-events.js';
import { createProgressSink, type ProgressSink } from './progress-sink.js';
import { agentSyncFor, syncThenBuild } from './sync-build.js';
import type { PlatformTarget } from './targets.js';

/** `depot build`: sync the context, build on the builder, optionally load into the local engine. */
export async function runBuild(opts: BuildOptions, signal: AbortSignal): Promise<BuildOutcome> {
  if (opts.smartCache === 'verify') {
    if (parsePlatforms(opts.platform, true).length > 1)
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
  if (parsePlatforms(opts.platform, true).length > 1) {
    if (opts.smartCache === 'plan') {
      // The plan is the same for every platform: say it once, build nothing.
      const inputs = await resolveBuildInputs(opts, true);
      try {
        await (await import('./smart-cache.js')).smartCachePlan(opts, inputs, await dockerfileText(inputs));
      } finally {
        inputs.cleanup();
      }
      return { ok: true, imageId: '', state: initialBuildState(), diffIds: [] };
    }
    const { runMultiPlatformBuild } = await import('./multi.js');
    const { selectTargets } = await import('./targets.js');
    // Flags (--secret, --ssh, …) are checked before any builder is probed.
    const inputs = await resolveBuildInputs(opts, true);
    let targets: PlatformTarget[];
    try {
      await checkBeforeSync(opts, inputs);
      targets = await selectTargets(opts, parsePlatforms(opts.platform, true));
    } catch (err) {
      inputs.cleanup();
      throw err;
    }
    try {
      return await runMultiPlatformBuild(opts, targets, signal, inputs);
    } finally {
      await Promise.all(targets.map((t) => t.close?.()));
    }
  }
  const inputs = await resolveBuildInputs(opts);
  let registryAuth: Record<string, RegistryAuth>;
  let dockerfile: string;
  try {
    await checkBeforeSync(opts, inputs);
    dockerfile = await dockerfileText(inputs);
    registryAuth = await buildRegistryAuth(opts, inputs, dockerfile);
  } catch (err) {
    inputs.cleanup();
    throw err;
  }
  const { contextDir, dockerfileAbs, buildArgs, labels, secrets, ssh } = inputs;
  const sshIds = Object.keys(ssh);
  const { dockerfileContent } = inputs;
  // The smart cache builds a Dockerfile of its own (installs before the rest of the context).
  let smartDockerfile: Buffer | undefined;
  let smart: SmartPlan | undefined;
  if (opts.smartCache === 'on' || opts.smartCache === 'plan') {
    const { smartCachePlan } = await import('./smart-cache.js');
    const planned = await smartCachePlan(opts, inputs, dockerfile).catch((err: unknown) => {
      inputs.cleanup();
      throw err;
    });
    if (opts.smartCache === 'plan') {
      inputs.cleanup();
      return { ok: true, imageId: '', state: initialBuildState(), diffIds: [] };
    }
    if (planned) {
      smart = planned;
      dockerfile = planned.dockerfile;
      smartDockerfile = Buffer.from(planned.dockerfile);
    }
  }

  const sink = await createProgressSink(opts.quiet ? 'quiet' : opts.progress);
  let state = initialBuildState();
  // Steps the smart cache reused are told from the build's own vertices as they come.
  const reused = smart
    ? (await import('../smart-cache/marks.js')).smartReuseWatcher(smart.rewrites)
    : undefined;
  const emit = (e: BuildEvent) => {
    state = reduceBuild(state, e);
    sink.handle(e);
    const mark = reused?.(e);
    if (mark) emit(mark);
  };

  let target: PlatformTarget | undefined;
  let session: BuilderSession | undefined;
  let outputWriter: Awaited<ReturnType<typeof openOutputWriter>>;
  // The walk of the context needs no builder: it runs while the builder is found and greeted.
  // Hashing progress is shown once the build has started (the builder is known), not before.
  let started = false;
  const hashing = syncProgressEvents((e) => {
    if (started) emit(e);
  }, 'hashing');
  let hashed = { files: 0, filesTotal: 0, bytes: 0, bytesTotal: 0 };
  const scope = await contextScope(inputs, dockerfile);
  let scanning: Promise<ContextScan> | undefined;
  const scanHere = () => {
    scanning ??= scanContext({
      contextDir,
      dockerfile: dockerfileAbs,
      scope,
      onProgress: (p) => {
        hashed = p;
        hashing.update(p);
      },
    });
    return scanning;
  };
  // The local agent keeps the context watched and the builder's channel warm between builds. A
  // context read from stdin lives only as long as this process: it stays here.
  const agent = agentWanted(opts) && !inputs.fromStdin ? await import('../agent/client.js') : undefined;
  const { agentPaths } = agent ? await import('../agent/paths.js') : { agentPaths: undefined };
  const paths = agentPaths?.();
  // Without the agent, the walk of the context needs no builder: it runs while the builder is found and greeted.
  if (!agent) scanHere().catch(() => undefined);
  try {
    const { selectTargets } = await import('./targets.js');
    const picked = (await selectTargets(opts, parsePlatforms(opts.platform, false)))[0]!;
    target = picked;
    // The embedded builder lives in this process: the agent cannot reach it (nor is one started).
    const agentUp =
      agent && paths && !target.embedded
        ? agent.ensureAgent(paths, process.argv[1] ?? '').then(
            () => true,
            () => false,
          )
        : Promise.resolve(false);
    if (!agent || target.embedded) scanHere().catch(() => undefined);
    session = createBuilderSession({
      url: target.url,
      token: target.token,
      project: target.project,
    });
    const {
      hello,
      flags: { engineOptions, notes },
    } = await greetBuilder(session, signal, { opts, inputs, target });
    const useAgent = paths !== undefined && (await agentUp);
    if (!useAgent) scanHere().catch(() => undefined);
    if (!opts.quiet) for (const n of notes) process.stderr.write(`depot: note: ${n}\n`);
    const output = await openOutputWriter(opts.output, hello);
    outputWriter = output;
    // Shown (progress, metadata) in its normalised form: `arm64` is linux/arm64.
    const platform = target.platform || normalizeOrKeep(hello.platforms[0] ?? '');
    const buildId = randomUUID();
    emit({ type: 'build/started', timeMs: Date.now(), builderId: hello.builderId, platform, buildId });
    emit({ type: 'build/defined', timeMs: Date.now(), dockerfile, target: opts.target ?? '' });
    started = true;

    let imageId = '';
    let ok = false;
    let imageSize = 0;
    let diffIds: string[] = [];
    let pushed: PushedRef[] = [];
    const { relayError } = await syncThenBuild({
      session,
      hello,
      projectKey: target.project || '',
      contextDir,
      dockerfileAbs,
      dockerfileContent,
      dockerfileOverride: smartDockerfile,
      scan: async () => {
        const scan = await scanHere();
        hashing.finish(hashed);
        return scan;
      },
      fullScan: () => scanContext({ contextDir, dockerfile: dockerfileAbs }),
      agent: agentSyncFor(useAgent ? paths : undefined, target, scope),
      request: {
        buildArgs,
        target: opts.target ?? '',
        platform: target.platform,
        tags: opts.tag,
        noCache: !opts.cache,
        pull: opts.pull,
        labels,
        push: Boolean(opts.push),
        load: Boolean(opts.load),
        registryAuth,
        secrets,
        sshIds,
        engineOptions,
        output:
          output && opts.output?.kind === 'files' ? { type: opts.output.type, have: output.have } : undefined,
      },
      buildId,
      ssh,
      signal,
      emit,
      onEvent: (ev) => {
        if (ev.event === 'output' && ev.output && output) return output.handle(ev.output);
        if (!ev.result) return;
        ok = ev.result.ok;
        imageId = ev.result.imageId;
        imageSize = ev.result.imageSize;
        diffIds = ev.result.diffIds;
        pushed = ev.result.pushed;
      },
    });
    if (!state.result) throw new DepotError('builder_error', 'build ended without a result');
    if (ok && output && opts.output?.kind === 'files') {
      const written = await output.commit();
      outputWriter = undefined;
      if (!opts.quiet)
        emit({
          type: 'message/logged',
          timeMs: Date.now(),
          text: outputLine(opts.output, written),
          info: true,
        });
    }

    if (ok && opts.load && !target.embedded)
      await loadIntoLocalEngine(session, { imageId, imageSize, diffIds }, opts.tag, emit, signal);
    else if (ok && opts.load && target.embedded) {
      // The embedded builder builds in the local engine: the image and its tags are already there.
      emit({
        type: 'load/finished',
        timeMs: Date.now(),
        bytes: 0,
        imageSize,
        layersSent: 0,
        layersTotal: diffIds.length,
        note: 'built in the local engine',
        tags: opts.tag,
      });
    }
    await sink.close();
    if (opts.metadataFile && ok)
      await writeMetadata(opts.metadataFile, imageId, opts.tag, state, pushed[0]?.digest, smart);
    if (opts.iidfile && ok) await writeFileDurably(opts.iidfile, imageId);
    if (!opts.quiet)
      for (const p of pushed) process.stderr.write(`pushed ${p.repository}:${p.tag}@${p.digest}\n`);
    if (ok && !opts.quiet && !target.embedded && noOutputForTags(opts) && !opts.output)
      process.stderr.write(`depot: warning: ${NO_OUTPUT_WARNING}\n`);
    if (opts.quiet && ok && imageId) process.stdout.write(`${imageId}\n`);
    if (!ok) {
      const r = state.result;
      throw new DepotError(
        r.errorCode || 'build_failed',
        r.error || 'build failed',
        relayError ? `the ssh agent relay failed: ${relayError.message}` : failureHint(r.errorCode, r.error),
      );
    }
    return { ok, imageId, state, diffIds, smart };
  } catch (err) {
    await sink.close().catch(() => {});
    throw err;
  } finally {
    // Nothing half-written: an output the build did not finish is removed.
    await outputWriter?.abort();
    session?.close();
    await target?.close?.();
    inputs.cleanup();
  }
}

async function loadIntoLocalEngine(
  session: BuilderSession,
  image: { imageId: string; imageSize: number; diffIds: string[] },
  tags: string[],
  emit: (e: BuildEvent) => void,
  signal: AbortSignal,
): Promise<void> {
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
}

export type { ProgressSink };
