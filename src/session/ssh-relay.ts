/**
 * The client half of ForwardSsh: relays the builder's agent connections to local ssh-agent
 * sockets. Transport-agnostic: `stream` is any object-mode duplex of SshFrames (the gRPC call, or
 * a pair of PassThroughs in tests).
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { SshFrame, SshFrame__Output } from '../protocol/generated/depot/builder/v1/SshFrame.js';

/** A running relay for one build. */
export interface SshRelay {
  /**
   * Ends the relay: closes every agent connection, ends the stream and waits (at most
   * `graceMs`, then cancels it) for the builder to end its side. Never rejects.
   */
  close(): Promise<void>;
  /** Connections the builder opened, and how many of them could not reach their agent. */
  readonly stats: { opened: number; failed: number };
  /** Why the stream failed while the relay was open, if it did. */
  readonly error: Error | undefined;
}

export interface SshRelayOptions {
  /** Connects to an agent socket; tests may replace it. Default: net.connect(path). */
  connect?: (path: string) => net.Socket;
  /** How long close() waits for the builder to end the stream; default 2000 ms. */
  graceMs?: number;
  /** Turns a stream error into the one callers see (e.g. a gRPC error into a DepotError). */
  wrapError?: (err: unknown) => Error;
}

interface Conn {
  socket: net.Socket;
  sshId: string;
  connected: boolean;
  /** The builder closed it: no close frame goes back. */
  remoteClosed: boolean;
  /** Why the agent side failed, sent with the close frame. */
  error: string;
}

/**
 * Starts relaying: sends the first frame `{buildId}`, then for every `{open, conn, sshId}` from
 * the builder connects to `agents[sshId]` and relays `{conn, data}` both ways until either side
 * sends or causes `{conn, close}`. A connection whose agent cannot be reached is answered with
 * `{conn, close: true, error}`.
 */
export function relaySshAgents(
  stream: Duplex,
  buildId: string,
  agents: Readonly<Record<string, string>>,
  opts: SshRelayOptions = {},
): SshRelay {
  const connect = opts.connect ?? ((path: string) => net.connect(path));
  const graceMs = opts.graceMs ?? 2000;
  const conns = new Map<number, Conn>();
  const sockets = new Set<net.Socket>();
  /** Agent sockets paused until the stream drains. */
  const paused = new Set<net.Socket>();
  /** Agent sockets whose writes back up: the stream stays paused until all of them drain. */
  const blocked = new Set<net.Socket>();
  const stats = { opened: 0, failed: 0 };
  let closing = false;
  let streamDone = false;
  let error: Error | undefined;

  const writable = () => !streamDone && !stream.destroyed && !stream.writableEnded;
  const send = (frame: SshFrame): boolean => (writable() ? stream.write(frame) : true);

  const unblock = (socket: net.Socket) => {
    if (blocked.delete(socket) && blocked.size === 0 && !streamDone) stream.resume();
  };

  const dropAll = () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    conns.clear();
    paused.clear();
    blocked.clear();
  };

  const open = (connId: number, sshId: string) => {
    stats.opened++;
    const old = conns.get(connId);
    if (old) {
      // The builder reused a number it did not close: the old connection is gone for it.
      old.remoteClosed = true;
      old.socket.destroy();
    }
    const path = Object.hasOwn(agents, sshId) ? agents[sshId] : undefined;
    if (!path) {
      stats.failed++;
      send({
        conn: connId,
        close: true,
        error: `no ssh agent ${JSON.stringify(sshId)} in this build's --ssh`,
      });
      return;
    }
    const socket = connect(path);
    const c: Conn = { socket, sshId, connected: false, remoteClosed: false, error: '' };
    conns.set(connId, c);
    sockets.add(socket);
    socket.on('connect', () => {
      c.connected = true;
    });
    socket.on('data', (data: Buffer) => {
      if (c.remoteClosed || !writable()) return;
      if (!stream.write({ conn: connId, data })) {
        socket.pause();
        paused.add(socket);
      }
    });
    socket.on('drain', () => unblock(socket));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code ?? err.message;
      if (!c.connected) stats.failed++;
      c.error = c.connected
        ? `ssh agent connection for ${JSON.stringify(sshId)} failed: ${why}`
        : `cannot reach the ssh agent for ${JSON.stringify(sshId)} at ${path}: ${why}`;
    });
    socket.on('close', () => {
      sockets.delete(socket);
      paused.delete(socket);
      unblock(socket);
      if (conns.get(connId) === c) conns.delete(connId);
      if (!c.remoteClosed && !closing)
        send(c.error ? { conn: connId, close: true, error: c.error } : { conn: connId, close: true });
    });
  };

  stream.on('data', (f: SshFrame__Output) => {
    const connId = f.conn ?? 0;
    if (f.open) {
      open(connId, f.sshId ?? '');
      return;
    }
    const c = conns.get(connId);
    if (!c) return; // closed meanwhile
    if (f.data?.length && !c.socket.destroyed) {
      if (!c.socket.write(f.data)) {
        blocked.add(c.socket);
        stream.pause();
      }
    }
    if (f.close) {
      c.remoteClosed = true;
      conns.delete(connId);
      // Let buffered data reach the agent, then close; the relay's close() destroys stragglers.
      c.socket.end();
    }
  });
  stream.on('drain', () => {
    for (const s of paused) s.resume();
    paused.clear();
  });
  const finish = () => {
    streamDone = true;
    dropAll();
  };
  stream.on('end', () => {
    finish();
    if (!stream.writableEnded && !stream.destroyed) stream.end();
  });
  stream.on('error', (err) => {
    if (!closing && !error) error = opts.wrapError ? opts.wrapError(err) : err;
    finish();
  });
  stream.on('close', finish);

  stream.write({ buildId });

  let closed: Promise<void> | undefined;
  return {
    stats,
    get error() {
      return error;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        dropAll();
        if (streamDone || stream.destroyed) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          // The builder did not end its side: cancel the call (grpc) or destroy the stream.
          const cancel = (stream as unknown as { cancel?: () => void }).cancel;
          if (typeof cancel === 'function') cancel.call(stream);
          else stream.destroy();
          resolve();
        }, graceMs);
        timer.unref?.();
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        stream.once('end', done);
        stream.once('error', done);
        stream.once('close', done);
        // Keep reading so that 'end' can arrive even when the stream was paused.
        stream.resume();
        if (!stream.writableEnded) stream.end();
      });
      return closed;
    },
  };
}
