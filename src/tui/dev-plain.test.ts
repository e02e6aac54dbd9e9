import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { DevEvent } from '../dev/types.js';
import { type BuildEvent, createPlainRenderer, parseEventLines } from '../progress/index.js';
import { BUILDER_URL, connectedEvents, finishedBuildEvents, SNAPSHOT, T } from './dev-fixtures.js';
import { createDevPlainRenderer } from './dev-plain.js';

const fixture = (name: string): BuildEvent[] =>
  parseEventLines(readFileSync(new URL(`../progress/fixtures/${name}.jsonl`, import.meta.url), 'utf8'));

function plain(events: DevEvent[]): string {
  let out = '';
  const r = createDevPlainRenderer((s) => {
    out += s;
  });
  for (const e of events) r.handle(e);
  r.close();
  return out;
}

/** Only the `[dev]` and `[container]` lines. */
const devLines = (out: string) => out.split('\n').filter((l) => /^\[(dev|container)\] /.test(l));

test('one [dev] line per fact of the session, the watcher, syncs, builds and the container', () => {
  const out = plain([
    ...connectedEvents(),
    { type: 'session/latency', timeMs: T + 200, latencyMs: 4 },
    ...finishedBuildEvents(1, T + 1000, 'ok', { reason: 'initial', paths: [] }),
    {
      type: 'container/started',
      timeMs: T + 2300,
      id: 'abc123def4567890',
      name: 'depot-dev-app',
      imageId: 'x',
    },
    { type: 'container/logged', timeMs: T + 2400, lines: ['listening on :3000'] },
    {
      type: 'watch/changed',
      timeMs: T + 3000,
      paths: ['src/app.js', 'src/lib.js', 'README.md'],
      quietUntilMs: 0,
    },
    {
      type: 'build/pending',
      timeMs: T + 3000,
      trigger: { reason: 'change', paths: ['src/app.js'] },
      waitingFor: 'waiting for the quiet period',
    },
    {
      type: 'build/pending',
      timeMs: T + 3050,
      trigger: { reason: 'change', paths: ['src/app.js'] },
      waitingFor: 'waiting for the quiet period',
    },
    { type: 'sync/started', timeMs: T + 3200, paths: ['src/app.js'] },
    { type: 'sync/acked', timeMs: T + 3250, snapshotId: SNAPSHOT, entries: 812, bytesSent: 1100 },
    ...finishedBuildEvents(2, T + 4000, 'cancelled', {
      reason: 'change',
      paths: ['src/app.js', 'src/lib.js', 'x'],
    }),
    ...finishedBuildEvents(3, T + 6000, 'failed'),
    { type: 'container/kept', timeMs: T + 7300, reason: 'build failed' },
    ...finishedBuildEvents(4, T + 8000, 'ok'),
    { type: 'container/started', timeMs: T + 9300, id: 'fed456', name: 'depot-dev-app', imageId: 'y' },
    {
      type: 'session/reconnecting',
      timeMs: T + 10_000,
      attempt: 2,
      retryAtMs: 0,
      error: 'connection reset\nstack',
    },
    { type: 'watch/paused', timeMs: T + 11_000 },
    { type: 'watch/resumed', timeMs: T + 12_000 },
  ]);
  assert.deepEqual(devLines(out), [
    `[dev] connecting to ${BUILDER_URL}`,
    '[dev] connected to bld-7f3a9c (linux/amd64) 3ms',
    '[dev] watching',
    '[dev] synced sha256:79c6d61344be… 1.1kB',
    '[dev] build #1 started (initial build)',
    '[dev] build #1 done: 7 steps, 4 cached, 1.2s; loaded 12kB',
    '[dev] container depot-dev-app started (abc123def456)',
    '[container] listening on :3000',
    '[dev] change: src/app.js (+2)',
    '[dev] next build: waiting for the quiet period (change: src/app.js)',
    '[dev] synced sha256:79c6d61344be… 1.1kB',
    '[dev] build #2 started (change: src/app.js (+2))',
    '[dev] build #2 cancelled: newer change',
    '[dev] build #3 started (change: src/app.js)',
    '[dev] build #3 failed: process "/bin/sh -c npm test" did not complete successfully: exit code: 1',
    '[dev] container kept: build failed',
    '[dev] build #4 started (change: src/app.js)',
    '[dev] build #4 done: 7 steps, 4 cached, 1.2s; loaded 12kB',
    '[dev] container depot-dev-app replaced (fed456)',
    '[dev] reconnecting (attempt 2): connection reset',
    '[dev] watch paused',
    '[dev] watch resumed',
  ]);
});

