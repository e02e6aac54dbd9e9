// The engine's socket vanishing mid-build: the build fails with one clear line, the builder stays
// up, and once the engine is back the next build is correct (real builder, real dockerd behind a
// unix-socket proxy the test can cut).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseEventLines } from '../../src/progress/json.js';
import {
  BUILDER_ENGINE,
  type BuilderProcess,
  buildOn,
  DEPOT_BIN,
  depot,
  isolatedEnv,
  LAPTOP_ENGINE,
  skipReason,
  startBuilder,
  tempDir,
  until,
} from '../integration/harness.js';

const skip = skipReason();

/** A unix socket that forwards to the builder engine until `cut()`. */
function engineProxy(path: string): { start(): Promise<void>; cut(): Promise<void> } {
  let server: Server | undefined;
  const conns = new Set<Socket>();
  return {
    start() {
      rmSync(path, { force: true });
      server = createServer((client) => {
        const upstream = createConnection(BUILDER_ENGINE.replace(/^unix:\/\//, ''));
        conns.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          conns.delete(client);
          conns.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
      });
      return new Promise((r) => server!.listen(path, () => r()));
    },
    async cut() {
      // close() waits for open connections: drop them first.
      const closed = new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      for (const c of conns) c.destroy();
      conns.clear();
      await closed;
      rmSync(path, { force: true });
    },
  };
}

describe('the engine socket vanishing mid-build', { skip }, () => {
  const dir = tempDir('engine-loss');
  const sock = join(dir, 'engine.sock');
  const proxy = engineProxy(sock);
  let builder: BuilderProcess;
  let token = '';

  before(async () => {
    await proxy.start();
    builder = await startBuilder({ engine: `unix://${sock}` });
    token = builder.token('engine-loss');
  });
  after(async () => {
    await builder?.stop();
    await proxy.cut();
  });

  test('fails the build in one line, keeps the builder up, and the next build is correct', async () => {
    const ctx = tempDir('engine-loss-ctx');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM busybox:latest\nRUN sleep 20 && echo ${randomUUID()}\n`);
    const child = spawn(
      process.execPath,
      [DEPOT_BIN, ...buildOn(builder.url, token, 'engine-loss', 'json'), ctx],
      {
        env: { ...process.env, ...isolatedEnv(), DOCKER_HOST: LAPTOP_ENGINE },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d;
    });
    const exited = new Promise<number | null>((r) => child.on('close', r));
    await until('the RUN step to start', () =>
      parseEventLines(out.slice(0, out.lastIndexOf('\n') + 1)).some(
        (ev) =>
          ev.type === 'vertex/updated' && ev.vertex.name.includes('RUN sleep 20') && ev.vertex.startedMs > 0,
      ),
    );
    const cutAt = Date.now();
    await proxy.cut();
    const code = await exited;
    assert.equal(code, 1, err);
    assert.ok(Date.now() - cutAt < 15_000, 'the client learnt of it promptly');
    const lines = err
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('depot:'));
    assert.equal(lines.length, 1, err);
    assert.match(lines[0]!, /engine/i);
    assert.equal(builder.child.exitCode, null, 'the builder is still running');

    await proxy.start();
    const stamp = randomUUID();
    writeFileSync(join(ctx, 'stamp.txt'), `${stamp}\n`);
    writeFileSync(
      join(ctx, 'Dockerfile'),
      'FROM busybox:latest\nCOPY stamp.txt /stamp.txt\nRUN cat /stamp.txt\n',
    );
    const tag = `depot-it/engine-loss:${process.pid}`;
    const next = await depot([...buildOn(builder.url, token, 'engine-loss'), '--load', '-t', tag, ctx]);
    assert.equal(next.code, 0, next.stderr);
    assert.ok(next.stderr.includes(stamp) || next.stdout.includes(stamp), 'the RUN step read the new file');
  });
});
