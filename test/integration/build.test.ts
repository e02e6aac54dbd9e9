import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type BuilderProcess,
  buildOn,
  depot,
  docker,
  LAPTOP_ENGINE,
  ROOT,
  readMetadata,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';

const skip = skipReason();

/** Names of the Dockerfile-instruction vertices ("[stage n/m] ...") and whether each was cached. */
function stepLines(plain: string): { name: string; cached: boolean }[] {
  const names = new Map<string, string>();
  const cached = new Set<string>();
  for (const line of plain.split('\n')) {
    const m = /^#(\d+) (\[[^\]]*\d+\/\d+\] .*)$/.exec(line);
    if (m) names.set(m[1]!, m[2]!);
    const c = /^#(\d+) CACHED$/.exec(line);
    if (c) cached.add(c[1]!);
  }
  return [...names].map(([n, name]) => ({ name, cached: cached.has(n) }));
}

describe('depot build through a separately started depot-builder', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  const project = `proj-${process.pid}`;
  const ctx = tempDir('ctx');
  const tag = `depot-it/app:${process.pid}`;

  before(async () => {
    cpSync(join(ROOT, 'test', 'fixtures', 'app'), ctx, { recursive: true });
    // A per-run file so this run's first build is never a cache hit from an earlier run.
    writeFileSync(join(ctx, 'src', 'lib.txt'), `library v1 ${process.pid} ${Date.now()}\n`);
    builder = await startBuilder();
    token = builder.token(project);
  });
  after(async () => {
    await builder?.stop();
  });

  const build = (meta: string, extra: string[] = []) =>
    depot([
      ...buildOn(builder.url, token, project),
      '--metadata-file',
      meta,
      '-t',
      tag,
      '--load',
      ...extra,
      ctx,
    ]);

  test('first build loads into the local engine and runs there', async () => {
    const meta = join(ctx, '..', `meta1-${process.pid}.json`);
    const r = await build(meta, ['--build-arg', 'FLAVOR=spicy', '--target', 'final']);
    assert.equal(r.code, 0, r.stderr);
    const run = docker(LAPTOP_ENGINE, ['run', '--rm', tag]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /library v1/);
    assert.match(run.stdout, /flavor=spicy/);
    assert.match(run.stdout, /late v1/);
    const m = readMetadata(meta);
    assert.match(String(m['containerimage.config.digest']), /^sha256:[0-9a-f]{64}$/);
    assert.ok(Number(m['depot.sync.bytes']) > 0);
    assert.ok(Number(m['depot.load.bytes']) > 0);
    // The ignored file never left the client.
    const ls = await depot(['context', 'ls', '--json', ctx]);
    assert.ok(!ls.stdout.includes('ignored.txt'));
  });

  test('an identical second build: every step cached, under 1 KiB uploaded', async () => {
    const meta = join(ctx, '..', `meta2-${process.pid}.json`);
    const r = await build(meta, ['--build-arg', 'FLAVOR=spicy', '--target', 'final']);
    assert.equal(r.code, 0, r.stderr);
    const steps = stepLines(r.stderr).filter((s) => !/FROM /.test(s.name));
    assert.ok(steps.length >= 5, r.stderr);
    for (const s of steps) assert.ok(s.cached, `not cached: ${s.name}\n${r.stderr}`);
    const m = readMetadata(meta);
    assert.ok(Number(m['depot.sync.bytes']) < 1024, `sync bytes ${m['depot.sync.bytes']}`);
    assert.ok(Number(m['depot.steps.cached']) >= steps.length, JSON.stringify(m));
  });

  test('one late-copied file changed: earlier steps cached, later rebuilt, ~that file uploaded', async () => {
    const content = `late v2 ${'x'.repeat(3000)}\n`;
    writeFileSync(join(ctx, 'src', 'late.txt'), content);
    const meta = join(ctx, '..', `meta3-${process.pid}.json`);
    const r = await build(meta, ['--build-arg', 'FLAVOR=spicy', '--target', 'final']);
    assert.equal(r.code, 0, r.stderr);
    const steps = stepLines(r.stderr);
    const find = (re: RegExp) => steps.find((s) => re.test(s.name));
    assert.equal(find(/COPY src\/lib\.txt/)?.cached, true, r.stderr);
    assert.equal(find(/RUN cat lib\.txt/)?.cached, true, r.stderr);
    assert.equal(find(/COPY src\/late\.txt/)?.cached, false, r.stderr);
    assert.equal(find(/RUN cat \/built\.txt/)?.cached, false, r.stderr);
    const m = readMetadata(meta);
    const sent = Number(m['depot.sync.bytes']);
    assert.ok(sent >= content.length && sent < content.length + 1024, `sync bytes ${sent}`);
    const run = docker(LAPTOP_ENGINE, ['run', '--rm', tag]);
    assert.match(run.stdout, /late v2/);
  });

  test('loading a build that changed only its last layer moves about that layer', async () => {
    const meta = join(ctx, '..', `meta4-${process.pid}.json`);
    writeFileSync(join(ctx, 'src', 'late.txt'), 'late v3\n');
    const r = await build(meta, ['--build-arg', 'FLAVOR=spicy', '--target', 'final']);
    assert.equal(r.code, 0, r.stderr);
    const loaded = Number(readMetadata(meta)['depot.load.bytes']);
    // The final image is busybox (~2 MB) + one tiny layer: only the tiny layer and the metadata travel.
    assert.ok(loaded > 0 && loaded < 64 * 1024, `loaded ${loaded} bytes`);
    const m = /loaded .*?(\d[\d.]*\s?[kMG]?B)/.exec(r.stderr);
    assert.ok(m, r.stderr);
  });

  test('--target picks a stage', async () => {
    const meta = join(ctx, '..', `meta5-${process.pid}.json`);
    const r = await build(meta, ['--target', 'debug']);
    assert.equal(r.code, 0, r.stderr);
    const run = docker(LAPTOP_ENGINE, ['run', '--rm', tag]);
    assert.equal(run.stdout.trim(), 'flavor=plain');
  });

  test('bad input: one clear line and a non-zero exit', async () => {
    const base = ['build', '--builder', builder.url, '--progress', 'plain'];
    const noDockerfile = tempDir('nodf');
    let r = await depot([...base, '--token', token, noDockerfile]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no Dockerfile/);

    const bad = tempDir('bad');
    writeFileSync(join(bad, 'Dockerfile'), 'FROM busybox\nRUN echo ok\nNOPE this is wrong\n');
    r = await depot([...base, '--token', token, bad]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.trim().split('\n').at(-1)!, /line 3/i);

    r = await depot([...base, '--token', token, '--target', 'nosuchstage', ctx]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.trim().split('\n').at(-1)!, /nosuchstage/);

    r = await depot([
      'build',
      '--builder',
      'tcp://127.0.0.1:1',
      '--token',
      token,
      '--progress',
      'plain',
      ctx,
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /cannot reach builder/);

    r = await depot([...base, '--token', 'dpt_0000000000000000_wrong', ctx]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /invalid or missing token/);

    r = await depot([...base, '--token', token, '--project', 'someone-else', ctx]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /permission denied/);
    for (const line of [r.stderr.trim().split('\n').at(-1)!]) assert.ok(line.startsWith('depot: '), line);
  });

  test('Dockerfile from stdin and from outside the context', async () => {
    const outside = join(tempDir('df'), 'Custom.Dockerfile');
    writeFileSync(outside, 'FROM busybox\nCOPY src/lib.txt /lib.txt\nCMD ["cat", "/lib.txt"]\n');
    const t2 = `${tag}-outside`;
    let r = await depot([
      'build',
      '--builder',
      builder.url,
      '--token',
      token,
      '--progress',
      'plain',
      '-f',
      outside,
      '-t',
      t2,
      '--load',
      ctx,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(docker(LAPTOP_ENGINE, ['run', '--rm', t2]).stdout, /library v1/);
    const t3 = `${tag}-stdin`;
    r = await depot(
      [
        'build',
        '--builder',
        builder.url,
        '--token',
        token,
        '--progress',
        'plain',
        '-f',
        '-',
        '-t',
        t3,
        '--load',
        ctx,
      ],
      {},
      'FROM busybox\nCOPY src/late.txt /late.txt\nCMD ["cat", "/late.txt"]\n',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(docker(LAPTOP_ENGINE, ['run', '--rm', t3]).stdout, /late v3/);
  });
});
