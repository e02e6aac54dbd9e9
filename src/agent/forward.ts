/**
 * The first thing `depot build` does: hand the whole command to the local agent's warm worker,
 * which has the CLI loaded and the builder's channel open, and relay its output. Node's own start
 * is then all this process pays. It loads nothing but Node's net and fs and returns undefined
 * whenever the agent cannot take the build — not running, another version, no worker ready, stdin
 * needed — before anything ran, so the caller runs it in process (and starts the agent).
 */
import { realpathSync } from 'node:fs';
import { connect } from 'node:net';
import { flushed } from '../cli/process-exit.js';
import { Frame, frame, frameReader } from './frames.js';
import { agentPaths } from './paths.js';
import { AGENT_PROTOCOL, type RunRequest } from './protocol.js';
import { agentWanted } from './wanted.js';

/** How long the agent may take to say whether a worker takes the build. */
const ANSWER_TIMEOUT_MS = 5000;

/** Whether the agent may run this command line: a build that reads nothing from stdin. */
export function forwardable(argv: string[], env: NodeJS.ProcessEnv): boolean {
  if (argv[0] !== 'build') return false;
  // `-` is the context or the Dockerfile on stdin, which the worker does not have (nor a secret
  // read from /dev/stdin).
  if (argv.includes('-') || argv.includes('--no-agent') || argv.some((a) => a.includes('/dev/stdin')))
    return false;
  return agentWanted({}, env);
}

/**
 * Runs `depot ARGV` in the agent's worker; resolves with the exit status once every byte of its
 * output is written here, or undefined when the agent did not take it (nothing ran).
 */
export function forwardToAgent(argv: string[]): Promise<number | undefined> {
  const env = process.env;
  if (!forwardable(argv, env)) return Promise.resolve(undefined);
  let bin: string;
  try {
    bin = realpathSync(process.argv[1] ?? '');
  } catch {
    return Promise.resolve(undefined);
  }
  const req: RunRequest = {
    op: 'run',
    protocol: AGENT_PROTOCOL,
    bin,
    argv,
    cwd: process.cwd(),
    env: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)),
    umask: process.umask(),
    tty: {
      stdin: Boolean(process.stdin.isTTY),
      stdout: Boolean(process.stdout.isTTY),
      stderr: Boolean(process.stderr.isTTY),
      columns: process.stdout.columns,
      rows: process.stdout.rows,
    },
  };
  return new Promise((resolve) => {
    const sock = connect(agentPaths(env).socket);
    let state: 'asking' | 'running' | 'done' = 'asking';
    let exitCode: number | undefined;
    const timer = setTimeout(() => decline(), ANSWER_TIMEOUT_MS);
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    const onSignal = (sig: string) => {
      if (!sock.destroyed) sock.write(frame(Frame.signal, sig));
    };
    const onResize = () =>
      sock.write(frame(Frame.resize, `${process.stdout.columns} ${process.stdout.rows}`));
    const cleanup = () => {
      clearTimeout(timer);
      for (const s of signals) process.off(s, onSignal);
      process.stdout.off('resize', onResize);
    };
    const decline = () => {
      if (state !== 'asking') return;
      state = 'done';
      cleanup();
      sock.destroy();
      resolve(undefined);
    };
    const finish = async () => {
      if (state === 'done') return;
      state = 'done';
      cleanup();
      await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
      if (exitCode === undefined) {
        process.stderr.write(
          "depot: internal error: the agent's build worker ended without an exit status (see depot agent logs)\n",
        );
        resolve(2);
      } else resolve(exitCode);
    };
    // A reader that closes early (`| head`) ends what can be written, not the build.
    for (const s of [process.stdout, process.stderr]) s.on('error', () => {});
    const write = (out: NodeJS.WriteStream, payload: Buffer) => {
      if (out.destroyed || out.writableEnded) return;
      // A slow reader: stop reading frames until it caught up (the worker waits in turn).
      if (!out.write(payload)) {
        sock.pause();
        out.once('drain', () => sock.resume());
      }
    };
    const read = frameReader((type, payload) => {
      if (state === 'asking') {
        if (type !== Frame.accepted) return decline();
        state = 'running';
        clearTimeout(timer);
        for (const s of signals) process.on(s, onSignal);
        if (process.stdout.isTTY) process.stdout.on('resize', onResize);
        sock.write(frame(Frame.accepted));
        return;
      }
      if (type === Frame.stdout) write(process.stdout, payload);
      else if (type === Frame.stderr) write(process.stderr, payload);
      else if (type === Frame.exit) exitCode = Number(payload.toString()) || 0;
    });
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (chunk: Buffer) => {
      try {
        read(chunk);
      } catch {
        // An agent speaking something else (another protocol answers in JSON lines).
        if (state === 'asking') decline();
        else sock.destroy();
      }
    });
    sock.on('error', () => (state === 'asking' ? decline() : undefined));
    sock.on('close', () => (state === 'asking' ? decline() : void finish()));
  });
}
