import { render } from 'ink';
import { type BuildEvent, type BuildState, initialBuildState, reduceBuild } from '../progress/index.js';
import { inkRenderOptions } from './ink-options.js';
import { ReplayView } from './ReplayView.js';
import { printBuildView } from './render-build-tty.js';
import type { ReplayTitle } from './replay-layout.js';
import { ColorMode, noColorRequested } from './segments.js';

const ENTER_ALTERNATE_SCREEN = '\u001B[?1049h';
const LEAVE_ALTERNATE_SCREEN = '\u001B[?1049l';

/** Options of replayBuildTty. */
export interface ReplayBuildTtyOptions {
  stdout: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  /** the recorded build's events, in order (see openReplay) */
  events: AsyncIterable<BuildEvent>;
  header: { record?: { summary?: RecordSummary | null; target: string } | null };
  notes?: readonly string[];
  /** explore it with the keys first (stdin is a terminal) */
  interactive: boolean;
  /** ends the exploration as `q` does */
  signal?: AbortSignal;
  /** draw colours (default: unless NO_COLOR is set) */
  color?: boolean;
  /** clock for "… ago" (default Date.now) */
  now?: () => number;
}

interface RecordSummary {
  buildId: string;
  result: string;
  platform: string;
  builder: string;
  startedMs: number | string;
  finishedMs: number | string;
}

/**
 * A recorded build in a terminal. The events are replayed into a BuildState; with `interactive`,
 * the build is explored full screen (the alternate screen, ReplayView) until the reader quits;
 * then, and at once without it, the live build's own view (graph, waterfall, summary) is printed
 * as a build leaves it, so the terminal keeps it.
 */
export async function replayBuildTty(opts: ReplayBuildTtyOptions): Promise<BuildState> {
  let state = initialBuildState();
  for await (const e of opts.events) state = reduceBuild(state, e);
  const color = opts.color ?? !noColorRequested();
  const s = opts.header.record?.summary;
  const title: ReplayTitle = {
    buildId: s?.buildId ?? state.buildId,
    result: s?.result ?? '',
    platform: s?.platform ?? state.platform,
    target: opts.header.record?.target ?? '',
    builder: s?.builder ?? state.builderId,
    startedMs: Number(s?.startedMs ?? state.startedMs),
    finishedMs: Number(s?.finishedMs ?? state.finishedMs),
  };
  if (opts.interactive && !opts.signal?.aborted) {
    const now = opts.now ?? Date.now;
    opts.stdout.write(ENTER_ALTERNATE_SCREEN);
    let quit = () => {};
    const quitted = new Promise<void>((resolve) => {
      quit = resolve;
    });
    opts.signal?.addEventListener('abort', () => quit(), { once: true });
    const ink = render(
      <ColorMode color={color}>
        <ReplayView state={state} title={title} notes={opts.notes} onQuit={() => quit()} nowMs={now()} />
      </ColorMode>,
      inkRenderOptions({ stdout: opts.stdout, stdin: opts.stdin }),
    );
    try {
      await quitted;
    } finally {
      ink.unmount();
      await ink.waitUntilExit();
      opts.stdout.write(LEAVE_ALTERNATE_SCREEN);
    }
  }
  await printBuildView(state, { stdout: opts.stdout, color });
  return state;
}
