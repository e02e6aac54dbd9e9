import { randomUUID } from 'node:crypto';
import { type ContextScan, scanContext } from '../context-sync/index.js';
import { createLocalEngine } from '../docker/index.js';
import {
  type BuildEvent,
  type BuildState,
  createJsonRenderer,
  createPlainRenderer,
  initialBuildState,
  type ProgressMode,
  reduceBuild,
  resolveProgressMode,
} from '../progress/index.js';
import {
  buildImageIndex,
  createRegistryClient,
  DOCKER_MANIFEST_V2,
  type IndexChild,
  parseReference,
  type RegistryAuth,
} from '../registry/index.js';
import { type BuilderSession, createBuilderSession, DepotError, loadImage } from '../session/index.js';
import {
  type BuildInputs,
  type BuildOptions,
  type BuildOutcome,
  buildRegistryAuth,
  dockerfileText,
  failureHint,
  type Greeting,
  greetBuilder,
  type PushedRef,
  resolveBuildInputs,
  writeMetadata,
} from './build-inputs.js';

/** Where one platform of a multi-platform build runs. */
export type { PlatformTarget } from './targets.js';

import { agentWanted } from '../agent/wanted.js';
import { contextScope } from '../dockerfile/context-scope.js';
import { writeFileDurably } from '../durable-file/index.js';
import type { SmartPlan } from '../smart-cache/plan.js';
import { progressIntervals } from './progress-events.js';
import { agentSyncFor, syncThenBuild } from './sync-build.js';
import type { PlatformTarget } from './targets.js';

/** The platform of this machine, e.g. linux/amd64 or linux/arm64. */
export function hostPlatform(): string {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' };
  return `linux/${arch[process.arch] ?? process.arch}`;
}

/** linux/arm64/v8 and linux/arm64 are the same machine for loading purposes. */
function samePlatform(a: string, b: string): boolean {
  const [ao, aa] = a.split('/');
  const [bo, ba] = b.split('/');
  return ao === bo && aa === ba;
}

/** A progress sink of one platform: plain lines prefixed `[os/arch] `, or json lines with `platform`. */
interface PlatformSink {
  handle(e: BuildEvent): void;
  close(): Promise<void>;
}

function platformSinks(mode: string, platforms: string[]): { sinks: PlatformSink[]; note: string } {
  const resolved = resolveProgressMode(mode as ProgressMode, {
    isTTY: Boolean(process.stderr.isTTY),
    ci: Boolean(process.env.CI),
  });
  const l = labelledSinks(resolved, 'platform', platforms);
  return { sinks: platforms.map((p) => l.sinkFor(p)), note: l.note };
}

/**
 * Progress of several builds on one terminal (the platforms of a build, the targets of a bake):
 * plain lines prefixed `[label] `, json lines with the label as `key`, made per label on first use.
 * `mode` is resolved (tty falls back to prefixed plain lines: several live Ink graphs cannot share
 * one terminal yet). `aligned`: labels known up front, whose prefixes are padded to one width.
 */
export function labelledSinks(
  mode: string,
  key: 'platform' | 'target',
  aligned: string[] = [],
): { sinkFor(label: string): PlatformSink; note: string; close(): Promise<void> } {
  const width = Math.max(0, ...aligned.map((p) => p.length));
  const made = new Map<string, PlatformSink>();
  const make = (label: string): PlatformSink => {
    if (mode === 'quiet') return { handle() {}, async close() {} };
    if (mode === 'json') {
      const r = createJsonRenderer((s) => {
        for (const line of s.split('\n'))
          if (line) process.stdout.write(`${JSON.stringify({ [key]: label, ...JSON.parse(line) })}\n`);
      });
      return { handle: (e) => r.handle(e), close: async () => r.close() };
    }
    const prefix = `[${label}]${' '.repeat(Math.max(0, width - label.length))} `;
    let rest = '';
    const r = createPlainRenderer(
      (s) => {
        rest += s;
        let i = rest.indexOf('\n');
        while (i >= 0) {
          const line = rest.slice(0, i + 1);
          process.stderr.write(line === '\n' ? `${prefix.trimEnd()}\n` : `${prefix}${line}`);
          rest = rest.slice(i + 1);
          i = rest.indexOf('\n');
        }
      },
      { progressIntervalMs: progressIntervals().plainMs },
    );
    let closed = false;
    return {
      handle: (e) => r.handle(e),
      async close() {
        if (closed) return;
        closed = true;
        r.close();
        if (rest) process.stderr.write(`${prefix}${rest}\n`);
        rest = '';
      },
    };
  };
  return {
    sinkFor(label) {
      const known = made.get(label);
      if (known) return known;
      const s = make(label);
      made.set(label, s);
      return s;
    },
    note: mode === 'tty' ? `several ${key}s: showing plain progress, one [${key}] prefix per line` : '',
    async close() {
      for (const s of made.values()) await s.close();
    },
  };
}

