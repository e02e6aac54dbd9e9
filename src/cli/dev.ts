import { basename, resolve } from 'node:path';
import { agentWanted } from '../agent/wanted.js';
import { createContextWatcher } from '../context-sync/index.js';
import { createAgentWatcher, createDevAgent, type DevAgent } from '../dev/agent-link.js';
import { createContainerRunner, devOwner } from '../dev/container-runner.js';
import {
  createDevLoop,
  createStore,
  type DevCommand,
  type DevEvent,
  type DevState,
  initialDevState,
  reduceDev,
  systemClock,
} from '../dev/index.js';
import type { LiveSyncDeps } from '../dev/loop.js';
import { createDevBuilder } from '../dev/real-builder.js';
import type { LocalEngine } from '../docker/index.js';
import { type ProgressMode, resolveProgressMode } from '../progress/index.js';
import type { EngineOptions } from '../protocol/generated/depot/builder/v1/EngineOptions.js';
import { type BuildAuth, type RegistryAuth, registryAuthForBuild } from '../registry/index.js';
import { CAPABILITY_ENGINE_OPTIONS, CAPABILITY_NETWORK_HOST } from '../session/capabilities.js';
import { checkBuilderTransport, createBuilderSession, DepotError } from '../session/index.js';
import { transportFromEnv } from '../session/transport.js';
import {
  type BuildOptions,
  checkBuilder,
  dockerfileText,
  openBuilderTarget,
  parsePlatforms,
  resolveBuildInputs,
} from './build-inputs.js';
import { devLiveSync } from './dev-sync.js';
import { engineFlags } from './engine-flags.js';
import { requireLocalEngine } from './local-engine-check.js';
import { progressIntervals } from './progress-events.js';

export interface DevOptions extends BuildOptions {
  run?: string;
  quietMs: string;
  onChange: string;
  sync?: string[];
  syncExec?: string;
  syncRestart?: boolean;
  rebuildOn?: string[];
}

const COMMANDS = new Set<string>([
  'rebuild/requested',
  'watch/toggled',
  'quit/requested',
  'step/moved',
  'logs/toggled',
  'help/toggled',
]);

/** A default tag for the dev image when none is given: `<context dir name>:dev`. */
export function defaultDevTag(contextDir: string): string {
  const name =
    basename(contextDir)
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '') || 'app';
  return `${name}:dev`;
}

/**
 * The session's link to the local agent (started when none runs), or why there is none: not
 * wanted (undefined note), the embedded builder (it lives in this process, out of the agent's
 * reach), or the agent could not be started (the note says so on the dev screen).
 */
async function openDevAgent(
  opts: DevOptions,
  target: { url: string; token: string; project?: string; embedded?: boolean },
): Promise<{ agent?: DevAgent; note?: string }> {
  if (!agentWanted(opts) || target.embedded) return {};
  const { ensureAgent } = await import('../agent/client.js');
  const { agentPaths } = await import('../agent/paths.js');
  const paths = agentPaths();
  try {
    await ensureAgent(paths, process.argv[1] ?? '');
  } catch (err) {
    return { note: (err as Error).message };
  }
  return {
    agent: createDevAgent(paths, {
      url: target.url,
      token: target.token,
      project: target.project || '',
      transport: transportFromEnv(),
    }),
  };
}

/** How long the dev loop reuses the registry credentials it read for one Dockerfile text. */
const REGISTRY_AUTH_TTL_MS = 5 * 60_000;

/**
 * Registry credentials for each dev build: those of the Dockerfile's base images, re-read when
 * the Dockerfile changes or after REGISTRY_AUTH_TTL_MS (credential helpers hand out short-lived
 * tokens). Credentials that cannot be read leave the build anonymous for that registry.
 */
export function devRegistryAuth(
  buildArgs: Record<string, string>,
  now: () => number = Date.now,
): (dockerfile: string) => Promise<BuildAuth> {
  let cached: { text: string; at: number; auth: Promise<BuildAuth> } | undefined;
  return (text) => {
    if (!cached || cached.text !== text || now() - cached.at > REGISTRY_AUTH_TTL_MS) {
      const auth = registryAuthForBuild({ pushTags: [], dockerfile: text, buildArgs });
      cached = { text, at: now(), auth };
      // A failure is not kept: the next build asks again.
      auth.catch(() => {
        if (cached?.auth === auth) cached = undefined;
      });
    }
    return cached.auth;
  };
}

