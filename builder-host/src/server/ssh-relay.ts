/**
 * SSH agent relays: a client that builds with `--ssh` opens ForwardSsh for its build; each agent
 * connection BuildKit makes during that build becomes one numbered connection on that stream,
 * which the client joins to its local agent socket.
 */
import { Duplex } from 'node:stream';
import type * as grpc from '@grpc/grpc-js';
import type {
  SshFrame,
  SshFrame__Output,
} from '../../../src/protocol/generated/depot/builder/v1/SshFrame.js';

type RelayCall = grpc.ServerDuplexStream<SshFrame__Output, SshFrame>;

interface Relay {
  project: string;
  call: RelayCall;
  conns: Map<number, Duplex>;
  next: number;
}

export interface SshRelays {
  /** Serves one ForwardSsh stream of an authenticated caller. */
  attach(call: RelayCall, project: string): void;
  /** Opens an agent connection through the relay of a build (waits briefly for the relay to attach). */
  connect(buildId: string, project: string, sshId: string): Promise<Duplex>;
}

/** How long a build waits for its client's relay stream. */
const ATTACH_WAIT_MS = 10_000;
/** Longest build id a relay accepts (clients send UUIDs). */
const MAX_BUILD_ID = 128;

const relayKey = (project: string, buildId: string) => `${project}\0${buildId}`;

export function createSshRelays(): SshRelays {
  const relays = new Map<string, Relay>();
  const waiters = new Map<string, Array<() => void>>();

  const openConn = (relay: Relay, sshId: string): Duplex => {
    const conn = ++relay.next;
    let remoteClosed = false;
    const d = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        relay.call.write({ conn, data: chunk });
        cb();
      },
      final(cb) {
        if (!remoteClosed) relay.call.write({ conn, close: true });
        cb();
      },
      destroy(err, cb) {
        if (!remoteClosed) relay.call.write({ conn, close: true });
        relay.conns.delete(conn);
        cb(err);
      },
    });
    (d as Duplex & { remoteClose?: (error: string) => void }).remoteClose = (error: string) => {
      remoteClosed = true;
      relay.conns.delete(conn);
      if (error) d.destroy(new Error(`SSH agent ${sshId} on the client: ${error}`));
      else d.push(null);
    };
    relay.conns.set(conn, d);
    relay.call.write({ open: true, conn, sshId });
    return d;
  };

  return {
    attach(call, project) {
      // Relays are found by project and build id: a project can only ever claim ids of its own,
      // so another project's token cannot take a build id first and break that build's --ssh.
      let buildId = '';
      call.on('data', (f: SshFrame__Output) => {
        if (!buildId) {
          buildId = f.buildId ? relayKey(project, f.buildId) : '';
          if (!buildId || f.buildId.length > MAX_BUILD_ID || relays.has(buildId)) {
            call.end();
            return;
          }
          relays.set(buildId, { project, call, conns: new Map(), next: 0 });
          for (const w of waiters.get(buildId) ?? []) w();
          waiters.delete(buildId);
          return;
        }
        const relay = relays.get(buildId);
        const d = relay?.conns.get(f.conn);
        if (!d) return;
        if (f.data.length) d.push(Buffer.from(f.data));
        if (f.close) (d as Duplex & { remoteClose: (e: string) => void }).remoteClose(f.error);
      });
      const done = () => {
        const relay = relays.get(buildId);
        if (relay?.call !== call) return;
        relays.delete(buildId);
        for (const d of relay.conns.values()) d.destroy(new Error('the client ended SSH forwarding'));
      };
      call.on('end', () => {
        done();
        call.end();
      });
      call.on('error', done);
      call.on('cancelled', done);
    },

    async connect(id, project, sshId) {
      const buildId = relayKey(project, id);
      let relay = relays.get(buildId);
      if (!relay) {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => {
            waiters.set(
              buildId,
              (waiters.get(buildId) ?? []).filter((w) => w !== ready),
            );
            reject(new Error(`the client did not forward an SSH agent for build ${id}`));
          }, ATTACH_WAIT_MS);
          const ready = () => {
            clearTimeout(t);
            resolve();
          };
          waiters.set(buildId, [...(waiters.get(buildId) ?? []), ready]);
        });
        relay = relays.get(buildId);
      }
      if (!relay || relay.project !== project)
        throw new Error(`no SSH agent relay of this project for build ${id}`);
      return openConn(relay, sshId);
    },
  };
}
