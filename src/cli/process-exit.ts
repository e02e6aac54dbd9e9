// How the CLI process ends: output flushed to slow readers, Ctrl-C turned into a clean cancel.

/** Signals closer together than this are one Ctrl-C (see interruptSignal). */
const SIGNAL_ECHO_MS = 500;
let interrupt: { ac: AbortController; at: number } | undefined;
let exiting = false;

function onInterrupt(): void {
  // Ctrl-C while the output waits for a reader that does not read: stop waiting.
  if (exiting) process.exit(130);
  if (!interrupt) return;
  if (!interrupt.ac.signal.aborted) {
    interrupt.at = Date.now();
    interrupt.ac.abort();
    return;
  }
  if (Date.now() - interrupt.at < SIGNAL_ECHO_MS) return;
  // A second Ctrl-C: the user does not want to wait for a clean cancel.
  process.stderr.write('depot: cancelled\n');
  process.exit(130);
}

/**
 * An AbortSignal that Ctrl-C and SIGTERM abort, for a command that cancels cleanly (it then fails
 * with a `cancelled` error: one line, exit 130). The listeners stay until the process ends: conf's
 * when-exit re-raises the signal after its own cleanup, and with no listener left that echo would
 * kill the process before it says why it stopped (hence also the echo window).
 */
export function interruptSignal(): AbortSignal {
  if (!interrupt) {
    interrupt = { ac: new AbortController(), at: 0 };
    process.on('SIGINT', onInterrupt);
    process.on('SIGTERM', onInterrupt);
  }
  return interrupt.ac.signal;
}

/** Resolves once a stream has handed everything written to it to the OS (or cannot anymore). */
export function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed) resolve();
    else stream.write('', () => resolve());
  });
}

/**
 * Ends the process with `code` once stdout and stderr are flushed. A pipe holds 64 KiB and writes
 * beyond that wait for the reader, which process.exit would drop; exiting (rather than letting the
 * event loop run dry) still ends a command whose embedded builder or gRPC channels hold handles.
 */
export async function exitWhenFlushed(code: number): Promise<never> {
  exiting = true;
  process.exitCode = code;
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

/**
 * Lets stdout and stderr be closed by their reader (`depot context ls | head`): the rest of the
 * output has nowhere to go, which is not the command's failure (Node would throw EPIPE).
 */
export function ignoreClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
}
