import {
  type BuildEvent,
  createJsonRenderer,
  createPlainRenderer,
  type ProgressMode,
  resolveProgressMode,
} from '../progress/index.js';
import { DepotError } from '../session/index.js';
import { progressIntervals } from './progress-events.js';

/** Where build events go: one of the renderers picked by --progress. */
export interface ProgressSink {
  handle(e: BuildEvent): void;
  close(): Promise<void>;
}

const MODES = ['auto', 'tty', 'plain', 'json', 'quiet'];

type Renderer = { handle(e: BuildEvent): void; close(): void | Promise<void> };

/**
 * Creates the renderer for a --progress mode (auto: tty on a terminal outside CI, else plain).
 * The renderer starts with the first event, so a build that fails before it starts prints
 * only its error line. Ink is loaded only for the tty renderer (it costs ~0.5 s of start-up).
 */
export async function createProgressSink(mode: string): Promise<ProgressSink> {
  if (!MODES.includes(mode))
    throw new DepotError(
      'invalid_flag',
      `invalid --progress ${JSON.stringify(mode)}`,
      `use one of ${MODES.join(', ')}`,
    );
  const resolved = resolveProgressMode(mode as ProgressMode, {
    isTTY: Boolean(process.stderr.isTTY),
    ci: Boolean(process.env.CI),
  });
  const tui = resolved === 'tty' ? await import('../tui/index.js') : undefined;
  const make = (): Renderer => {
    switch (resolved) {
      case 'quiet':
        return { handle() {}, close() {} };
      case 'json':
        return createJsonRenderer((s) => process.stdout.write(s));
      case 'plain':
        return createPlainRenderer((s) => process.stderr.write(s), {
          progressIntervalMs: progressIntervals().plainMs,
        });
      default:
        return tui!.renderBuildTty({ stdout: process.stderr });
    }
  };
  let renderer: Renderer | undefined;
  return {
    handle(e) {
      renderer ??= make();
      renderer.handle(e);
    },
    async close() {
      await renderer?.close();
    },
  };
}
