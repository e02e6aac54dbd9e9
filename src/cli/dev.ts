import { basename } from 'node:path';
import { createContextWatcher } from '../context-sync/index.js';
import { createContainerRunner } from '../dev/container-runner.js';
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
import { createDevBuilder } from '../dev/real-builder.js';
import { createLocalEngine } from '../docker/index.js';
import { type ProgressMode, resolveProgressMode } from '../progress/index.js';
import { DepotError } from '../session/index.js';
import { type BuildOptions, openBuilderTarget, resolveBuildInputs } from './build.js';

export interface DevOptions extends BuildOptions {
  run?: string;
  quietMs: string;
  onChange: string;
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
  const inputs = await resolveBuildInputs(opts);
  const tags = opts.tag.length ? opts.tag : [defaultDevTag(inputs.contextDir)];
  const target = await openBuilderTarget(opts);
  const local = createLocalEngine();
  const builder = createDevBuilder({
    url: target.url,
    token: target.token,
    project: target.project,
    caFile: process.env.DEPOT_TLS_CA,
    contextDir: inputs.contextDir,
    dockerfile: { path: inputs.dockerfileAbs, content: inputs.dockerfileContent },
    build: {
      tags,
      buildArgs: inputs.buildArgs,
      target: opts.target ?? '',
      platform: opts.platform ?? '',
      noCache: !opts.cache,
      pull: opts.pull,
      labels: inputs.labels,
    },
    localEngine: local,
    isEmbedded: target.embedded,
  });
  const watcher = createContextWatcher({ contextDir: inputs.contextDir, dockerfile: inputs.dockerfileAbs });
  const runner = opts.run ? createContainerRunner({ engine: local, runArgs: opts.run }) : undefined;

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
        : createDevPlainRenderer((s) => out.write(s));
    store = {
      ...base,
      dispatch(action) {
        base.dispatch(action);
        if (mode !== 'quiet' && !COMMANDS.has(action.type)) plain.handle(action as DevEvent);
      },
    };
    close = async () => plain.close();
  }
  const loop = createDevLoop({
    store,
    builder,
    watcher,
    runner,
    clock: systemClock,
    quietMs,
    onChange: opts.onChange,
    url: target.url,
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
