/**
 * The agent's warm worker (`depot agent worker`, started by the agent, one build each): it loads
 * what a build loads before any build is asked for, then takes one `depot build` the agent hands
 * it with the client's connection (agent/forward.ts), becomes that client's process — its
 * arguments, directory, environment, umask and terminal — runs the command line as `depot` would,
 * sends the output back as frames and exits with the command's status. A fresh process per build:
 * nothing of one build (its environment, its token, its streams) can reach the next.
 */

import { Console } from 'node:console';
import { realpathSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import type { Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import tty from 'node:tty';
import { DepotError } from '../errors/index.js';
import { Frame, type FrameType, frame, frameReader } from './frames.js';
import { AGENT_PROTOCOL, type BuilderRef, type RunRequest } from './protocol.js';

/** How long the client may take to confirm after the worker said it takes the build. */
const CONFIRM_TIMEOUT_MS = 10_000;
/** A client gone mid-build: the build is cancelled, and the worker ends after this at the latest. */
const ORPHAN_EXIT_MS = 15_000;

export interface WorkerReady {
  ready: { bin: string; pid: number };
}
export interface WorkerTask {
  run: RunRequest;
}
export interface WorkerWarm {
  warm: BuilderRef;
}

/** One of the client's output streams, as the command sees it: a terminal or not, its size. */
class FrameOutput extends Writable {
  isTTY: boolean;
  columns?: number;
  rows?: number;
  constructor(
    private readonly sock: Socket,
    private readonly type: FrameType,
    isTTY: boolean,
    size: { columns?: number; rows?: number },
  ) {
    super({ decodeStrings: true });
    this.isTTY = isTTY;
    if (isTTY) {
      this.columns = size.columns;
      this.rows = size.rows;
      // What a tty.WriteStream adds: colour depth from the environment, cursor moves as escapes.
      const proto = tty.WriteStream.prototype as unknown as Record<string, unknown>;
      for (const m of [
        'getColorDepth',
        'hasColors',
        'cursorTo',
        'moveCursor',
        'clearLine',
        'clearScreenDown',
      ])
        (this as unknown as Record<string, unknown>)[m] = proto[m];
    }
  }
  getWindowSize(): [number, number] {
    return [this.columns ?? 80, this.rows ?? 24];
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    // Gone client: the output has nowhere to go, which is not the command's failure.
    if (this.sock.destroyed || !this.sock.writable) done();
    else this.sock.write(frame(this.type, chunk), () => done());
  }
}

function ended(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableFinished) return resolve();
    stream.once('finish', resolve);
    stream.once('error', () => resolve());
    stream.end();
  });
}

/**
 * Makes this process the client's: directory, environment, umask, arguments, output streams,
 * `tty.isatty`, console, signals and `process.exit` (which now sends the exit status first).
 */
function becomeClient(req: RunRequest, sock: Socket, frames: Frames): void {
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, req.env);
  process.umask(req.umask);
  process.argv = [process.execPath, req.bin, ...req.argv];
  const size = { columns: req.tty.columns, rows: req.tty.rows };
  const stdout = new FrameOutput(sock, Frame.stdout, req.tty.stdout, size);
  const stderr = new FrameOutput(sock, Frame.stderr, req.tty.stderr, size);
  // Builds that read stdin are not forwarded (forward.ts): an empty, ended one.
  const stdin = new PassThrough();
  stdin.end();
  Object.assign(stdin, { isTTY: false });
  for (const [name, stream] of [
    ['stdout', stdout],
    ['stderr', stderr],
    ['stdin', stdin],
  ] as const)
    Object.defineProperty(process, name, { configurable: true, enumerable: true, get: () => stream });
  globalThis.console = new Console({ stdout, stderr });
  const isatty = tty.isatty;
  tty.isatty = (fd: number) =>
    fd === 1 ? req.tty.stdout : fd === 2 ? req.tty.stderr : fd === 0 ? false : isatty(fd);
  syncBuiltinESMExports();

  const realExit = process.exit.bind(process) as (code?: number) => never;
  let ending = false;
  const exit = (code: number) => {
    if (ending) return;
    ending = true;
    void Promise.all([ended(stdout), ended(stderr)]).then(() => {
      if (sock.destroyed) realExit(code);
      sock.end(frame(Frame.exit, String(code)), () => realExit(code));
    });
  };
  process.exit = ((code?: number | string | null) =>
    exit(Number(code ?? process.exitCode ?? 0) || 0)) as typeof process.exit;
  process.on('uncaughtException', (err) => {
    stderr.write(`depot: internal error: ${err.stack ?? String(err)}\n`);
    exit(2);
  });

  frames.handle((type, payload) => {
    if (type === Frame.resize && stdout.isTTY) {
      const [c, r] = payload.toString().split(' ').map(Number);
      if (c && r) {
        stdout.columns = stderr.columns = c;
        stdout.rows = stderr.rows = r;
        stdout.emit('resize');
        stderr.emit('resize');
      }
    } else if (type === Frame.signal) {
      const sig = payload.toString();
      if (sig !== 'SIGINT' && sig !== 'SIGTERM' && sig !== 'SIGHUP') return;
      // As the signal would have done to the client's own process: its handlers, else the end.
      if (process.listenerCount(sig) > 0) process.emit(sig as NodeJS.Signals, sig as NodeJS.Signals);
      else exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    }
  });
  sock.on('close', () => {
    if (ending) return;
    // The client went away: cancel the build as Ctrl-C would, and do not outlive it for long.
    if (process.listenerCount('SIGINT') > 0) process.emit('SIGINT', 'SIGINT');
    else realExit(130);
    setTimeout(() => realExit(130), ORPHAN_EXIT_MS).unref();
  });
}

