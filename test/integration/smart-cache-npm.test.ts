/**
 * The smart cache with the real `npm ci`: a Node project with 80 locked packages (express, lodash,
 * chalk, commander), installed from an offline npm cache baked into a local base image with this
 * machine's node and npm. Both orders give the same filesystem entry by entry; the app runs; a
 * source edit reuses the install where the original order runs it again, and the reuse is marked
 * in plain output, in the json events and counted in --metadata-file.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createDevBuilder } from '../../src/dev/real-builder.js';
import { createLocalEngine } from '../../src/docker/index.js';
import type { BuildEvent } from '../../src/progress/index.js';
import {
  BUILDER_ENGINE,
  type BuilderProcess,
  buildOn,
  DEPOT_BIN,
  docker,
  imageFilesystem,
  isolatedEnv,
  readMetadata,
  run,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';
import { lockedPackages, nodeBaseImage, nodeRuns, npmApp } from './node-fixture.js';

const skip = skipReason();

describe('the smart cache with the real npm ci', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  let base: string;

  before(async () => {
    base = nodeBaseImage(BUILDER_ENGINE);
    builder = await startBuilder();
    token = builder.token('smart-npm');
  });
  after(async () => {
    await builder?.stop();
  });

  const build = async (ctx: string, progress: 'plain' | 'json', extra: string[]) => {
    const r = await run(
      process.execPath,
      [DEPOT_BIN, ...buildOn(builder.url, token, 'smart-npm', progress), ...extra, ctx],
      { ...isolatedEnv(), DOCKER_HOST: BUILDER_ENGINE },
    );
    assert.equal(r.code, 0, r.stderr);
    return r;
  };

  test('same filesystem as docker order; a source edit reuses npm ci, marked and counted', async () => {
    assert.ok(lockedPackages() >= 50, 'a real dependency tree');
    const ctx = npmApp(base);
    // A project name no earlier run used: the first installs are not answered from the cache.
    const pkg = join(ctx, 'package.json');
    const text = readFileSync(pkg, 'utf8');
    writeFileSync(
      pkg,
      text.replace('"depot-npm-fixture"', `"depot-npm-fixture-${process.pid}-${Date.now()}"`),
    );

    // --smart-cache=verify builds the smart plan, the original order, and the original order again
    // without the cache (npm itself is not reproducible: every run rewrites the index entries of
    // its cache with the time of use); its verdict is checked here against an independent export.
    const verified = await build(ctx, 'json', ['--smart-cache=verify']);
    const ids = verified.stdout
      .split('\n')
      .filter((l) => l.startsWith('{"type":"build/finished"'))
      .map((l) => (JSON.parse(l) as { imageId: string }).imageId);
    assert.equal(ids.length, 3, verified.stdout);
    const [smartId, plainId, againId] = ids as [string, string, string];
    assert.match(
      verified.stderr,
      /smart cache verify: the same filesystem: \d+ entries compared, none changed by the smart plan/,
    );
    const a = await imageFilesystem(BUILDER_ENGINE, plainId);
    const a2 = await imageFilesystem(BUILDER_ENGINE, againId);
    const b = await imageFilesystem(BUILDER_ENGINE, smartId);
    const noise = new Set([...a.keys()].filter((k) => a.get(k) !== a2.get(k)));
    assert.deepEqual(
      [...noise].filter((k) => !k.startsWith('npm-cache/_cacache/index-v5/')),
      [],
      "only npm's cache index differs between two runs of the same install",
    );
    assert.ok(noise.size > 0, 'the noise is real: verify had something to tell apart');
    assert.ok(a.has('app/node_modules/express/package.json'), 'npm ci installed express');
    assert.ok(
      [...a.keys()].filter((k) => /^app\/node_modules\/[^/]+\/package\.json$/.test(k)).length >= 50,
      'the whole tree is installed',
    );
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), 'the same entries');
    const differ = [...a.keys()].filter((k) => a.get(k) !== b.get(k) && !noise.has(k));
    assert.deepEqual(differ, [], "every entry the same (content, mode, owner, link) outside npm's own noise");
    assert.equal(
      nodeRuns(
        BUILDER_ENGINE,
        smartId,
        "process.chdir('/app');require('./src/index.js');console.log('ok')",
      ).trim(),
      'ok',
    );

    // One source file edited: the smart plan reuses the install and says so.
    appendFileSync(join(ctx, 'src', 'index.js'), `// edit ${Date.now()}\n`);
    const meta = join(tempDir('smart-meta'), 'meta.json');
    const edited = await build(ctx, 'plain', ['--smart-cache', '--metadata-file', meta]);
    assert.match(edited.stderr, /#\d+ \[\d+\/\d+\] RUN npm ci --omit=dev\n#\d+ CACHED/);
    assert.match(
      edited.stderr,
      /#\d+ REUSED: npm ci reused by the smart cache: only files outside package\.json, package-lock\.json changed/,
    );
    assert.match(edited.stderr, /steps: \d+ total, \d+ cached \(1 by the smart cache\)/);
    const m = readMetadata(meta);
    assert.equal(m['depot.smart-cache.rewritten'], 1);
    assert.equal(m['depot.smart-cache.reused'], 1);

    // The original order runs the install again for the same edit.
    const again = await build(ctx, 'plain', []);
    assert.doesNotMatch(again.stderr, /RUN npm ci --omit=dev\n#\d+ CACHED/);
    assert.doesNotMatch(again.stderr, /REUSED/);

    // Nothing changed: every step is cached in both orders, and nothing is credited to the smart cache.
    const json = await build(ctx, 'json', ['--smart-cache']);
    assert.doesNotMatch(json.stdout, /"type":"step\/reused"/);
    appendFileSync(join(ctx, 'src', 'index.js'), `// edit ${Date.now()}\n`);
    const json2 = await build(ctx, 'json', ['--smart-cache']);
    assert.match(json2.stdout, /"type":"step\/reused".*"text":"npm ci reused by the smart cache/);
  });

  test('--smart-cache=verify catches an install that reads more than its manifests', async () => {
    // An `npm` that also reads the sources (as an install script could, undeclared): the plan is
    // wrong for it, and verify says so with the entries that differ.
    const liar = tempDir('liar-npm');
    writeFileSync(
      join(liar, 'npm'),
      '#!/bin/sh\nset -e\nmkdir -p node_modules\ncat package.json package-lock.json > node_modules/.manifests\nls src > node_modules/.sources 2>/dev/null || true\n',
      { mode: 0o755 },
    );
    writeFileSync(join(liar, 'Dockerfile'), 'FROM busybox\nCOPY npm /usr/local/bin/npm\n');
    const liarTag = `depot-it/liar-npm:${process.pid}`;
    assert.equal(docker(BUILDER_ENGINE, ['build', '-q', '-t', liarTag, liar]).code, 0);
    try {
      const lctx = npmApp(liarTag);
      const bad = await run(
        process.execPath,
        [DEPOT_BIN, ...buildOn(builder.url, token, 'smart-npm', 'plain'), '--smart-cache=verify', lctx],
        { ...isolatedEnv(), DOCKER_HOST: BUILDER_ENGINE },
      );
      assert.equal(bad.code, 1, bad.stderr);
      const last = bad.stderr.trimEnd().split('\n').slice(-2).join('\n');
      assert.match(
        last,
        /depot: the smart plan changes 1 of \d+ entries: app\/node_modules\/\.sources \(original: file 644/,
      );
      assert.match(last, /build without --smart-cache/);
    } finally {
      docker(BUILDER_ENGINE, ['rmi', '-f', liarTag]);
    }
  });

  test('depot dev plans each build with the smart cache: a source save reuses npm ci, marked for the layer graph', async () => {
    const ctx = npmApp(base);
    const pkg = join(ctx, 'package.json');
    writeFileSync(
      pkg,
      readFileSync(pkg, 'utf8').replace(
        '"depot-npm-fixture"',
        `"depot-npm-dev-${process.pid}-${Date.now()}"`,
      ),
    );
    process.env.XDG_CACHE_HOME = tempDir('smart-dev-cache');
    const dev = createDevBuilder({
      url: builder.url,
      token,
      project: 'smart-npm',
      contextDir: ctx,
      dockerfile: { path: join(ctx, 'Dockerfile') },
      build: { tags: [], buildArgs: {}, target: '', platform: '', noCache: false, pull: false, labels: {} },
      localEngine: createLocalEngine({ host: BUILDER_ENGINE }),
      isEmbedded: false,
      smartCache: true,
    });
    try {
      await dev.connect();
      const events = async (snapshotId: string) => {
        const out: BuildEvent[] = [];
        for await (const e of dev.build(snapshotId, randomUUID(), new AbortController().signal)) out.push(e);
        const fin = out.find((e) => e.type === 'build/finished');
        assert.ok(fin?.type === 'build/finished' && fin.ok, JSON.stringify(fin));
        return out;
      };
      const first = await events((await dev.sync('all')).snapshotId);
      assert.ok(!first.some((e) => e.type === 'step/reused'), 'the first build installs');
      assert.ok(
        first.some(
          (e) =>
            e.type === 'vertex/updated' && /COPY package\.json package-lock\.json \.\//.test(e.vertex.name),
        ),
        'the smart plan was built',
      );
      appendFileSync(join(ctx, 'src', 'index.js'), `// saved ${Date.now()}\n`);
      const second = await events((await dev.sync(['src/index.js'])).snapshotId);
      const reused = second.find((e) => e.type === 'step/reused');
      assert.ok(reused, 'the install is reused after a source save');
      const install = second.findLast(
        (e) =>
          e.type === 'vertex/updated' && reused.type === 'step/reused' && e.vertex.digest === reused.vertex,
      );
      assert.ok(
        install?.type === 'vertex/updated' && /RUN npm ci/.test(install.vertex.name) && install.vertex.cached,
      );
    } finally {
      await dev.close();
    }
  });
});
