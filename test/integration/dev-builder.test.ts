import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createContainerRunner } from '../../src/dev/container-runner.js';
import type { DevBuilder } from '../../src/dev/ports.js';
import { createDevBuilder, type DevBuilderOptions } from '../../src/dev/real-builder.js';
import { createLocalEngine, type LocalEngine } from '../../src/docker/index.js';
import type { BuildEvent } from '../../src/progress/index.js';
import { DepotError } from '../../src/session/index.js';
import {
  BUILDER_ENGINE,
  type BuilderProcess,
  docker,
  LAPTOP_ENGINE,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';

const skip = skipReason();

/** Waits for a predicate, polling (for state outside this process: engines, /proc). */
async function until(
  what: string,
  pred: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Pids whose command line contains `marker` (BuildKit's RUN processes are host processes here). */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function makeContext(): string {
  const dir = tempDir('dev-ctx');
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:latest\nCOPY . /app\nRUN cat /app/a.txt\n');
  writeFileSync(join(dir, 'a.txt'), `nonce ${randomUUID()}\n`);
  writeFileSync(join(dir, 'sub', 'big.bin'), randomBytes(300_000));
  writeFileSync(join(dir, '.dockerignore'), 'ignored.txt\n');
  writeFileSync(join(dir, 'ignored.txt'), 'not sent\n');
  return dir;
}

function devOptions(
  builder: BuilderProcess,
  token: string,
  contextDir: string,
  laptop: LocalEngine,
  extra: Partial<DevBuilderOptions> = {},
): DevBuilderOptions {
  return {
    url: builder.url,
    token,
    project: 'dev',
    contextDir,
    dockerfile: { path: join(contextDir, 'Dockerfile') },
    build: {
      tags: [],
      buildArgs: {},
      target: '',
      platform: '',
      noCache: false,
      pull: false,
      labels: {},
    },
    localEngine: laptop,
    isEmbedded: false,
    ...extra,
  };
}

async function collect(events: AsyncIterable<BuildEvent>): Promise<BuildEvent[]> {
  const out: BuildEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe('dev builder against a real builder', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  let laptop: LocalEngine;
  const devs: DevBuilder[] = [];
  const tags: string[] = [];

  before(async () => {
    // Sync state and the hash index live under XDG_CACHE_HOME: keep them private to this run.
    process.env.XDG_CACHE_HOME = tempDir('dev-cache');
    builder = await startBuilder();
    token = builder.token('dev');
    laptop = createLocalEngine({ host: LAPTOP_ENGINE });
  });
  after(async () => {
    for (const d of devs) await d.close();
    await builder?.stop();
    for (const t of tags) docker(LAPTOP_ENGINE, ['rmi', t]);
  });

  test('connects, syncs everything, then sends only the changed file; builds and loads', async () => {
    const ctx = makeContext();
    const tag = `depot-dev-test:${randomBytes(4).toString('hex')}`;
    tags.push(tag);
    const dev = createDevBuilder(
      devOptions(builder, token, ctx, laptop, {
        build: {
          tags: [tag],
          buildArgs: {},
          target: '',
          platform: '',
          noCache: false,
          pull: false,
          labels: {},
        },
      }),
    );
    devs.push(dev);
    const hello = await dev.connect();
    assert.match(hello.builderId, /^bld-/);
    assert.match(hello.platform, /^linux\//);
    assert.ok(hello.latencyMs >= 0);
    assert.ok((await dev.ping()) >= 0);

    const first = await dev.sync('all');
    const sizeOf = (p: string) => readFileSync(join(ctx, p)).length;
    const all = ['Dockerfile', 'a.txt', 'sub/big.bin', '.dockerignore'].reduce((n, p) => n + sizeOf(p), 0);
    assert.equal(first.bytesSent, all, 'the first sync sends every file but the ignored one');
    assert.equal(first.entries, 5, 'Dockerfile, .dockerignore, a.txt, sub, sub/big.bin');

    writeFileSync(join(ctx, 'a.txt'), `changed ${randomUUID()} and longer\n`);
    const second = await dev.sync(['a.txt']);
    assert.notEqual(second.snapshotId, first.snapshotId);
    assert.equal(second.bytesSent, sizeOf('a.txt'), 'only the changed file travels');

    const events = await collect(dev.build(second.snapshotId, randomUUID(), new AbortController().signal));
    const last = events.at(-1);
    assert.equal(last?.type, 'build/finished');
    assert.ok(last?.type === 'build/finished' && last.ok, JSON.stringify(last));
    const imageId = last.imageId;
    assert.ok(
      events.some((e) => e.type === 'log/appended' && e.data.includes('changed')),
      'the RUN step saw the synced content',
    );

    assert.equal(await laptop.hasImage(imageId), false);
    const loaded = await dev.load(imageId);
    assert.ok(loaded.bytes > 0);
    assert.ok(loaded.imageSize > 0);
    assert.equal(await laptop.hasImage(imageId), true);
    const inspect = docker(LAPTOP_ENGINE, ['image', 'inspect', '-f', '{{.Id}}', tag]);
    assert.equal(inspect.stdout.trim(), imageId);

    // Loading again only tags.
    assert.equal((await dev.load(imageId)).bytes, 0);
  });

  test('syncs only what the Dockerfile reads; an edit elsewhere changes nothing; more than it names syncs all', async () => {
    const ctx = tempDir('dev-scoped');
    mkdirSync(join(ctx, 'app'));
    mkdirSync(join(ctx, 'noise'));
    for (let i = 0; i < 300; i++) writeFileSync(join(ctx, 'noise', `n${i}.txt`), `${i}\n`);
    writeFileSync(join(ctx, 'app', 'a.txt'), 'a\n');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY app /app\nRUN cat /app/a.txt\n');
    const dev = createDevBuilder(devOptions(builder, token, ctx, laptop));
    devs.push(dev);
    await dev.connect();
    const first = await dev.sync('all');
    assert.equal(first.entries, 3, 'Dockerfile, app, app/a.txt');
    writeFileSync(join(ctx, 'noise', 'n7.txt'), 'edited\n');
    const second = await dev.sync(['noise/n7.txt']);
    assert.equal(second.snapshotId, first.snapshotId);
    assert.equal(second.bytesSent, 0);
    const nonce = randomUUID();
    writeFileSync(join(ctx, 'app', 'a.txt'), `changed app ${nonce}\n`);
    const third = await dev.sync(['app/a.txt']);
    assert.notEqual(third.snapshotId, first.snapshotId);
    const events = await collect(dev.build(third.snapshotId, randomUUID(), new AbortController().signal));
    const last = events.at(-1);
    assert.ok(last?.type === 'build/finished' && last.ok, JSON.stringify(last));
    assert.ok(events.some((e) => e.type === 'log/appended' && e.data.includes(`changed app ${nonce}`)));

    // A base image whose ONBUILD COPY reads a file the Dockerfile does not name.
    const baseTag = `depot-dev-onbuild:${randomBytes(4).toString('hex')}`;
    const baseCtx = tempDir('dev-onbuild-base');
    writeFileSync(join(baseCtx, 'Dockerfile'), 'FROM busybox:latest\nONBUILD COPY extra.txt /extra.txt\n');
    assert.equal(docker(BUILDER_ENGINE, ['build', '-q', '-t', baseTag, baseCtx]).code, 0);
    writeFileSync(join(ctx, 'extra.txt'), `from onbuild ${nonce}\n`);
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${baseTag}\nCOPY app /app\nRUN cat /extra.txt\n`);
    const fourth = await dev.sync(['Dockerfile', 'extra.txt']);
    const built = await collect(dev.build(fourth.snapshotId, randomUUID(), new AbortController().signal));
    const end = built.at(-1);
    docker(BUILDER_ENGINE, ['rmi', '-f', baseTag]);
    assert.ok(end?.type === 'build/finished' && end.ok, JSON.stringify(end));
    assert.ok(built.some((e) => e.type === 'log/appended' && e.data.includes(`from onbuild ${nonce}`)));
  });

  test('aborting a build stops the RUN step in the engine', async () => {
    const ctx = makeContext();
    const marker = `depot-dev-abort-${randomBytes(4).toString('hex')}`;
    const dev = createDevBuilder(
      devOptions(builder, token, ctx, laptop, {
        dockerfile: { content: Buffer.from(`FROM busybox:latest\nRUN sh -c 'sleep 30; echo ${marker}'\n`) },
      }),
    );
    devs.push(dev);
    await dev.connect();
    const { snapshotId } = await dev.sync('all');
    const ac = new AbortController();
    const events: BuildEvent[] = [];
    let abortedAt = 0;
    const iterate = (async () => {
      for await (const e of dev.build(snapshotId, randomUUID(), ac.signal)) events.push(e);
    })();
    await until('the sleep to run', () => processesWith(marker).length > 0, 30_000);
    abortedAt = Date.now();
    ac.abort();
    await iterate;
    const took = Date.now() - abortedAt;
    assert.ok(took < 5000, `the build call ended ${took} ms after the abort`);
    const last = events.at(-1);
    assert.equal(last?.type, 'build/finished');
    assert.ok(last?.type === 'build/finished' && !last.ok && last.errorCode === 'cancelled');
    await until('the sleep to stop', () => processesWith(marker).length === 0, 10_000);
  });

  test('the runner replaces the container and follows the newest one', async () => {
    const image = docker(LAPTOP_ENGINE, [
      'image',
      'inspect',
      '-f',
      '{{.Id}}',
      'busybox:latest',
    ]).stdout.trim();
    assert.match(image, /^sha256:/);
    const name = `depot-dev-test-${randomBytes(4).toString('hex')}`;
    const runner = createContainerRunner({
      engine: laptop,
      runArgs: `-e "GREETING=hello dev" -- sh -c 'echo "$GREETING"; echo oops >&2; exec sleep 300'`,
      name,
      stopTimeoutSec: 1,
    });
    try {
      const a = await runner.replace(image);
      const b = await runner.replace(image);
      assert.notEqual(a.id, b.id);
      assert.equal(b.name, name);
      const listed = docker(LAPTOP_ENGINE, [
        'ps',
        '-a',
        '--no-trunc',
        '--filter',
        'label=depot.dev=1',
        '--filter',
        `name=${name}`,
        '--format',
        '{{.ID}} {{.State}}',
      ]).stdout.trim();
      assert.equal(listed, `${b.id} running`);

      const lines: string[] = [];
      let exitCode: number | undefined;
      runner.follow(
        b.id,
        (l) => lines.push(...l),
        (code) => {
          exitCode = code;
        },
      );
      await until('the greeting', () => lines.includes('hello dev') && lines.includes('oops'));
      docker(LAPTOP_ENGINE, ['kill', b.id]);
      await until('the exit', () => exitCode !== undefined);
      assert.equal(exitCode, 137);
      await runner.close();
    } finally {
      docker(LAPTOP_ENGINE, ['rm', '-f', name]);
    }
  });

  test('the runner reports a container that exits at once, with its last lines', async () => {
    const image = docker(LAPTOP_ENGINE, [
      'image',
      'inspect',
      '-f',
      '{{.Id}}',
      'busybox:latest',
    ]).stdout.trim();
    const runner = createContainerRunner({ engine: LAPTOP_ENGINE, runArgs: `-- sh -c 'echo bye; exit 3'` });
    const ids: string[] = [];
    try {
      const c = await runner.replace(image);
      ids.push(c.id);
      assert.ok(c.name.length > 0, 'docker named it');
      const lines: string[] = [];
      const code = await new Promise<number>((resolve) =>
        runner.follow(c.id, (l) => lines.push(...l), resolve),
      );
      assert.equal(code, 3);
      assert.deepEqual(lines, ['bye']);
      // Replacing an exited container removes it.
      const next = await runner.replace(image);
      ids.push(next.id);
      assert.equal(docker(LAPTOP_ENGINE, ['inspect', c.id]).code, 1);
    } finally {
      for (const id of ids) docker(LAPTOP_ENGINE, ['rm', '-f', id]);
    }
  });

  test('with the embedded builder the image is local already: load only tags', async () => {
    const savedHost = process.env.DOCKER_HOST;
    const savedData = process.env.XDG_DATA_HOME;
    process.env.DOCKER_HOST = LAPTOP_ENGINE;
    process.env.XDG_DATA_HOME = tempDir('dev-data');
    const { startEmbeddedBuilder } = await import('../../src/cli/embedded.js');
    const embedded = await startEmbeddedBuilder();
    const tag = `depot-dev-embedded:${randomBytes(4).toString('hex')}`;
    tags.push(tag);
    try {
      const ctx = makeContext();
      const base = devOptions(builder, token, ctx, laptop);
      const dev = createDevBuilder({
        ...base,
        url: embedded.url,
        token: embedded.token,
        isEmbedded: true,
        build: { ...base.build, tags: [tag] },
      });
      devs.push(dev);
      await dev.connect();
      const { snapshotId } = await dev.sync('all');
      const events = await collect(dev.build(snapshotId, randomUUID(), new AbortController().signal));
      const last = events.at(-1);
      assert.ok(last?.type === 'build/finished' && last.ok, JSON.stringify(last));
      const loaded = await dev.load(last.imageId);
      assert.equal(loaded.bytes, 0);
      assert.equal(
        docker(LAPTOP_ENGINE, ['image', 'inspect', '-f', '{{.Id}}', tag]).stdout.trim(),
        last.imageId,
      );
      await dev.close();
    } finally {
      await embedded.close();
      process.env.DOCKER_HOST = savedHost;
      if (savedHost === undefined) delete process.env.DOCKER_HOST;
      process.env.XDG_DATA_HOME = savedData;
      if (savedData === undefined) delete process.env.XDG_DATA_HOME;
    }
  });

  test('a killed builder is reported unreachable; a restarted one resumes from the acked snapshot', async () => {
    const first = await startBuilder();
    const port = first.url.replace(/^tcp:\/\/.*:/, '');
    const t = first.token('dev');
    const ctx = makeContext();
    writeFileSync(join(ctx, 'x.txt'), 'x');
    const dev = createDevBuilder(devOptions(first, t, ctx, laptop));
    devs.push(dev);
    const hello = await dev.connect();
    await dev.sync('all');

    // A builder that stops answering (but keeps its connections) is down once the ping times out.
    const hung = createDevBuilder({ ...devOptions(first, t, ctx, laptop), pingTimeoutMs: 500 });
    devs.push(hung);
    await hung.connect();
    first.child.kill('SIGSTOP');
    await assert.rejects(
      hung.ping(),
      (e: unknown) => e instanceof DepotError && e.code === 'builder_unreachable',
    );

    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    await assert.rejects(
      dev.ping(),
      (e: unknown) => e instanceof DepotError && e.code === 'builder_unreachable',
    );
    await assert.rejects(
      dev.connect(),
      (e: unknown) => e instanceof DepotError && e.code === 'builder_unreachable',
    );

    const second = await startBuilder({ dataDir: first.dataDir, listen: `127.0.0.1:${port}` });
    try {
      assert.equal(second.url, first.url);
      const again = await dev.connect();
      assert.equal(again.builderId, hello.builderId);
      writeFileSync(join(ctx, 'x.txt'), 'x changed');
      const synced = await dev.sync(['x.txt']);
      assert.equal(synced.bytesSent, 'x changed'.length);

      // A new process (nothing in memory) resumes from the snapshot saved on disk.
      const fresh = createDevBuilder(devOptions(second, t, ctx, laptop));
      devs.push(fresh);
      await fresh.connect();
      writeFileSync(join(ctx, 'sub', 'y.txt'), 'yy');
      const resumed = await fresh.sync(['sub/y.txt']);
      assert.equal(resumed.bytesSent, 2);
    } finally {
      await second.stop();
    }
  });
});
