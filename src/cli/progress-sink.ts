import {
  type BuildEvent,
  createJsonRenderer,
  createPlainRenderer,
  type ProgressMode,
  resolveProgressMode,
} from '../progress/index.js';
import { DepotError } from '../session/index.js';
import { renderBuildTty } from '../tui/index.js';

/** Where build events go: one of the renderers picked by --progress. */
export interface ProgressSink {
  handle(e: BuildEvent): void;
  close(): Promise<void>;
}

const MODES = ['auto', 'tty', 'plain', 'json', 'quiet'];

/** Creates the renderer for a --progress mode (auto: tty on a terminal outside CI, else plain). */
export function createProgressSink(mode: string): ProgressSink {
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
  const write = (s: string) => process.stderr.write(s);
  switch (resolved) {
    case 'quiet':
      return { handle() {}, async close() {} };
    case 'json': {
      const r = createJsonRenderer((s) => process.stdout.write(s));
      return {
        handle: (e) => r.handle(e),
        async close() {
          r.close();
        },
      };
    }
    case 'plain': {
      const r = createPlainRenderer(write);
      return {
        handle: (e) => r.handle(e),
        async close() {
          r.close();
        },
      };
    }
    default: {
      const r = renderBuildTty({ stdout: process.stderr });
      return { handle: (e) => r.handle(e), close: () => r.close() };
    }
  }
}