/** `depot dev`: a warm session that watches the context, rebuilds on change and loads the image. */
export async function runDev(opts: DevOptions): Promise<void> {
  if (opts.context === '-' || opts.file === '-')
    throw new DepotError('invalid_flag', 'depot dev watches a directory: stdin is not supported');
  const quietMs = Number(opts.quietMs);
  if (!Number.isInteger(quietMs) || quietMs < 0 || quietMs > 60_000)
    throw new DepotError(
      'invalid_flag',
      `invalid --quiet-ms ${JSON.stringify(opts.quietMs)}`,
      'use 0..60000',
    );
  if (opts.onChange !== 'cancel' && opts.onChange !== 'queue')
    throw new DepotError(
      'invalid_flag',
      `invalid --on-change ${JSON.stringify(opts.onChange)}`,
      'use cancel or queue',
    );
  if (opts.iidfile !== undefined)
    throw new DepotError(
      'invalid_flag',
      '--iidfile is a depot build flag',
      'depot dev loads each image under its -t tags',
    );
  const inputs = await resolveBuildInputs(opts);
  const tags = opts.tag.length ? opts.tag : [defaultDevTag(inputs.contextDir)];
  const platform = parsePlatforms(opts.platform, false)[0] ?? '';
  let target: Awaited<ReturnType<typeof openBuilderTarget>>;
  let registryAuth: (text: string) => Promise<Record<string, RegistryAuth>>;
  let local: LocalEngine;
  let link: Awaited<ReturnType<typeof openDevAgent>>;
  let liveSync: LiveSyncDeps | undefined;
  let syncRules: string[] | undefined;
  let engineOptions: EngineOptions | undefined;
  let showRules = (rules: string[]) => {
    syncRules = rules;
  };
  try {
    // Every dev build loads into the local engine (and --run starts it there): it must answer first.
    local = await requireLocalEngine();
    // Bad --sync input (or --sync without --run) stops here, before anything is synced.
    liveSync = await devLiveSync(opts, inputs, local, (rules) => showRules(rules));
    target = await openBuilderTarget(opts);
    // The loop reconnects on its own: a refused transport setting must stop it before it starts.
    try {
      checkBuilderTransport(target.url);
    } catch (err) {
      await target.close();
      throw err;
    }
    const needs = {
      secrets: Object.keys(inputs.secrets).length > 0,
      ssh: Object.keys(inputs.ssh).length > 0,
    };
    // The flags' syntax now; what the builder allows, with its Hello below (or at the first build).
    let flags = engineFlags(opts, {
      builderId: '',
      capabilities: [CAPABILITY_ENGINE_OPTIONS, CAPABILITY_NETWORK_HOST],
    });
    engineOptions = flags.engineOptions;
    if (needs.secrets || needs.ssh || platform || engineOptions) {
      // Fail before the loop (and its first sync) when the builder cannot build the platform or
      // serve --secret/--ssh.
      const probe = createBuilderSession({
        url: target.url,
        token: target.token,
        project: target.project,
      });
      try {
        // An unreachable builder is the loop's business (it reconnects and checks each build).
        const hello = await probe.hello().catch(() => undefined);
        if (hello) flags = checkBuilder(hello, { opts, inputs, target: { platform } });
      } catch (err) {
        await target.close();
        throw err;
      } finally {
        probe.close();
      }
    }
    for (const n of flags.notes) process.stderr.write(`depot: note: ${n}\n`);
    const resolveAuth = devRegistryAuth(inputs.buildArgs);
    registryAuth = async (text) => (await resolveAuth(text)).auth;
    // Once before the UI takes the terminal: a registry without readable credentials is noted here.
    const first = await resolveAuth(await dockerfileText(inputs));
    for (const w of first.warnings) process.stderr.write(`depot: ${w}\n`);
    link = await openDevAgent(opts, target);
  } catch (err) {
    inputs.cleanup();
    throw err;
  }
  const builder = createDevBuilder({
    url: target.url,
    token: target.token,
    project: target.project,
    contextDir: inputs.contextDir,
    dockerfile: { path: inputs.dockerfileAbs, content: inputs.dockerfileContent },
    build: {
      tags,
      buildArgs: inputs.buildArgs,
      target: opts.target ?? '',
      platform,
      noCache: !opts.cache,
      pull: opts.pull,
      labels: inputs.labels,
      secrets: inputs.secrets,
      ssh: inputs.ssh,
      engineOptions,
    },
    localEngine: local,
    isEmbedded: target.embedded,
    registryAuth,
    agent: link.agent,
    smartCache: opts.smartCache !== 'off',
  });
  const localWatcher = () =>
    createContextWatcher({ contextDir: inputs.contextDir, dockerfile: inputs.dockerfileAbs });
  // With the agent, one watcher per context serves every session and build on it.
  const watcher = link.agent
    ? createAgentWatcher({
        agent: link.agent,
        contextDir: resolve(inputs.contextDir),
        dockerfile: inputs.dockerfileAbs,
        local: localWatcher,
      })
    : localWatcher();
  // The same context, project and tags own the same container: a new session replaces the old one's.
  const owner = devOwner(resolve(inputs.contextDir), target.project ?? '', tags);
  const runner = opts.run ? createContainerRunner({ engine: local, runArgs: opts.run, owner }) : undefined;

  const out = process.stdout;
  const mode = resolveProgressMode(opts.progress as ProgressMode, {
    isTTY: Boolean(out.isTTY && process.stdin.isTTY),
    ci: Boolean(process.env.CI),
  });
  const base = createStore<DevState, DevEvent | DevCommand>(
    reduceDev,
    initialDevState(inputs.contextDir, target.url, { width: out.columns ?? 80, height: out.rows ?? 24 }),
  );
  let close: () => Promise<void> = async () => {};
  let store = base;
  if (mode !== 'tty') {
    // Line output: every fact the loop reports becomes a line (json: the event itself).
    const { createDevPlainRenderer } = await import('../tui/dev-plain.js');
    const plain =
      mode === 'json'
        ? { handle: (e: DevEvent) => out.write(`${JSON.stringify(e)}\n`), close() {} }
        : createDevPlainRenderer((s) => out.write(s), { progressIntervalMs: progressIntervals().plainMs });
    store = {
      ...base,
      dispatch(action) {
        base.dispatch(action);
        if (mode !== 'quiet' && !COMMANDS.has(action.type)) plain.handle(action as DevEvent);
      },
    };
    close = async () => plain.close();
  }
  // Said once: the agent could not start, or the session stopped using it.
  if (link.note !== undefined)
    store.dispatch({ type: 'agent/unavailable', timeMs: Date.now(), reason: link.note });
  link.agent?.onFallback((reason) =>
    store.dispatch({ type: 'agent/unavailable', timeMs: Date.now(), reason }),
  );
  // The --sync rules derived before the screen existed, then every later derivation.
  if (syncRules) store.dispatch({ type: 'sync/rules', timeMs: Date.now(), rules: syncRules });
  showRules = (rules) => store.dispatch({ type: 'sync/rules', timeMs: Date.now(), rules });
  const loop = createDevLoop({
    store,
    builder,
    watcher,
    runner,
    clock: systemClock,
    quietMs,
    onChange: opts.onChange,
    url: target.url,
    progressIntervalMs: progressIntervals().eventMs,
    liveSync,
  });
  if (mode === 'tty') {
    const { renderDevTty } = await import('../tui/index.js');
    const ui = renderDevTty({ store, onCommand: (c) => loop.command(c) });
    close = () => ui.close();
    out.on('resize', () =>
      store.dispatch({ type: 'ui/resized', timeMs: Date.now(), width: out.columns, height: out.rows }),
    );
  }

  const quit = () => loop.command({ type: 'quit/requested' });
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
  const quitting = new Promise<void>((resolve) => {
    if (store.getState().quitting) resolve();
    const off = store.subscribe((s) => {
      if (s.quitting) {
        off();
        resolve();
      }
    });
  });
  try {
    await loop.start();
    await quitting;
  } finally {
    await loop.stop();
    await close();
    await target.close();
    inputs.cleanup();
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
  }
}
