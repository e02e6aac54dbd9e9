/**
 * A build syncs only what its Dockerfile reads: on a context of thousands of files, a Dockerfile
 * with a few COPY sources (an ARG, a glob, a symlinked directory on the way, a .dockerignore rule)
 * syncs a handful of entries, and the image is the very image `docker build` made on the same
 * engine (same id: every step hit the cache docker's build filled, so the cache keys are the same).
 * When the engine asks for more than the Dockerfile names (a base image's ONBUILD COPY), the build
 * syncs the whole context and succeeds.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  BUILDER_ENGINE,
  DEPOT_BIN,
  DOCKER,
  docker,
  isolatedEnv,
  run,
  skipReason,
  tempDir,
} from './harness.js';

const skip = skipReason();
const tag = (name: string) => `scoped-${name}-${process.pid}`;
const made: string[] = [];

async function dockerBuild(ctx: string, t: string): Promise<string> {
  const r = await run(DOCKER, ['build', '-q', '-t', t, ctx], {
    DOCKER_HOST: BUILDER_ENGINE,
    DOCKER_BUILDKIT: '1',
  });
  assert.equal(r.code, 0, r.stderr);
  made.push(t);
  return r.stdout.trim();
}

async function depotBuild(ctx: string, t: string, env: Record<string, string> = {}) {
  const r = await run(process.execPath, [DEPOT_BIN, 'build', '-t', t, '--progress', 'json', ctx], {
    ...isolatedEnv(),
    DOCKER_HOST: BUILDER_ENGINE,
    ...env,
  });
  made.push(t);
  const events = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const synced = events.filter((e) => e.type === 'sync/started').map((e) => e.entries as number);
  const finished = events.find((e) => e.type === 'build/finished');
  return { ...r, events, synced, imageId: (finished?.imageId as string) ?? '' };
}

function imageId(t: string): Promise<string> {
  return run(DOCKER, ['image', 'inspect', '-f', '{{.Id}}', t], { DOCKER_HOST: BUILDER_ENGINE }).then((r) => {
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  });
}

describe('a build syncs only what its Dockerfile reads', { skip }, () => {
  after(async () => {
    if (made.length) await docker(BUILDER_ENGINE, ['rmi', '-f', ...made]);
  });

  test('a few COPY sources on a 3,000-file context: a handful of entries synced, docker build’s image id', async () => {
    const ctx = tempDir('scoped');
    for (let d = 0; d < 30; d++) {
      mkdirSync(join(ctx, 'noise', `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) writeFileSync(join(ctx, 'noise', `d${d}`, `f${f}.txt`), `${d}/${f}\n`);
    }
    mkdirSync(join(ctx, 'pkg'));
    writeFileSync(join(ctx, 'pkg', 'package.json'), '{"name":"app"}\n');
    writeFileSync(join(ctx, 'pkg', 'other.json'), '{}\n');
    mkdirSync(join(ctx, 'app', 'src', 'lib'), { recursive: true });
    writeFileSync(join(ctx, 'app', 'src', 'a.js'), 'a\n');
    writeFileSync(join(ctx, 'app', 'src', 'lib', 'b.js'), 'b\n');
    writeFileSync(join(ctx, 'app', 'src', 'scratch.tmp'), 'ignored\n');
    writeFileSync(join(ctx, 'app', 'README'), 'not read\n');
    mkdirSync(join(ctx, 'conf'));
    for (const n of ['a.json', 'b.json', 'c.yaml']) writeFileSync(join(ctx, 'conf', n), `${n}\n`);
    symlinkSync('app/src', join(ctx, 'linkdir'));
    writeFileSync(join(ctx, 'late.txt'), 'one\n');
    writeFileSync(join(ctx, '.dockerignore'), 'app/src/*.tmp\n');
    writeFileSync(
      join(ctx, 'Dockerfile'),
      [
        'FROM busybox',
        'ARG SRC=app/src',
        'COPY pkg/package.json /app/',
        'RUN cat /app/package.json > /app/built.txt',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text
        'COPY ${SRC} /app/src',
        'COPY conf/*.json /app/conf/',
        'COPY linkdir/a.js /app/via-link.js',
        'COPY late.txt /app/late.txt',
        '',
      ].join('\n'),
    );
    const ref = await dockerBuild(ctx, tag('ref'));
    const r = await depotBuild(ctx, tag('depot'));
    assert.equal(r.code, 0, r.stderr);
    // Dockerfile, .dockerignore, pkg{,/package.json}, app, app/src{,/a.js,/lib,/lib/b.js},
    // conf{,/a.json,/b.json}, linkdir, late.txt: 14 of 3,000+.
    assert.deepEqual(r.synced, [14], JSON.stringify(r.synced));
    assert.equal(r.imageId, ref, 'depot build and docker build made different images');
    assert.equal(await imageId(tag('depot')), ref);

    // The late file changes: still the same image as docker's.
    writeFileSync(join(ctx, 'late.txt'), 'two\n');
    const ref2 = await dockerBuild(ctx, tag('ref2'));
    assert.notEqual(ref2, ref);
    const r2 = await depotBuild(ctx, tag('depot2'));
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(r2.imageId, ref2);

    // A file the Dockerfile does not read changes: nothing to sync, the same image.
    writeFileSync(join(ctx, 'noise', 'd3', 'f7.txt'), 'changed\n');
    writeFileSync(join(ctx, 'app', 'README'), 'changed\n');
    const r3 = await depotBuild(ctx, tag('depot3'));
    assert.equal(r3.code, 0, r3.stderr);
    assert.equal(r3.imageId, ref2);
    const acked = r3.events.find((e) => e.type === 'sync/acked');
    assert.equal(acked?.blobsSent, 0);

    // DEPOT_CONTEXT=full syncs everything, to the same image.
    const r4 = await depotBuild(ctx, tag('depot4'), { DEPOT_CONTEXT: 'full' });
    assert.equal(r4.code, 0, r4.stderr);
    assert.ok((r4.synced[0] ?? 0) > 3000, JSON.stringify(r4.synced));
    assert.equal(r4.imageId, ref2);
  });

  test('a base image’s ONBUILD COPY reads more than the Dockerfile names: the whole context is synced, the build succeeds', async () => {
    const baseCtx = tempDir('scoped-base');
    writeFileSync(join(baseCtx, 'Dockerfile'), 'FROM busybox\nONBUILD COPY extra.txt /extra.txt\n');
    await dockerBuild(baseCtx, tag('onbuild-base'));
    const ctx = tempDir('scoped-onbuild');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${tag('onbuild-base')}\nCOPY a.txt /a.txt\n`);
    writeFileSync(join(ctx, 'a.txt'), 'a\n');
    writeFileSync(join(ctx, 'extra.txt'), 'from the onbuild trigger\n');
    const r = await depotBuild(ctx, tag('onbuild'));
    assert.equal(r.code, 0, r.stderr);
    // First the Dockerfile's own paths, then the whole context.
    assert.deepEqual(r.synced, [2, 3], JSON.stringify(r.synced));
    const note = r.events.find((e) => e.type === 'message/logged' && /whole context/.test(String(e.text)));
    assert.ok(note, 'no note of the whole-context sync');
    const cat = await run(DOCKER, ['run', '--rm', tag('onbuild'), 'cat', '/extra.txt', '/a.txt'], {
      DOCKER_HOST: BUILDER_ENGINE,
    });
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'from the onbuild trigger\na\n');
  });
});
