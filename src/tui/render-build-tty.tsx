import { render } from 'ink';
import type { ReactElement } from 'react';
import { type BuildEvent, type BuildState, initialBuildState, reduceBuild } from '../progress/index.js';
import { BuildsView } from './BuildsView.js';
import { BuildView } from './BuildView.js';
import { inkRenderOptions } from './ink-options.js';
import { ColorMode, noColorRequested } from './segments.js';

/** How often the live view re-renders for its clock alone (durations show tenths of a second). */
const CLOCK_TICK_MS = 100;

/** Options of renderBuildTty. */
export interface RenderBuildTtyOptions {
  stdout: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  stderr?: NodeJS.WriteStream;
  /** re-renders per second at most (default 15) */
  fps?: number;
  /** local clock, injectable for tests (default Date.now) */
  now?: () => number;
  /** draw colours (default: unless NO_COLOR is set) */
  color?: boolean;
}

/** A live terminal view of one build: feed it events, then close it to restore the terminal. */
export interface TtyBuildRenderer {
  handle(event: BuildEvent): void;
  /** Renders the final state, unmounts Ink and resolves once the terminal is restored. */
  close(): Promise<void>;
  /** The state rendered so far. */
  state(): BuildState;
}

/**
 * Mounts `<BuildView>` with Ink on `stdout`, reduces every event into a BuildState and
 * re-renders at most `fps` times a second. Running durations use the latest event time plus
 * the local time elapsed since it arrived, so builder/laptop clock skew does not show.
 */
export function renderBuildTty(opts: RenderBuildTtyOptions): TtyBuildRenderer {
  const now = opts.now ?? Date.now;
  let state = initialBuildState();
  let lastEventAt = now();
  const width = () => Math.max(20, opts.stdout.columns || 80);
  const live = mountLive(
    opts,
    (final) => (
      <BuildView
        state={state}
        width={width()}
        nowMs={final ? state.nowMs : state.nowMs + Math.max(0, now() - lastEventAt)}
        final={final}
      />
    ),
    () => state.result === null,
  );
  return {
    handle(event) {
      if (live.closed()) return;
      state = reduceBuild(state, event);
      lastEventAt = now();
      live.changed();
    },
    close: () => live.close(),
    state: () => state,
  };
}

/**
 * Prints a finished build's view once (graph, waterfall, summary, as a live build leaves them) and
 * resolves when it is written: a recorded build replayed.
 */
export async function printBuildView(
  state: BuildState,
  opts: Pick<RenderBuildTtyOptions, 'stdout' | 'color'>,
): Promise<void> {
  const width = Math.max(20, opts.stdout.columns || 80);
  const live = mountLive(
    opts,
    () => <BuildView state={state} width={width} nowMs={state.nowMs} final />,
    () => false,
  );
  await live.close();
}

/** Several builds on one terminal (the platforms of a build, the targets of a bake). */
export interface TtyBuildsRenderer {
  /** Feeds an event of the build labelled `label` (a build gets its place at its first event). */
  handle(label: string, event: BuildEvent): void;
  close(): Promise<void>;
  /** The state of each build so far. */
  states(): Map<string, BuildState>;
}

/**
 * Mounts `<BuildsView>`: every build's header and the steps that matter now, each in its share of
 * the terminal's rows. `labels` are placed first, in order; others as their first event arrives.
 */
export function renderBuildsTty(
  opts: RenderBuildTtyOptions & { labels?: readonly string[] },
): TtyBuildsRenderer {
  const now = opts.now ?? Date.now;
  const builds = new Map<string, { state: BuildState; lastEventAt: number }>();
  for (const l of opts.labels ?? []) builds.set(l, { state: initialBuildState(), lastEventAt: now() });
  const view = (final: boolean) => (
    <BuildsView
      builds={[...builds].map(([label, b]) => ({
        label,
        state: b.state,
        nowMs: final ? b.state.nowMs : b.state.nowMs + Math.max(0, now() - b.lastEventAt),
      }))}
      width={Math.max(20, opts.stdout.columns || 80)}
      height={Math.max(4, opts.stdout.rows || 24)}
      final={final}
    />
  );
  const live = mountLive(opts, view, () => [...builds.values()].some((b) => b.state.result === null));
  return {
    handle(label, event) {
      if (live.closed()) return;
      const b = builds.get(label) ?? { state: initialBuildState(), lastEventAt: now() };
      b.state = reduceBuild(b.state, event);
      b.lastEventAt = now();
      builds.set(label, b);
      live.changed();
    },
    close: () => live.close(),
    states: () => new Map([...builds].map(([l, b]) => [l, b.state])),
  };
}

/**
 * An Ink view re-rendered at most `fps` times a second after `changed()`, and every clock tick
 * while `ticking()` (a `RUN sleep 30` sends nothing for 30 s, yet its duration moves); Ink writes
 * only when the output changed, so idle ticks cost nothing. `close` renders the final frame.
 */
function mountLive(
  opts: RenderBuildTtyOptions,
  view: (final: boolean) => ReactElement,
  ticking: () => boolean,
): { changed(): void; close(): Promise<void>; closed(): boolean } {
  const now = opts.now ?? Date.now;
  const intervalMs = Math.max(1, Math.round(1000 / (opts.fps ?? 15)));
  let lastRenderAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const color = opts.color ?? !noColorRequested();
  const colored = (final: boolean) => <ColorMode color={color}>{view(final)}</ColorMode>;
  const ink = render(
    colored(false),
    inkRenderOptions({ stdout: opts.stdout, stdin: opts.stdin, stderr: opts.stderr, fps: opts.fps }),
  );
  const flush = () => {
    timer = undefined;
    if (closed) return;
    lastRenderAt = now();
    ink.rerender(colored(false));
  };
  const clock = setInterval(() => {
    if (!timer && ticking() && now() - lastRenderAt >= CLOCK_TICK_MS) flush();
  }, CLOCK_TICK_MS);
  clock.unref();
  return {
    changed() {
      if (closed || timer) return;
      const wait = lastRenderAt + intervalMs - now();
      if (wait <= 0) flush();
      else timer = setTimeout(flush, wait);
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(clock);
      if (timer) clearTimeout(timer);
      timer = undefined;
      ink.rerender(colored(true));
      ink.unmount();
      await ink.waitUntilExit();
    },
    closed: () => closed,
  };
}