/** The client's frames, read from the moment the worker has the socket; none is lost in between. */
class Frames {
  private handler?: (type: number, payload: Buffer) => void;
  private readonly early: [number, Buffer][] = [];
  constructor(sock: Socket) {
    const read = frameReader((type, payload) =>
      this.handler ? this.handler(type, payload) : this.early.push([type, payload]),
    );
    sock.on('data', (chunk: Buffer) => {
      try {
        read(chunk);
      } catch {
        sock.destroy();
      }
    });
    sock.on('error', () => {});
  }
  hold(): void {
    this.handler = undefined;
  }
  handle(fn: (type: number, payload: Buffer) => void): void {
    this.handler = fn;
    while (this.handler === fn && this.early.length > 0) {
      const [type, payload] = this.early.shift()!;
      fn(type, payload);
    }
  }
}

/** Waits until the client confirms it is still there (it may have given up waiting). */
function confirmed(sock: Socket, frames: Frames): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.off('close', onClose);
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), CONFIRM_TIMEOUT_MS);
    const onClose = () => done(false);
    sock.on('close', onClose);
    frames.handle((type) => {
      // What follows the confirmation waits for the command's own handler.
      frames.hold();
      done(type === Frame.accepted);
    });
  });
}

/** `depot agent worker`: warm up, tell the agent, run the one build it hands over. */
export async function runWorker(): Promise<void> {
  const send = process.send?.bind(process);
  if (!send)
    throw new DepotError('agent_worker', 'depot agent worker runs only under the agent', 'use depot build');
  // An unused worker ends with its agent.
  process.on('disconnect', () => process.exit(0));
  // What every build loads; the terminal UI (Ink) is left out: its colour support is decided when
  // it loads, from the terminal it then sees, which must be the client's.
  const main = await import('../cli/main.js');
  const [session, grpc] = await Promise.all([
    import('../session/index.js'),
    import('../protocol/grpc.js'),
    import('../cli/build.js'),
    import('../cli/targets.js'),
    import('./client.js'),
    import('./paths.js'),
    import('../progress/json.js'),
    import('../progress/plain.js'),
    // The keychain, where tokens live (an optional native module: absent is fine).
    import('keytar' as string).catch(() => undefined),
  ]);
  grpc.loadBuilderProto();
  const bin = realpathSync(process.argv[1] ?? '');
  const task = await new Promise<{ req: RunRequest; sock: Socket }>((resolve) => {
    process.on('message', (m: WorkerTask | WorkerWarm, handle: unknown) => {
      if (!m || typeof m !== 'object') return;
      // The builder of the user's last build: connected now, taken by the build if it is the same.
      if ('warm' in m) session.prewarmBuilderSession(m.warm);
      else if ('run' in m && handle) resolve({ req: m.run, sock: handle as Socket });
    });
    send({ ready: { bin, pid: process.pid } } satisfies WorkerReady);
  });
  const { req, sock } = task;
  // From here on this process belongs to one client: no other work comes from the agent.
  process.removeAllListeners('disconnect');
  process.disconnect?.();
  sock.pause();
  const decline = (why: string) => {
    sock.end(frame(Frame.declined, why), () => process.exit(0));
  };
  if (req.protocol !== AGENT_PROTOCOL || req.bin !== bin) return decline('another depot');
  try {
    process.chdir(req.cwd);
  } catch {
    return decline('the directory is gone');
  }
  const frames = new Frames(sock);
  sock.resume();
  sock.write(frame(Frame.accepted));
  if (!(await confirmed(sock, frames))) process.exit(0);
  becomeClient(req, sock, frames);
  main.runCli(process.argv);
  // `agent worker` itself never ends: the command just started ends the process.
  await new Promise<never>(() => {});
}
