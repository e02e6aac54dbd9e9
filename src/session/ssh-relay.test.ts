import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex, PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { SshFrame, SshFrame__Output } from '../protocol/generated/depot/builder/v1/SshFrame.js';
import { requireBuildCapabilities } from './capabilities.js';
import { DepotError } from './errors.js';
import { relaySshAgents } from './ssh-relay.js';

/**
 * The builder's end of a ForwardSsh stream: `toClient` feeds the relay, `fromClient` collects what
 * it sends. The relay gets a Duplex made of the two, like a grpc-js call in object mode.
 */
function fakeCall(opts: { endWhenClientEnds?: boolean } = {}) {
  const toClient = new PassThrough({ objectMode: true });
  const fromClient = new PassThrough({ objectMode: true });
  const stream = Duplex.from({ readable: toClient, writable: fromClient });
  const frames: SshFrame[] = [];
  const waiters: Array<{ pred: (f: SshFrame) => boolean; resolve: (f: SshFrame) => void }> = [];
  let clientEnded = false;
  fromClient.on('data', (f: SshFrame) => {
    frames.push(f);
    for (const w of [...waiters])
      if (w.pred(f)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(f);
      }
  });
  fromClient.on('end', () => {
    clientEnded = true;
    // Like the builder: the client's end of the relay ends the call.
    if (opts.endWhenClientEnds !== false) toClient.end();
  });
  const full = (f: Partial<SshFrame__Output>): SshFrame__Output => ({
    buildId: '',
    conn: 0,
    sshId: '',
    open: false,
    data: Buffer.alloc(0),
    close: false,
    error: '',
    ...f,
  });
  return {
    stream,
    frames,
    send: (f: Partial<SshFrame__Output>) => toClient.write(full(f)),
    endFromBuilder: () => toClient.end(),
    next(pred: (f: SshFrame) => boolean): Promise<SshFrame> {
      const seen = frames.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
    get clientEnded() {
      return clientEnded;
    },
  };
}

/** Data frames of one connection, concatenated. */
const dataOf = (frames: SshFrame[], conn: number) =>
  Buffer.concat(frames.filter((f) => f.conn === conn && f.data).map((f) => Buffer.from(f.data as Buffer)));

describe('relaySshAgents', () => {
  let dir: string;
  let agentPath: string;
  let agent: net.Server;
  const agentSockets = new Set<net.Socket>();
  let received: Buffer[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'depot-ssh-relay-'));
    agentPath = join(dir, 'agent.sock');
    // An "agent" that answers each request with `ok:` + the request, and closes on "bye".
    agent = net.createServer((s) => {
      agentSockets.add(s);
      s.on('close', () => agentSockets.delete(s));
      s.on('data', (d) => {
        received.push(d);
        if (d.toString() === 'bye') s.end();
        else s.write(Buffer.concat([Buffer.from('ok:'), d]));
      });
    });
    await new Promise<void>((r) => agent.listen(agentPath, r));
  });
  after(async () => {
    for (const s of agentSockets) s.destroy();
    await new Promise((r) => agent.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  test('first frame is the build id; relays data both ways per conn; closes both ways', async () => {
    received = [];
    const call = fakeCall();
    const relay = relaySshAgents(call.stream, 'build-1', { default: agentPath });
    assert.deepEqual(await call.next(() => true), { buildId: 'build-1' });

    call.send({ open: true, conn: 7, sshId: 'default' });
    call.send({ open: true, conn: 8, sshId: 'default' });
    call.send({ conn: 7, data: Buffer.from('hello') });
    call.send({ conn: 8, data: Buffer.from('world') });
    await call.next((f) => f.conn === 7 && dataOf(call.frames, 7).toString() === 'ok:hello');
    await call.next((f) => f.conn === 8 && dataOf(call.frames, 8).toString() === 'ok:world');

    // The agent closes conn 7: the builder hears {conn: 7, close}.
    call.send({ conn: 7, data: Buffer.from('bye') });
    const closed = await call.next((f) => f.conn === 7 && f.close === true);
    assert.equal(closed.error, undefined);

    // The builder closes conn 8: the agent's socket ends, and no close frame comes back.
    call.send({ conn: 8, close: true });
    for (let i = 0; i < 100 && agentSockets.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(agentSockets.size, 0);
    assert.equal(call.frames.filter((f) => f.conn === 8 && f.close).length, 0);

    assert.equal(relay.stats.opened, 2);
    assert.equal(relay.stats.failed, 0);
    await relay.close();
    assert.ok(call.clientEnded, 'the client ended its side');
    assert.equal(relay.error, undefined);
  });

  test('an unknown ssh id or an unreachable agent is answered with close and an error', async () => {
    const call = fakeCall();
    const relay = relaySshAgents(call.stream, 'b', { default: agentPath, gone: join(dir, 'nope.sock') });
    call.send({ open: true, conn: 1, sshId: 'other' });
    const c1 = await call.next((f) => f.conn === 1 && f.close === true);
    assert.match(c1.error!, /no ssh agent "other"/);
    call.send({ open: true, conn: 2, sshId: 'gone' });
    const c2 = await call.next((f) => f.conn === 2 && f.close === true);
    assert.match(c2.error!, /cannot reach the ssh agent for "gone" at .*nope\.sock: ENOENT/);
    assert.equal(relay.stats.failed, 2);
    // Data for a closed connection is dropped quietly.
    call.send({ conn: 2, data: Buffer.from('late') });
    await relay.close();
  });

  test('large transfers arrive whole (backpressure both ways)', async () => {
    received = [];
    const call = fakeCall();
    const relay = relaySshAgents(call.stream, 'b', { default: agentPath });
    call.send({ open: true, conn: 3, sshId: 'default' });
    const chunk = Buffer.alloc(64 * 1024, 7);
    for (let i = 0; i < 64; i++) call.send({ conn: 3, data: chunk });
    const want = 64 * chunk.length;
    for (let i = 0; i < 500 && Buffer.concat(received).length < want; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(Buffer.concat(received).length, want);
    // Every request is echoed with a 3-byte prefix per agent read.
    for (let i = 0; i < 500 && dataOf(call.frames, 3).length < want; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.ok(dataOf(call.frames, 3).length >= want);
    await relay.close();
  });

  test('the builder ending the stream closes every agent connection', async () => {
    const call = fakeCall();
    const relay = relaySshAgents(call.stream, 'b', { default: agentPath });
    call.send({ open: true, conn: 4, sshId: 'default' });
    call.send({ conn: 4, data: Buffer.from('ping') });
    await call.next((f) => f.conn === 4 && !!f.data);
    call.endFromBuilder();
    for (let i = 0; i < 100 && agentSockets.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(agentSockets.size, 0);
    await relay.close();
    assert.ok(call.clientEnded);
  });

  test('close() does not wait forever for a builder that never ends', async () => {
    const call = fakeCall({ endWhenClientEnds: false });
    const relay = relaySshAgents(call.stream, 'b', {}, { graceMs: 50 });
    const started = Date.now();
    await relay.close();
    assert.ok(Date.now() - started < 1000);
    assert.ok(call.stream.destroyed);
  });

  test('a stream error is kept, wrapped, and closes the agents', async () => {
    const call = fakeCall();
    const relay = relaySshAgents(
      call.stream,
      'b',
      { default: agentPath },
      { wrapError: (e) => new DepotError('builder_error', `wrapped: ${(e as Error).message}`) },
    );
    call.stream.destroy(new Error('boom'));
    for (let i = 0; i < 50 && !relay.error; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(relay.error?.message, 'wrapped: boom');
    await relay.close();
  });
});

describe('requireBuildCapabilities', () => {
  const session = ['driver.session', 'build.secrets', 'build.ssh', 'build.registry-auth'];
  test('passes when not needed or announced', () => {
    requireBuildCapabilities({ builderId: 'b1', capabilities: [] }, { secrets: false, ssh: false });
    requireBuildCapabilities({ builderId: 'b1', capabilities: session }, { secrets: true, ssh: true });
  });
  test('an engine-API builder: one line naming the builder, the flag and the fix', () => {
    assert.throws(
      () =>
        requireBuildCapabilities(
          { builderId: 'b1', capabilities: ['sync.delta'] },
          { secrets: true, ssh: false },
        ),
      (e: unknown) =>
        e instanceof DepotError &&
        e.code === 'unsupported' &&
        e.message ===
          'builder b1 cannot serve --secret (it drives its engine without a BuildKit session); use a builder with the session driver',
    );
    assert.throws(
      () => requireBuildCapabilities({ builderId: 'b1', capabilities: [] }, { secrets: true, ssh: true }),
      /cannot serve --secret or --ssh/,
    );
  });
  test('a session builder without the feature', () => {
    assert.throws(
      () =>
        requireBuildCapabilities(
          { builderId: 'b2', capabilities: ['driver.session', 'build.secrets'] },
          { secrets: true, ssh: true },
        ),
      /builder b2 cannot serve --ssh; upgrade depot-builder/,
    );
  });
});
