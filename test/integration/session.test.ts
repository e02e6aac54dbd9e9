/**
 * The session driver against a real dockerd: BuildKit pulls the context and the Dockerfile
 * through a session served from a manifest, asks only for changed files, reads secrets through
 * it, keeps it alive through long builds, and a dropped session fails the build clearly.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  createDockerEngine,
  type Engine,
  type EngineBuildRequest,
  type EngineEvent,
  type EngineSession,
  type SessionOptions,
  singleFileEntries,
} from '../../builder-host/src/engine/index.js';
import { manifestOf } from './context-helpers.js';
import { imageLayers } from './harness.js';

const BUILDER = process.env.DEPOT_TEST_BUILDER_ENGINE ?? 'unix:///tmp/depot-engines/builder/docker.sock';
const DOCKER_CLI = '/usr/bin/docker';
const skip = existsSync(BUILDER.slice('unix://'.length))
  ? false
  : `engine socket absent (${BUILDER}): run scripts/engines.sh start builder`;

const nonce = randomBytes(6).toString('hex');
let work: string;
let engine: Engine;

function docker(args: string[]): string {
  return execFileSync(DOCKER_CLI, args, { env: { ...process.env, DOCKER_HOST: BUILDER }, encoding: 'utf8' });
}

function writeTree(dir: string, files: Record<string, string | Buffer>): void {
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    writeFileSync(path.join(dir, p), text);
  }
}

interface Transfer {
  dir: string;
  bytes: number;
  files: number;
}

function sessionRequest(
  dir: string,
  dockerfile: string,
  over: Partial<SessionOptions> & { tags?: string[] } = {},
): { req: EngineBuildRequest; transfers: Transfer[] } {
  const m = manifestOf(dir);
  const df = Buffer.from(dockerfile);
  const dfDigest = `sha256:${createHash('sha256').update(df).digest('hex')}`;
  const transfers: Transfer[] = [];
  const { tags, ...sessionOver } = over;
  return {
    transfers,
    req: {
      dockerfile: 'Dockerfile',
      buildArgs: {},
      target: '',
      platform: '',
      tags: tags ?? [],
      noCache: false,
      pull: false,
      labels: {},
      buildId: `session-${nonce}-${randomBytes(4).toString('hex')}`,
      session: {
        name: 'session-test',
        sharedKey: `session-test-${nonce}`,
        dirs: new Map([
          ['context', { entries: m.entries, open: m.openBlob }],
          [
            'dockerfile',
            {
              entries: singleFileEntries('Dockerfile', df.length, dfDigest),
              open: () => Readable.from([df]),
            },
          ],
        ]),
        onTransfer: (d, bytes, files) => transfers.push({ dir: d, bytes, files }),
        ...sessionOver,
      },
    },
  };
}

async function collect(it: AsyncIterable<EngineEvent>): Promise<EngineEvent[]> {
  const out: EngineEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

function result(events: EngineEvent[]): Extract<EngineEvent, { type: 'result' }> {
  const r = events.at(-1);
  assert.equal(r?.type, 'result');
  return r as Extract<EngineEvent, { type: 'result' }>;
}

/** BuildKit's own count of context bytes received ("transferring context: N"), largest report. */
function transferredByEngine(events: EngineEvent[]): number {
  let n = 0;
  for (const e of events)
    if (e.type === 'status' && e.status.id.startsWith('transferring context'))
      n = Math.max(n, e.status.current);
  return n;
}

function logText(events: EngineEvent[]): string {
  return events
    .filter((e) => e.type === 'log')
    .map((e) => (e as { data: Buffer }).data.toString())
    .join('');
}

