import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { DevBuilder } from '../../src/dev/ports.js';
import { createDevBuilder } from '../../src/dev/real-builder.js';
import { createLocalEngine } from '../../src/docker/index.js';
import type { BuildEvent } from '../../src/progress/index.js';
import {
  type BuilderProcess,
  buildOn,
  depot,
  docker,
  LAPTOP_ENGINE,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';

const skip = skipReason();

/**
 * A unix socket in front of the laptop engine that forwards every byte both ways and notes each
 * request line the client sends: which Engine API calls a load makes, against the real dockerd.
 */
async function recordingProxy(): Promise<{ host: string; requests: string[]; close(): Promise<void> }> {
  const target = LAPTOP_ENGINE.replace(/^unix:\/\//, '');
  const path = join(tempDir('engine-proxy'), 'docker.sock');
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const engine = net.connect(target);
    for (const s of [client, engine]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        engine.destroy();
      });
    }
    client.on('data', (d: Buffer) => {
      for (const m of d
        .toString('latin1')
        .matchAll(/(?:^|\r\n)(GET|POST|HEAD|PUT|DELETE) (\/\S*) HTTP\/1\.[01]\r\n/g))
        requests.push(`${m[1]} ${m[2]!.replace(/^\/v[0-9.]+\//, '/')}`);
    });
    client.pipe(engine).pipe(client);
  });
  await new Promise<void>((r) => server.listen(path, r));
  return {
    host: `unix://${path}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const listsImages = (reqs: string[]) => reqs.filter((r) => /^GET \/images\/json\b/.test(r));

function laptopImageId(ref: string): string {
  const r = docker(LAPTOP_ENGINE, ['image', 'inspect', '-f', '{{.Id}}', ref]);
  return r.code === 0 ? r.stdout.trim() : '';
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('load into the local engine (real dockerd)', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  const project = 'load';
  const tags: string[] = [];
  const devs: DevBuilder[] = [];

  before(async () => {
    process.env.XDG_CACHE_HOME = tempDir('load-cache');
    builder = await startBuilder();
    token = builder.token(project);
  });
  after(async () => {
    for (const d of devs) await d.close();
    await builder?.stop();
    for (const t of tags) docker(LAPTOP_ENGINE, ['rmi', t]);
  });

  test('depot build --load of a tag it built before inspects that image and lists none; only the new layer travels', async () => {
    const ctx = tempDir('load-ctx');
    const big = randomBytes(400_000);
    writeFileSync(join(ctx, 'big.bin'), big);
    writeFileSync(join(ctx, 'a.txt'), `one ${randomUUID()}\n`);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY big.bin /big.bin\nCOPY a.txt /a.txt\n');
    const tag = `depot-load-test:${randomBytes(4).toString('hex')}`;
    tags.push(tag);
    const proxy = await recordingProxy();
    try {
      const build = async () => {
        const r = await depot([...buildOn(builder.url, token, project, 'json'), '-t', tag, '--load', ctx], {
          DOCKER_HOST: proxy.host,
        });
        assert.equal(r.code, 0, r.stderr);
        const events = r.stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as BuildEvent);
        const built = events.find((e) => e.type === 'build/finished');
        const loaded = events.find((e) => e.type === 'load/finished');
        assert.ok(built?.type === 'build/finished' && built.ok);
        assert.ok(loaded?.type === 'load/finished');
        return { imageId: built.imageId, loaded };
      };
      const first = await build();
      assert.equal(laptopImageId(tag), first.imageId);
      assert.equal(first.loaded.layersSent, 2, 'the base is in the laptop engine; both COPY layers are new');

      writeFileSync(join(ctx, 'a.txt'), `two ${randomUUID()}\n`);
      proxy.requests.length = 0;
      const second = await build();
      assert.notEqual(second.imageId, first.imageId);
      assert.equal(laptopImageId(tag), second.imageId, 'the laptop holds exactly the built image');
      assert.equal(second.loaded.layersTotal, 3);
      assert.equal(second.loaded.layersSent, 1, 'only the edited COPY layer');
      assert.ok(
        second.loaded.bytes > 0 && second.loaded.bytes < big.length,
        `sent ${second.loaded.bytes} bytes, less than the unchanged layer's ${big.length}`,
      );
      assert.deepEqual(listsImages(proxy.requests), [], proxy.requests.join('\n'));
      assert.ok(
        proxy.requests.includes(`GET /images/${encodeURI(tag)}/json`),
        `the tag's image was inspected:\n${proxy.requests.join('\n')}`,
      );
    } finally {
      await proxy.close();
    }
  });

  test('depot dev loads: later loads check the image loaded before, and an image removed meanwhile is not trusted', async () => {
    const ctx = tempDir('load-dev-ctx');
    const big = randomBytes(300_000);
    writeFileSync(join(ctx, 'big.bin'), big);
    writeFileSync(join(ctx, 'a.txt'), `one ${randomUUID()}\n`);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY big.bin /big.bin\nCOPY a.txt /a.txt\n');
    const proxy = await recordingProxy();
    try {
      const dev = createDevBuilder({
        url: builder.url,
        token,
        project,
        contextDir: ctx,
        dockerfile: { path: join(ctx, 'Dockerfile') },
        // No tag: the only hint a later load has is the image loaded before.
        build: { tags: [], buildArgs: {}, target: '', platform: '', noCache: false, pull: false, labels: {} },
        localEngine: createLocalEngine({ host: proxy.host }),
        isEmbedded: false,
      });
      devs.push(dev);
      await dev.connect();
      const buildAndLoad = async (text: string, sync: 'all' | string[]) => {
        writeFileSync(join(ctx, 'a.txt'), text);
        const s = await dev.sync(sync);
        const events = await collect(dev.build(s.snapshotId, randomUUID(), new AbortController().signal));
        const last = events.at(-1);
        assert.ok(last?.type === 'build/finished' && last.ok, JSON.stringify(last));
        proxy.requests.length = 0;
        const loaded = await dev.load(last.imageId);
        assert.equal(laptopImageId(last.imageId), last.imageId, 'the laptop holds exactly the built image');
        return { imageId: last.imageId, loaded, requests: [...proxy.requests] };
      };

      const first = await buildAndLoad(`one ${randomUUID()}\n`, 'all');
      assert.ok(first.loaded.bytes > big.length, 'both new layers, the big one included');

      const second = await buildAndLoad(`two ${randomUUID()}\n`, ['a.txt']);
      assert.ok(second.loaded.bytes < big.length, `sent ${second.loaded.bytes}: the big layer stayed home`);
      assert.deepEqual(listsImages(second.requests), [], second.requests.join('\n'));
      assert.ok(second.requests.includes(`GET /images/${first.imageId}/json`), second.requests.join('\n'));

      // The images holding the big layer leave the laptop engine: a load must not count on them.
      for (const id of [first.imageId, second.imageId])
        assert.equal(docker(LAPTOP_ENGINE, ['rmi', id]).code, 0);
      const third = await buildAndLoad(`three ${randomUUID()}\n`, ['a.txt']);
      assert.ok(third.loaded.bytes > big.length, `sent ${third.loaded.bytes}: the big layer went again`);
      docker(LAPTOP_ENGINE, ['rmi', third.imageId]);
    } finally {
      await proxy.close();
    }
  });
});