/** What one platform's build produced. */
interface PlatformResult {
  target: PlatformTarget;
  session: BuilderSession;
  state: BuildState;
  ok: boolean;
  imageId: string;
  imageSize: number;
  diffIds: string[];
  /** Platform of the image config as the builder reports it (falls back to the requested one). */
  platform: string;
  pushed: PushedRef[];
}

/**
 * `depot build --platform A,B [...] [--push] [--load]`: scans the context once, then for each
 * target in parallel syncs, builds for its platform and (with --push) pushes a temporary tag per
 * repository; then pushes one image index per final tag from this client through the Registry
 * HTTP API v2. Temporary tags are left in the registry: the distribution API deletes manifests by
 * digest only, which would delete the child the index points at. `--load` loads only the image of
 * this machine's platform.
 */
export async function runMultiPlatformBuild(
  opts: BuildOptions,
  targets: PlatformTarget[],
  signal: AbortSignal,
  /** Inputs already resolved by the caller (this function cleans them up). */
  given?: BuildInputs,
): Promise<BuildOutcome> {
  if (targets.length === 0) {
    given?.cleanup();
    throw new DepotError('invalid_platform', 'no platform to build');
  }
  const inputs = given ?? (await resolveBuildInputs(opts, true));
  const { contextDir, dockerfileAbs, buildArgs, labels, secrets, ssh } = inputs;
  const sshIds = Object.keys(ssh);
  let registryAuth: Record<string, RegistryAuth>;
  let dockerfile: string;
  // The smart cache's plan, once for every platform (the context and Dockerfile are the same).
  let smart: SmartPlan | undefined;
  try {
    dockerfile = await dockerfileText(inputs);
    registryAuth = await buildRegistryAuth(opts, inputs, dockerfile);
    if (opts.smartCache === 'on') {
      smart = await (await import('./smart-cache.js')).smartCachePlan(opts, inputs, dockerfile);
      if (smart) dockerfile = smart.dockerfile;
    }
  } catch (err) {
    inputs.cleanup();
    throw err;
  }
  const smartDockerfile = smart ? Buffer.from(smart.dockerfile) : undefined;
  const { smartReuseWatcher } = smart
    ? await import('../smart-cache/marks.js')
    : { smartReuseWatcher: undefined };
  const buildId = randomUUID();
  const refs = opts.tag.map((t) => ({ ref: t, ...parseReference(t) }));
  const { sinks, note } = platformSinks(
    opts.quiet ? 'quiet' : opts.progress,
    targets.map((t) => t.platform),
  );
  if (note) process.stderr.write(`depot: ${note}\n`);
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const sessions: BuilderSession[] = [];
  try {
    const scope = await contextScope(inputs, dockerfile);
    // Through the local agent (its watcher, its scan in memory, a warm channel per builder), as a
    // single-platform build; the walk here happens only for a platform the agent could not sync.
    const agentUp =
      agentWanted(opts) && !inputs.fromStdin && !targets.some((t) => t.embedded)
        ? await (async () => {
            const [client, { agentPaths }] = await Promise.all([
              import('../agent/client.js'),
              import('../agent/paths.js'),
            ]);
            const paths = agentPaths();
            return client.ensureAgent(paths, process.argv[1] ?? '').then(
              () => paths,
              () => undefined,
            );
          })()
        : undefined;
    let scanned: Promise<ContextScan> | undefined;
    const scan = () => {
      scanned ??= scanContext({ contextDir, dockerfile: dockerfileAbs, scope });
      return scanned;
    };
    let full: Promise<ContextScan> | undefined;
    const fullScan = () => {
      full ??= scanContext({ contextDir, dockerfile: dockerfileAbs });
      return full;
    };

    let saveTail: Promise<void> = Promise.resolve();
    // Several platforms on one builder write the same sync-state file, whose temp name is per
    // process: one write at a time.
    const saveQueue = {
      run(write: () => Promise<void>): Promise<void> {
        const next = saveTail.then(write);
        saveTail = next.catch(() => {});
        return next;
      },
    };
    // No platform syncs until every builder said it can build its platform and serve --secret/--ssh.
    let checked = 0;
    let allChecked: (() => void) | undefined;
    let checkFailed: ((err: unknown) => void) | undefined;
    const capabilitiesChecked = new Promise<void>((resolve, reject) => {
      allChecked = resolve;
      checkFailed = reject;
    });
    capabilitiesChecked.catch(() => {});
    const one = async (target: PlatformTarget, sink: PlatformSink): Promise<PlatformResult> => {
      let state = initialBuildState();
      const reused = smart && smartReuseWatcher ? smartReuseWatcher(smart.rewrites) : undefined;
      const emit = (e: BuildEvent) => {
        state = reduceBuild(state, e);
        sink.handle(e);
        const mark = reused?.(e);
        if (mark) emit(mark);
      };
      const session = createBuilderSession({
        url: target.url,
        token: target.token,
        project: target.project,
      });
      sessions.push(session);
      let hello: Greeting['hello'];
      let flags: Greeting['flags'];
      try {
        ({ hello, flags } = await greetBuilder(session, ac.signal, { opts, inputs, target }));
      } catch (err) {
        // The others stop with an error of their own: this one is the cause to report.
        checkFailed?.(new DepotError('cancelled', 'stopped: another platform could not start'));
        throw err;
      }
      // Said once, by the first platform's builder (they all take the same flags).
      if (checked === 0 && !opts.quiet)
        for (const n of flags.notes) process.stderr.write(`depot: note: ${n}\n`);
      if (++checked === targets.length) allChecked?.();
      // No platform syncs until every builder said it can build its platform (and serve the flags).
      await capabilitiesChecked;
      emit({
        type: 'build/started',
        timeMs: Date.now(),
        builderId: hello.builderId,
        platform: target.platform,
        buildId,
      });
      emit({ type: 'build/defined', timeMs: Date.now(), dockerfile, target: opts.target ?? '' });
      // Each platform's image is pushed under the final tag itself (the engine API pushes tags, not
      // digests), and the index is pushed under it last: the index is what the tag names in the
      // end, the children stay reachable by digest, and no per-platform tag is left in the registry.
      // The builder names an image by the ref only while it pushes it, one push of a ref at a time,
      // so platforms built on one engine do not push each other's image.
      const pushTags = opts.push ? refs.map((r) => `${r.repository}:${r.tag}`) : [];
      const r: PlatformResult = {
        target,
        session,
        state,
        ok: false,
        imageId: '',
        imageSize: 0,
        diffIds: [],
        platform: target.platform,
        pushed: [],
      };
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
        agent: agentSyncFor(agentUp, target, scope),
        request: {
          buildArgs,
          target: opts.target ?? '',
          platform: target.platform,
          tags: pushTags,
          noCache: !opts.cache,
          pull: opts.pull,
          labels,
          push: Boolean(opts.push),
          // Only this machine's platform is loaded (see below).
          load: Boolean(opts.load) && samePlatform(target.platform, hostPlatform()),
          registryAuth,
          secrets,
          sshIds,
          engineOptions: flags.engineOptions,
        },
        buildId: `${buildId}-${target.platform.replace(/\//g, '-')}`,
        ssh,
        saveQueue,
        signal: ac.signal,
        emit,
        onEvent: (ev) => {
          if (!ev.result) return;
          r.ok = ev.result.ok;
          r.imageId = ev.result.imageId;
          r.imageSize = ev.result.imageSize;
          r.diffIds = ev.result.diffIds;
          r.platform = ev.result.platform || target.platform;
          r.pushed = ev.result.pushed;
        },
      });
      r.state = state;
      if (!state.result) throw new DepotError('builder_error', 'build ended without a result');
      if (!r.ok) {
        const res = state.result;
        throw new DepotError(
          res.errorCode || 'build_failed',
          res.error || 'build failed',
          relayError
            ? `the ssh agent relay failed: ${relayError.message}`
            : failureHint(res.errorCode, res.error),
        );
      }
      return r;
    };

    const settled = await Promise.allSettled(
      targets.map((t, i) =>
        one(t, sinks[i]!).catch((err: unknown) => {
          // One platform failed: stop the others, the index cannot be complete.
          if (!ac.signal.aborted) {
            ac.abort();
            (err as { first?: boolean }).first = true;
          }
          throw err;
        }),
      ),
    );
    await Promise.all(sinks.map((s) => s.close()));
    const failed = settled
      .map((s, i) => ({ s, t: targets[i]! }))
      .filter((x): x is { s: PromiseRejectedResult; t: PlatformTarget } => x.s.status === 'rejected');
    if (failed.length) {
      if (signal.aborted) throw new DepotError('cancelled', 'build cancelled');
      const first = failed.find((f) => (f.s.reason as { first?: boolean }).first) ?? failed[0]!;
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

    let indexDigest = '';
    if (opts.push) {
      for (const ref of refs) {
        const children: IndexChild[] = [];
        const client = createRegistryClient({ host: ref.registry, auth: registryAuth[ref.registry] });
        for (const r of results) {
          const p = r.pushed.find((x) => x.repository === ref.repository && x.tag === ref.tag);
          if (!p)
            throw new DepotError(
              'push_failed',
              `[${r.target.platform}] the builder reported no push to ${ref.repository}`,
            );
          let { mediaType, size } = p;
          if (!mediaType || !size) {
            // The builder could not tell (e.g. the containerd image store): ask the registry.
            const m = await client.getManifest(ref.path, p.digest, signal);
            mediaType = m?.mediaType || DOCKER_MANIFEST_V2;
            size = m?.body.length ?? size;
          }
          children.push({ digest: p.digest, size, mediaType, platform: r.platform });
        }
        const index = buildImageIndex(children);
        const digest = await client.putManifest(ref.path, ref.tag, index.mediaType, index.body, signal);
        indexDigest ||= digest;
        if (!opts.quiet) {
          process.stderr.write(
            `pushed ${ref.repository}:${ref.tag}@${digest} (${index.mediaType.includes('docker') ? 'manifest list' : 'OCI index'}: ${children.map((c) => c.platform).join(', ')})\n`,
          );
        }
      }
    }

    const host = hostPlatform();
    const local = results.find(
      (r) => samePlatform(r.platform, host) || samePlatform(r.target.platform, host),
    );
    if (opts.load) {
      if (!local)
        process.stderr.write(
          `depot: --load: none of ${targets.map((t) => t.platform).join(', ')} is this machine's platform (${host}); nothing loaded\n`,
        );
      else {
        const r = await loadImage(
          local.session,
          createLocalEngine(),
          { imageId: local.imageId, imageSize: local.imageSize, diffIds: local.diffIds },
          opts.tag,
          signal,
        );
        if (!opts.quiet)
          process.stderr.write(
            `depot: --load with several platforms loads only this machine's platform: ${local.target.platform} image ${local.imageId.slice(0, 19)} loaded as ${opts.tag.join(', ') || 'an untagged image'} (${r.layersSent}/${r.layersTotal} layers sent)\n`,
          );
      }
    }
    const main = local ?? results[0]!;
    if (opts.metadataFile)
      await writeMetadata(
        opts.metadataFile,
        main.imageId,
        opts.tag,
        main.state,
        indexDigest || undefined,
        smart,
      );
    // As -q prints: the image index when one was pushed, else the image.
    if (opts.iidfile) await writeFileDurably(opts.iidfile, indexDigest || main.imageId);
    if (opts.quiet) process.stdout.write(`${indexDigest || main.imageId}\n`);
    return { ok: true, imageId: main.imageId, state: main.state, diffIds: [] };
  } finally {
    signal.removeEventListener('abort', onAbort);
    await Promise.all(sinks.map((s) => s.close()));
    for (const s of sessions) s.close();
    inputs.cleanup();
  }
}