describe('session driver (real dockerd)', { skip }, () => {
  before(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'depot-session-'));
    engine = createDockerEngine({ host: BUILDER });
  });
  after(() => {
    rmSync(work, { recursive: true, force: true });
    try {
      docker(['rmi', '-f', `depot-session-test:${nonce}`]);
    } catch {
      // not built
    }
  });

  test('context served through the session; after one change BuildKit fetches only that file', async () => {
    const dir = mkdtempSync(path.join(work, 'ctx-'));
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 300; i++) files[`d${i % 10}/f${i}.bin`] = randomBytes(4096);
    writeTree(dir, { ...files, 'keep.txt': 'kept\n' });
    const dockerfile = 'FROM busybox\nCOPY . /ctx\nRUN find /ctx -type f | wc -l && cat /ctx/keep.txt\n';

    const first = sessionRequest(dir, dockerfile, { tags: [`depot-session-test:${nonce}`] });
    const ev1 = await collect(engine.build(first.req, new AbortController().signal));
    const r1 = result(ev1);
    assert.ok(r1.ok, r1.error);
    assert.match(logText(ev1), /\b301\b/);
    assert.match(logText(ev1), /kept/);
    const ctx1 = first.transfers.filter((t) => t.dir === 'context');
    assert.ok(
      ctx1.some((t) => t.files >= 301),
      `first build fetched the whole context: ${JSON.stringify(ctx1)}`,
    );

    // The Dockerfile never enters the context: it is served from its own directory.
    assert.ok(!/Dockerfile/.test(docker(['run', '--rm', `depot-session-test:${nonce}`, 'ls', '-a', '/ctx'])));

    writeFileSync(path.join(dir, 'd3/f3.bin'), randomBytes(5000));
    const second = sessionRequest(dir, dockerfile);
    const ev2 = await collect(engine.build(second.req, new AbortController().signal));
    assert.ok(result(ev2).ok, result(ev2).error);
    const ctx2 = second.transfers.filter((t) => t.dir === 'context');
    const served = ctx2.reduce((a, t) => a + t.bytes, 0);
    assert.equal(served, 5000, `only the changed file's bytes were served: ${JSON.stringify(ctx2)}`);
    const byEngine = transferredByEngine(ev2);
    const statuses = ev2.filter((e) => e.type === 'status' && e.status.id.startsWith('transferring'));
    assert.ok(
      byEngine > 0 && byEngine < 5000 + 64 * 1024,
      `BuildKit reported ${byEngine} B: ${JSON.stringify(statuses)}`,
    );
    assert.ok(byEngine < (300 * 4096) / 10, 'far less than the context');
  });

  test('a secret is read through the session and left in no layer', async () => {
    const dir = mkdtempSync(path.join(work, 'ctx-'));
    writeTree(dir, { 'a.txt': 'a\n' });
    const value = `s3cr3t-${randomBytes(8).toString('hex')}`;
    const tag = `depot-session-secret:${nonce}`;
    const dockerfile = [
      'FROM busybox',
      'RUN --mount=type=secret,id=npm cat /run/secrets/npm > /dev/null && test "$(cat /run/secrets/npm)" = ' +
        value,
      'RUN --mount=type=secret,id=npm ls -la /run/secrets > /listing',
      '',
    ].join('\n');
    const { req } = sessionRequest(dir, dockerfile, {
      tags: [tag],
      secrets: new Map([['npm', Buffer.from(value)]]),
    });
    const ev = await collect(engine.build(req, new AbortController().signal));
    const r = result(ev);
    try {
      assert.ok(r.ok, r.error);
      // Every layer of the image, as docker save writes it (the config's history names the
      // expected value in the RUN line, as any Dockerfile text does; layers must not hold it).
      const layers = await imageLayers(BUILDER, tag);
      assert.ok(layers.length >= 3, `layers: ${layers.length}`);
      for (const layer of layers)
        assert.equal(layer.includes(Buffer.from(value)), false, 'the secret is in no layer');
    } finally {
      docker(['rmi', '-f', tag]);
    }
  });

  test('a missing secret fails the step that needs it', async () => {
    const dir = mkdtempSync(path.join(work, 'ctx-'));
    writeTree(dir, { 'a.txt': 'a\n' });
    const { req } = sessionRequest(
      dir,
      'FROM busybox\nRUN --mount=type=secret,id=npm,required=true cat /run/secrets/npm\n',
      { secrets: new Map() },
    );
    const r = result(await collect(engine.build(req, new AbortController().signal)));
    assert.equal(r.ok, false);
    assert.match(r.error, /secret.*npm|npm.*not found/i);
  });

  test('a session dropped mid-build fails the build with a clear error', async () => {
    const dir = mkdtempSync(path.join(work, 'ctx-'));
    writeTree(dir, { 'a.txt': `${nonce}\n` });
    let session: EngineSession | undefined;
    const { req } = sessionRequest(
      dir,
      `FROM busybox\nCOPY a.txt /a\nRUN echo started-${nonce} && sleep 30\n`,
      {
        onOpen: (s) => {
          session = s;
        },
      },
    );
    const events: EngineEvent[] = [];
    const started = Date.now();
    for await (const ev of engine.build(req, new AbortController().signal)) {
      events.push(ev);
      if (ev.type === 'log' && ev.data.toString().includes(`started-${nonce}`) && session) {
        session.abort(new Error('connection reset'));
        session = undefined;
      }
    }
    const r = result(events);
    assert.equal(r.ok, false);
    assert.equal(r.errorCode, 'session_lost');
    assert.equal(r.error, 'the build session to the engine was lost mid-build: connection reset');
    assert.ok(Date.now() - started < 25_000, 'the build stopped instead of running on');
  });

  test('a build longer than 60 s keeps its session (health answered) and finishes', {
    timeout: 150_000,
  }, async () => {
    const dir = mkdtempSync(path.join(work, 'ctx-'));
    writeTree(dir, { 'a.txt': `${nonce}\n` });
    let session: EngineSession | undefined;
    const { req } = sessionRequest(
      dir,
      `FROM busybox\nRUN echo long-${nonce} && sleep 65\nCOPY a.txt /a\nRUN cat /a\n`,
      {
        onOpen: (s) => {
          session = s;
        },
      },
    );
    const events = await collect(engine.build(req, new AbortController().signal));
    const r = result(events);
    assert.ok(r.ok, r.error);
    // The COPY after the sleep needed the session's files, 65 s after it opened.
    assert.match(logText(events), new RegExp(nonce));
    assert.ok(session);
  });
});
