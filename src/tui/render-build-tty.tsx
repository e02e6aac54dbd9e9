import { render } from 'ink';
import { type BuildEvent, type BuildState, initialBuildState, reduceBuild } from '../progress/index.js';
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
  const intervalMs = Math.max(1, Math.round(1000 / (opts.fps ?? 15)));
  let state = initialBuildState();
  let lastEventAt = now();
  let lastRenderAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const width = () => Math.max(20, opts.stdout.columns || 80);
  const color = opts.color ?? !noColorRequested();
  const view = (final: boolean) => (
    <ColorMode color={color}>
      <BuildView
        state={state}
        width={width()}
        nowMs={final ? state.nowMs : state.nowMs + Math.max(0, now() - lastEventAt)}
        final={final}
      />
    </ColorMode>
  );
  const ink = render(
    view(false),
    inkRenderOptions({ stdout: opts.stdout, stdin: opts.stdin, stderr: opts.stderr, fps: opts.fps }),
  );
  const flush = () => {
    timer = undefined;
    if (closed) return;
    lastRenderAt = now();
    ink.rerender(view(false));
  };
  // Running durations and the summary clock move between events too (a `RUN sleep 30` sends
  // nothing for 30s); Ink writes only when the output changed, so idle ticks cost nothing.
  const clock = setInterval(() => {
    if (!timer && state.result === null && now() - lastRenderAt >= CLOCK_TICK_MS) flush();
  }, CLOCK_TICK_MS);
  clock.unref();
  return {
    handle(event) {
      if (closed) return;
      state = reduceBuild(state, event);
      lastEventAt = now();
      if (timer) return;
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
      ink.rerender(view(true));
      ink.unmount();
      await ink.waitUntilExit();
    },
    state: () => state,
  };
}