test('each build prints its steps like `depot build --progress plain`, from a fresh renderer', () => {
  const events = fixture('sample-build');
  const wrap = (buildId: string): DevEvent[] => [
    { type: 'build/started', timeMs: T, buildId, trigger: { reason: 'change', paths: ['src/app.js'] } },
    ...events.map((event): DevEvent => ({ type: 'build/progressed', timeMs: event.timeMs, buildId, event })),
  ];
  const out = plain([...wrap('one'), ...wrap('two')]);
  let expected = '';
  const inner = createPlainRenderer((s) => {
    expected += s;
  });
  for (const e of events) inner.handle(e);
  // Both builds number their steps from #1 and print the same BuildKit lines as a one-off build.
  const [first, second] = out.split('[dev] build #2 started (change: src/app.js)\n');
  assert.equal(first, `[dev] build #1 started (change: src/app.js)\n${expected}`);
  assert.equal(second, expected);
  assert.match(out, /^#1 \[internal\] load build definition from Dockerfile$/m);
  assert.doesNotMatch(out, /^steps: /m, 'no one-off summary line: the [dev] done line says it');
});

test('a failed build shows the BuildKit error block, then the [dev] line', () => {
  const buildId = 'f';
  const events = fixture('failed-build');
  const out = plain([
    { type: 'build/started', timeMs: T, buildId, trigger: { reason: 'manual', paths: [] } },
    ...events.map((event): DevEvent => ({ type: 'build/progressed', timeMs: event.timeMs, buildId, event })),
    { type: 'build/finished', timeMs: T + 5000, buildId, ok: false, imageId: '', error: 'exit code: 1' },
  ]);
  assert.match(out, /^\[dev\] build #1 started \(manual rebuild\)$/m);
  assert.match(
    out,
    /^ERROR: process "\/bin\/sh -c \.\/test\.sh" did not complete successfully: exit code: 1$/m,
  );
  assert.match(out, /\n\[dev\] build #1 failed: exit code: 1\n$/);
});

test('a done line waits for its load, and prints without it when something else comes first', () => {
  const buildId = 'b';
  const started: DevEvent = {
    type: 'build/started',
    timeMs: T,
    buildId,
    trigger: { reason: 'manual', paths: [] },
  };
  const finished: DevEvent = {
    type: 'build/finished',
    timeMs: T + 2500,
    buildId,
    ok: true,
    imageId: 'i',
    error: '',
  };
  assert.deepEqual(
    devLines(
      plain([started, finished, { type: 'load/failed', timeMs: T + 2600, buildId, error: 'no space left' }]),
    ),
    [
      '[dev] build #1 started (manual rebuild)',
      '[dev] build #1 done: 0 steps, 0 cached, 2.5s',
      '[dev] load failed: no space left',
    ],
  );
  assert.deepEqual(
    devLines(plain([started, finished])).at(-1),
    '[dev] build #1 done: 0 steps, 0 cached, 2.5s',
  );
});

test('watcher trouble and the polling fallback are one line each', () => {
  assert.deepEqual(
    devLines(
      plain([
        { type: 'watch/started', timeMs: T, polling: true, message: 'inotify limit reached' },
        { type: 'watch/failed', timeMs: T, polling: false, message: 'EMFILE: too many open files' },
        { type: 'sync/failed', timeMs: T, error: 'sync failed: blob sha256:… did not match its digest' },
      ]),
    ),
    [
      '[dev] watching (polling: inotify limit reached)',
      '[dev] watch failed: EMFILE: too many open files; changes are not seen, press r to rebuild',
      '[dev] sync failed: blob sha256:… did not match its digest',
    ],
  );
});

test('a bad ignore file and a failed container are printed whole', () => {
  const out = plain([
    {
      type: 'ignore/failed',
      timeMs: T,
      error: '.dockerignore line 3: bad pattern "[": unterminated character class',
    },
    { type: 'ignore/fixed', timeMs: T + 1 },
    {
      type: 'container/failed',
      timeMs: T + 2,
      error: 'docker run failed: first part\nport is already allocated',
    },
  ]);
  assert.deepEqual(devLines(out), [
    '[dev] .dockerignore line 3: bad pattern "[": unterminated character class',
    '[dev] ignore rules valid again',
    '[dev] container failed: docker run failed: first part port is already allocated',
  ]);
});
