import { render } from 'ink';
import type { DevCommand, DevState } from '../dev/types.js';
import { DevView } from './DevView.js';
import { afterBuildText } from './dev-layout.js';
import { inkRenderOptions } from './ink-options.js';
import { ColorMode, noColorRequested } from './segments.js';

/** How often the screen re-renders for its clock alone while something runs. */
const BUSY_TICK_MS = 100;
/** …and while idle (snapshot ages count seconds). */
const IDLE_TICK_MS = 1000;

const ENTER_ALTERNATE_SCREEN = '\u001B[?1049h';
const LEAVE_ALTERNATE_SCREEN = '\u001B[?1049l';

/** The part of the dev store the screen needs. */
export interface DevStateSource {
  getState(): DevState;
  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/** Options of renderDevTty. */
export interface RenderDevTtyOptions {
  store: DevStateSource;
  /** Receives key presses as commands (Ctrl-C is `quit/requested`, not an exit). */
  onCommand: (command: DevCommand) => void;
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  stderr?: NodeJS.WriteStream;
  /** re-renders per second at most (default 15) */
  fps?: number;
  /** draw on the terminal's alternate screen (default: when stdout is a TTY) */
  alternateScreen?: boolean;
  /** size the screen by the terminal rather than `ui.width`/`ui.height` (default: when stdout knows its size) */
  fitTerminal?: boolean;
  /** local clock, injectable for tests (default Date.now) */
  now?: () => number;
  /** draw colours (default: unless NO_COLOR is set) */
  color?: boolean;
}

/** A mounted dev screen. */
export interface DevTtyRenderer {
  /** Unmounts Ink, turns raw mode off, leaves the alternate screen; idempotent. */
  close(): Promise<void>;
}

function isBusy(state: DevState, nowMs: number): boolean {
  return (
    state.current?.record.outcome === 'running' ||
    (state.current !== undefined && afterBuildText(state.current) !== '') ||
    state.snapshot.syncing ||
    state.session.kind !== 'connected' ||
    state.watch.quietUntilMs > nowMs
  );
}

/**
 * Mounts `<DevView>` on a terminal and re-renders it when the store changes, at most `fps`
 * times a second, plus a clock tick (100 ms while a build, sync, reconnect or quiet period
 * runs; 1 s otherwise) so spinners, durations and countdowns move between events. The view's
 * clock is the state's `nowMs` plus the local time elapsed since that state arrived.
 */
export function renderDevTty(opts: RenderDevTtyOptions): DevTtyRenderer {
  const now = opts.now ?? Date.now;
  const stdout = opts.stdout ?? process.stdout;
  const intervalMs = Math.max(1, Math.round(1000 / (opts.fps ?? 15)));
  let state = opts.store.getState();
  let stateAt = now();
  let lastRenderAt = now();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const onCommand = (command: DevCommand) => {
    if (!closed) opts.onCommand(command);
  };
  const fitTerminal = opts.fitTerminal ?? (stdout.columns > 0 && stdout.rows > 0);
  const color = opts.color ?? !noColorRequested();
  const view = () => (
    <ColorMode color={color}>
      <DevView
        state={state}
        onCommand={onCommand}
        nowMs={state.nowMs + Math.max(0, now() - stateAt)}
        fitTerminal={fitTerminal}
      />
    </ColorMode>
  );
  const alternate = opts.alternateScreen ?? stdout.isTTY === true;
  if (alternate) stdout.write(ENTER_ALTERNATE_SCREEN);
  const ink = render(
    view(),
    inkRenderOptions({ stdout: stdout, stdin: opts.stdin, stderr: opts.stderr, fps: opts.fps }),
  );
  const flush = () => {
    timer = undefined;
    if (closed) return;
    lastRenderAt = now();
    ink.rerender(view());
  };
  const unsubscribe = opts.store.subscribe(() => {
    if (closed) return;
    state = opts.store.getState();
    stateAt = now();
    if (timer) return;
    const wait = lastRenderAt + intervalMs - now();
    if (wait <= 0) flush();
    else timer = setTimeout(flush, wait);
  });
  // Ink writes only when the frame changed, so idle ticks cost nothing.
  const clock = setInterval(() => {
    if (timer) return;
    const t = now();
    const due = isBusy(state, state.nowMs + (t - stateAt)) ? BUSY_TICK_MS : IDLE_TICK_MS;
    if (t - lastRenderAt >= due) flush();
  }, BUSY_TICK_MS);
  clock.unref();
  return {
    async close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      clearInterval(clock);
      if (timer) clearTimeout(timer);
      timer = undefined;
      // Without the alternate screen the last frame stays on the terminal: make it current.
      ink.rerender(view());
      ink.unmount();
      await ink.waitUntilExit();
      if (alternate) stdout.write(LEAVE_ALTERNATE_SCREEN);
    },
  };
}
