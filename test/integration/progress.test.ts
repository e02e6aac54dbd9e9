import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type BuildEvent, parseEventLines } from '../../src/progress/index.js';
import {
  type BuilderProcess,
  depot,
  docker,
  LAPTOP_ENGINE,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';

const skip = skipReason();

type Of<T extends BuildEvent['type']> = Extract<BuildEvent, { type: T }>;
const ofType = <T extends BuildEvent['type']>(events: BuildEvent[], type: T): Of<T>[] =>
  events.filter((e): e is Of<T> => e.type === type);

function assertMonotone(name: string, values: number[]): void {
  for (let i = 1; i < values.length; i++)
    assert.ok(values[i]! >= values[i - 1]!, `${name} went back: ${values.join(', ')}`);
}

describe('progress of long work: sync and load', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  const project = `progress-${process.pid}`;

  before(async () => {
    builder = await startBuilder();
    token = builder.token(project);
  });
  after(async () => {
    await builder?.stop();
  });

  const build = (ctx: string, args: string[], env: Record<string, string> = {}) =>
    depot(['build', '--builder', builder.url, '--token', token, '--project', project, ...args, ctx], env);

  test('a 40 MB first sync emits rate-limited sync/progress events ending at the synced totals', async () => {
    // 2500 files of 16 kB, each distinct, plus 100 copies of one file (identical contents go once).
    const ctx = tempDir('progress-big');
    mkdirSync(join(ctx, 'data'));
    for (let i = 0; i < 2500; i++) writeFileSync(join(ctx, 'data', `f${i}.bin`), randomBytes(16_000));
    const same = randomBytes(1000);
    for (let i = 0; i < 100; i++) writeFileSync(join(ctx, 'data', `same${i}.bin`), same);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY Dockerfile /Dockerfile\n');
    // The whole context, though the Dockerfile reads one file: the sync is what is measured here.
    const r = await build(ctx, ['--progress', 'json'], { DEPOT_CONTEXT: 'full' });
    assert.equal(r.code, 0, r.stderr);
    const events = parseEventLines(r.stdout);
    const progress = ofType(events, 'sync/progress');
    const acked = ofType(events, 'sync/acked')[0];
    assert.ok(acked, 'the sync was acked');

    // Hashing: every file of this fresh context was hashed; the last report says so.
    const hashing = progress.filter((e) => e.phase === 'hashing');
    assert.ok(hashing.length >= 1, 'hashing was reported');
    const lastHash = hashing[hashing.length - 1]!;
    assert.equal(lastHash.files, 2601);
    assert.equal(lastHash.filesTotal, 2601);
    assert.equal(lastHash.bytes, lastHash.bytesTotal);
    assert.ok(lastHash.bytes > 40_100_000, `${lastHash.bytes} bytes hashed`);

    // Upload: monotone, rate-limited, and the last report equals what the ack says was sent.
    const uploading = progress.filter((e) => e.phase === 'uploading');
    assert.ok(uploading.length >= 2, `several upload reports for 40 MB: ${uploading.length}`);
    assertMonotone(
      'files',
      uploading.map((e) => e.files),
    );
    assertMonotone(
      'bytes',
      uploading.map((e) => e.bytes),
    );
    for (let i = 1; i < uploading.length - 1; i++)
      assert.ok(uploading[i]!.timeMs - uploading[i - 1]!.timeMs >= 250, 'at most one report per 250 ms');
    const last = uploading[uploading.length - 1]!;
    assert.equal(last.bytes, acked.bytesSent);
    assert.equal(last.files, acked.blobsSent);
    assert.equal(last.bytesTotal, acked.bytesSent);
    assert.ok(uploading[0]!.bytesTotal >= acked.bytesSent - 100, 'the total was known from the start');
    assert.ok(
      uploading.some((e) => e.bytesPerSecond > 0 && e.etaMs >= 0),
      'rate and ETA are reported',
    );
    // Files and unique contents are told apart: 2601 files changed, 2502 contents (with the Dockerfile).
    assert.equal(acked.filesChanged, 2601);
    assert.equal(acked.blobsSent, 2502);
    // All of it comes after the build started and before the ack.
    const started = events.findIndex((e) => e.type === 'build/started');
    const ackAt = events.indexOf(acked);
    for (const e of progress) {
      const at = events.indexOf(e);
      assert.ok(at > started && at < ackAt, `${e.type} at ${at} outside ${started}..${ackAt}`);
    }
  });

  test('plain output prints progress lines (interval from DEPOT_PROGRESS_INTERVAL_MS); -t alone warns', async () => {
    const ctx = tempDir('progress-plain');
    for (let i = 0; i < 300; i++) writeFileSync(join(ctx, `f${i}.txt`), randomBytes(2000));
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY f1.txt /f1.txt\n');
    const tag = `depot-it/progress:${process.pid}`;
    // The whole context, though the Dockerfile reads one file: the sync is what is measured here.
    const r = await build(ctx, ['--progress', 'plain', '-t', tag], {
      DEPOT_PROGRESS_INTERVAL_MS: '1',
      DEPOT_CONTEXT: 'full',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^#0 uploading context: \d+\/301 files · [\d.]+kB\/[\d.]+kB/m);
    assert.match(
      r.stderr,
      /^#0 synced context: 301 files changed \(301 unique contents, [\d.]+kB sent\), snapshot /m,
    );
    assert.equal(
      r.stderr.match(/no output specified: the image stays on the builder; use --load/g)?.length,
      1,
      r.stderr,
    );
    // The default interval prints no progress line for a sync this short, and --load needs no warning.
    const again = await build(ctx, ['--progress', 'plain', '-t', tag, '--load'], { DEPOT_CONTEXT: 'full' });
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /uploading context:|no output specified/);
  });

  test('--load of an image with a 30 MB layer emits load/progress up to the bytes loaded', async () => {
    const ctx = tempDir('progress-load');
    writeFileSync(
      join(ctx, 'Dockerfile'),
      `FROM busybox\nRUN head -c 30000000 /dev/urandom > /big && echo ${process.pid}-${Date.now()}\n`,
    );
    const tag = `depot-it/progress-load:${process.pid}`;
    const r = await build(ctx, ['--progress', 'json', '--load', '-t', tag], {
      DEPOT_PROGRESS_INTERVAL_MS: '20',
    });
    try {
      assert.equal(r.code, 0, r.stderr);
      const events = parseEventLines(r.stdout);
      const loads = ofType(events, 'load/progress');
      const finished = ofType(events, 'load/finished')[0];
      assert.ok(finished && finished.bytes > 30_000_000, 'the layer was sent');
      assert.ok(loads.length >= 2, `load progress was reported: ${loads.length}`);
      assertMonotone(
        'bytes',
        loads.map((e) => e.bytes),
      );
      assert.equal(loads[loads.length - 1]!.bytes, finished.bytes);
      const started = events.findIndex((e) => e.type === 'load/started');
      assert.ok(
        events.indexOf(loads[0]!) > started &&
          events.indexOf(finished) > events.indexOf(loads[loads.length - 1]!),
      );
    } finally {
      docker(LAPTOP_ENGINE, ['rmi', '-f', tag]);
    }
  });

  test('an identical rebuild (result reuse) shows no unnamed step and its builder lines are notes', async () => {
    const ctx = tempDir('progress-reuse');
    writeFileSync(join(ctx, 'a.txt'), `${process.pid} ${Date.now()}\n`);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt\n');
    const first = await build(ctx, ['--progress', 'json']);
    assert.equal(first.code, 0, first.stderr);
    const second = await build(ctx, ['--progress', 'json']);
    assert.equal(second.code, 0, second.stderr);
    const events = parseEventLines(second.stdout);
    const vertices = ofType(events, 'vertex/updated');
    assert.ok(vertices.length > 0);
    for (const v of vertices) assert.notEqual(v.vertex.name, '', 'a replayed step has a name');
    const reuse = ofType(events, 'message/logged').find((m) => /reusing the result/.test(m.text));
    assert.ok(reuse, 'the build was reused');
    assert.equal(reuse.info, true);
  });

  test('depot context ls ends with totals in text mode; --json stays an array', async () => {
    const ctx = tempDir('progress-ls');
    writeFileSync(join(ctx, 'a.txt'), 'hello');
    writeFileSync(join(ctx, 'b.txt'), 'hi');
    mkdirSync(join(ctx, 'd'));
    const text = await depot(['context', 'ls', ctx]);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout.trimEnd().split('\n').at(-1), 'total: 3 entries, 2 files, 7B');
    const json = await depot(['context', 'ls', '--json', ctx]);
    assert.ok(Array.isArray(JSON.parse(json.stdout)));
  });
});
