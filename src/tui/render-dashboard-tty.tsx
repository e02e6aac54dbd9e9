import { render } from 'ink';
import { DashboardScreen, type DashboardStore } from './Dashboard.js';
import { inkRenderOptions } from './ink-options.js';
import { ColorMode, noColorRequested } from './segments.js';

/** How often the screen re-renders for its clock alone (running builds count seconds). */
const CLOCK_TICK_MS = 1000;

const ENTER_ALTERNATE_SCREEN = '\u001B[?1049h';
const LEAVE_ALTERNATE_SCREEN = '\u001B[?1049l';

/** Options of renderDashboardTty. */
export interface RenderDashboardTtyOptions {
  store: DashboardStore;
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  stderr?: NodeJS.WriteStream;
  /** draw on the terminal's alternate screen (default: when stdout is a TTY) */
  alternateScreen?: boolean;
  /** local clock, injectable for tests (default Date.now) */
  now?: () => number;
  /** draw colours (default: unless NO_COLOR is set) */
  color?: boolean;
}

/** A mounted dashboard. */
export interface DashboardTtyRenderer {
  /** Unmounts Ink, turns raw mode off, leaves the alternate screen; idempotent. */
  close(): Promise<void>;
}

/**
 * Mounts `<DashboardScreen>` on a terminal (the alternate screen on a TTY), following the
 * store; a 1 s clock tick moves running builds' durations between changes.
 */
export function renderDashboardTty(opts: RenderDashboardTtyOptions): DashboardTtyRenderer {
  const stdout = opts.stdout ?? process.stdout;
  const now = opts.now ?? Date.now;
  const alternate = opts.alternateScreen ?? stdout.isTTY === true;
  let closed = false;
  const color = opts.color ?? !noColorRequested();
  const view = () => (
    <ColorMode color={color}>
      <DashboardScreen store={opts.store} now={now} />
    </ColorMode>
  );
  const leave = () => {
    if (alternate) stdout.write(LEAVE_ALTERNATE_SCREEN);
  };
  if (alternate) {
    stdout.write(ENTER_ALTERNATE_SCREEN);
    // Whatever ends the process, the user's scrollback comes back.
    process.once('exit', leave);
  }
  const ink = render(view(), inkRenderOptions({ stdout: stdout, stdin: opts.stdin, stderr: opts.stderr }));
  // Ink writes only when the frame changed, so idle ticks cost little.
  const clock = setInterval(() => {
    if (!closed) ink.rerender(view());
  }, CLOCK_TICK_MS);
  clock.unref();
  return {
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(clock);
      ink.unmount();
      await ink.waitUntilExit();
      if (alternate) {
        process.off('exit', leave);
        leave();
      }
    },
  };
}
