import type { RenderOptions } from 'ink';

/**
 * Ink render options shared by depot's full-screen and live views: keys handled by the view (no
 * exit on Ctrl-C), console left alone, frames capped. Ink spreads these over its defaults, so an
 * absent stdin/stderr must be left out, not passed as `undefined` (that would erase process.stdin).
 */
export function inkRenderOptions(opts: {
  stdout: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  stderr?: NodeJS.WriteStream;
  fps?: number;
}): RenderOptions {
  return {
    stdout: opts.stdout,
    ...(opts.stdin ? { stdin: opts.stdin } : {}),
    ...(opts.stderr ? { stderr: opts.stderr } : {}),
    exitOnCtrlC: false,
    patchConsole: false,
    maxFps: opts.fps ?? 15,
  };
}
