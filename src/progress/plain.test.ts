import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { BuildEvent } from './events.js';
import { FIXTURES_DIR, loadFixtures } from './fixtures.js';
import { createPlainRenderer } from './plain.js';

function renderPlain(events: BuildEvent[]): string {
  let out = '';
  const r = createPlainRenderer((s) => {
    out += s;
  });
  for (const e of events) r.handle(e);
  r.close();
  return out;
}

const fixtures = loadFixtures();

test('there are recorded fixture streams', () => {
  assert.ok(fixtures.length >= 2);
});

for (const { name, events } of fixtures) {
  test(`plain output of ${name}.jsonl matches ${name}.golden.txt`, () => {
    const golden = join(FIXTURES_DIR, `${name}.golden.txt`);
    const actual = renderPlain(events);
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(golden)) {
      writeFileSync(golden, actual);
      if (process.env.UPDATE_GOLDEN !== '1') assert.fail(`wrote missing ${golden}; review it and rerun`);
      return;
    }
    assert.equal(actual, readFileSync(golden, 'utf8'));
  });
}

const T = 1_750_000_000_000;
const vertex = (over: Partial<Extract<BuildEvent, { type: 'vertex/updated' }>['vertex']>) => ({
  digest: 'sha256:a',
  name: '[2/2] RUN make',
  inputs: [],
  cached: false,
  startedMs: 0,
  completedMs: 0,
  error: '',
  ...over,
});

test('a re-sent vertex does not repeat its header or finish line', () => {
  const out = renderPlain([
    { type: 'vertex/updated', timeMs: T, vertex: vertex({ startedMs: T }) },
    { type: 'vertex/updated', timeMs: T + 1, vertex: vertex({ startedMs: T }) },
    { type: 'vertex/updated', timeMs: T + 300, vertex: vertex({ startedMs: T, completedMs: T + 300 }) },
    { type: 'vertex/updated', timeMs: T + 301, vertex: vertex({ startedMs: T, completedMs: T + 300 }) },
  ]);
  assert.equal(out, '#1 [2/2] RUN make\n#1 DONE 0.3s\n\nsteps: 1 total, 0 cached · 0.0s\n');
});

test('unstarted vertices print nothing until they start', () => {
  const out = renderPlain([{ type: 'vertex/updated', timeMs: T, vertex: vertex({}) }]);
  assert.equal(out, 'steps: 0 total, 0 cached · 0.0s\n');
});

test('partial log lines are joined and flushed when the vertex completes', () => {
  const out = renderPlain([
    { type: 'vertex/updated', timeMs: T, vertex: vertex({ startedMs: T }) },
    { type: 'log/appended', timeMs: T + 100, vertex: 'sha256:a', stream: 1, data: 'a' },
    { type: 'log/appended', timeMs: T + 200, vertex: 'sha256:a', stream: 1, data: 'b\nc' },
    { type: 'vertex/updated', timeMs: T + 300, vertex: vertex({ startedMs: T, completedMs: T + 300 }) },
  ]);
  assert.equal(
    out,
    '#1 [2/2] RUN make\n#1 0.100 ab\n#1 0.200 c\n#1 DONE 0.3s\n\nsteps: 1 total, 0 cached · 0.0s\n',
  );
});

test('switching away from a running vertex marks it with ...', () => {
  const b = vertex({ digest: 'sha256:b', name: '[internal] load build context' });
  const out = renderPlain([
    { type: 'vertex/updated', timeMs: T, vertex: vertex({ startedMs: T }) },
    { type: 'vertex/updated', timeMs: T + 1, vertex: { ...b, startedMs: T + 1 } },
    { type: 'log/appended', timeMs: T + 2, vertex: 'sha256:a', stream: 1, data: 'hi\n' },
  ]);
  assert.equal(
    out.split('\n').slice(0, 8).join('\n'),
    [
      '#1 [2/2] RUN make',
      '#1 ...',
      '',
      '#2 [internal] load build context',
      '#2 ...',
      '',
      '#1 [2/2] RUN make',
      '#1 0.002 hi',
    ].join('\n'),
  );
});

test('a failed build without step logs still prints the error', () => {
  const out = renderPlain([
    { type: 'build/finished', timeMs: T, ok: false, imageId: '', error: '', errorCode: 'unknown_target' },
  ]);
  assert.match(out, /^ERROR: build failed \(unknown_target\)$/m);
  assert.match(out, /· failed$/m);
});

test('handle after close is ignored and close is idempotent', () => {
  let out = '';
  const r = createPlainRenderer((s) => {
    out += s;
  });
  r.close();
  r.close();
  r.handle({ type: 'message/logged', timeMs: T, text: 'late' });
  assert.equal(out, 'steps: 0 total, 0 cached · 0.0s\n');
});

const exporter = (over: Partial<Extract<BuildEvent, { type: 'vertex/updated' }>['vertex']>) =>
  vertex({ digest: 'sha256:e', name: 'exporting to image', ...over });
const naming = (over: Partial<Extract<BuildEvent, { type: 'status/updated' }>['status']>) => ({
  id: 'naming to docker.io/library/app',
  vertex: 'sha256:e',
  name: '',
  current: 0,
  total: 0,
  startedMs: T + 10,
  completedMs: 0,
  ...over,
});

test('a status that completes after its vertex prints above the DONE line, not as a reopened block', () => {
  const out = renderPlain([
    { type: 'vertex/updated', timeMs: T, vertex: exporter({ startedMs: T }) },
    { type: 'status/updated', timeMs: T + 10, status: naming({}) },
    { type: 'vertex/updated', timeMs: T + 100, vertex: exporter({ startedMs: T, completedMs: T + 100 }) },
    { type: 'status/updated', timeMs: T + 101, status: naming({ completedMs: T + 101 }) },
    { type: 'message/logged', timeMs: T + 102, text: 'Successfully tagged app:latest' },
  ]);
  assert.equal(
    out,
    [
      '#1 exporting to image',
      '#1 naming to docker.io/library/app',
      '#1 naming to docker.io/library/app 0.1s done',
      '#1 DONE 0.1s',
      '',
      'steps: 0 total, 0 cached · 0.0s',
      '',
    ].join('\n'),
  );
});

test('a status that never completes does not hold the DONE line past other output', () => {
  const b = vertex({ digest: 'sha256:b', name: '[internal] load build context' });
  const out = renderPlain([
    { type: 'vertex/updated', timeMs: T, vertex: exporter({ startedMs: T }) },
    { type: 'status/updated', timeMs: T + 10, status: naming({}) },
    { type: 'vertex/updated', timeMs: T + 100, vertex: exporter({ startedMs: T, completedMs: T + 100 }) },
    { type: 'vertex/updated', timeMs: T + 110, vertex: { ...b, startedMs: T + 110 } },
  ]);
  assert.equal(
    out.split('\n').slice(0, 6).join('\n'),
    [
      '#1 exporting to image',
      '#1 naming to docker.io/library/app',
      '#1 DONE 0.1s',
      '',
      '#2 [internal] load build context',
      '#2 ...',
    ].join('\n'),
  );
  assert.doesNotMatch(out, /^#1 \.\.\.$/m);
});

test('a status arriving after the DONE was printed reopens the block like BuildKit, without `...`', () => {
  const b = vertex({ digest: 'sha256:b', name: '[internal] load build context' });
  const out = renderPlain([
    { type: 'vertex/updated', timeMs: T, vertex: exporter({ startedMs: T }) },
    { type: 'vertex/updated', timeMs: T + 100, vertex: exporter({ startedMs: T, completedMs: T + 100 }) },
    { type: 'vertex/updated', timeMs: T + 110, vertex: { ...b, startedMs: T + 110 } },
    { type: 'status/updated', timeMs: T + 120, status: naming({ startedMs: T + 115, completedMs: T + 120 }) },
    { type: 'vertex/updated', timeMs: T + 130, vertex: { ...b, startedMs: T + 110, completedMs: T + 130 } },
  ]);
  assert.equal(
    out,
    [
      '#1 exporting to image',
      '#1 DONE 0.1s',
      '',
      '#2 [internal] load build context',
      '#2 ...',
      '',
      '#1 exporting to image',
      '#1 naming to docker.io/library/app done',
      '#1 DONE 0.1s',
      '',
      '#2 [internal] load build context',
      '#2 DONE 0.0s',
      '',
      'steps: 0 total, 0 cached · 0.0s',
      '',
    ].join('\n'),
  );
});

test('daemon lines that repeat the trace are dropped, real warnings are kept', () => {
  const out = renderPlain([
    { type: 'message/logged', timeMs: T, text: 'Successfully built 0123abcd\nSuccessfully tagged app:dev\n' },
    { type: 'message/logged', timeMs: T, text: '[Warning] One or more build-args [FOO] were not consumed' },
  ]);
  assert.equal(
    out,
    '#0 [Warning] One or more build-args [FOO] were not consumed\n\nsteps: 0 total, 0 cached · 0.0s\n',
  );
});

test('a load that sent nothing says the image was already there', () => {
  const out = renderPlain([
    {
      type: 'build/finished',
      timeMs: T,
      ok: true,
      imageId: `sha256:${'ab'.repeat(32)}`,
      error: '',
      errorCode: '',
    },
    {
      type: 'load/finished',
      timeMs: T + 1,
      bytes: 0,
      imageSize: 1984197,
      layersSent: 0,
      layersTotal: 2,
      note: 'built in the local engine',
      tags: ['depot-hello'],
    },
  ]);
  assert.match(
    out,
    /^image sha256:abababababab is already in the local engine: nothing sent \(0\/2 layers\)$/m,
  );
  assert.match(out, /^tagged depot-hello$/m);
  assert.match(out, /^note: built in the local engine$/m);
});

test('the exporter of a real run: `naming to` that starts after its DONE folds above it', () => {
  const status = (id: string, startedMs: number, completedMs = 0) => ({
    type: 'status/updated' as const,
    timeMs: completedMs || startedMs,
    status: { id, vertex: 'sha256:e', name: '', current: 0, total: 0, startedMs, completedMs },
  });
  const out = renderPlain([
    { type: 'vertex/updated', timeMs: T, vertex: exporter({ startedMs: T }) },
    status('exporting layers', T),
    status('exporting layers', T, T + 5),
    status('writing image sha256:4071', T + 6),
    status('writing image sha256:4071', T + 6, T + 8),
    { type: 'vertex/updated', timeMs: T + 90, vertex: exporter({ startedMs: T, completedMs: T + 90 }) },
    status('naming to docker.io/library/depot-hello', T + 91),
    status('naming to docker.io/library/depot-hello', T + 91, T + 92),
    { type: 'message/logged', timeMs: T + 93, text: 'Successfully tagged depot-hello:latest' },
    { type: 'build/finished', timeMs: T + 94, ok: true, imageId: 'sha256:4071', error: '', errorCode: '' },
  ]);
  assert.equal(
    out,
    [
      '#1 exporting to image',
      '#1 exporting layers',
      '#1 exporting layers done',
      '#1 writing image sha256:4071',
      '#1 writing image sha256:4071 done',
      '#1 naming to docker.io/library/depot-hello',
      '#1 naming to docker.io/library/depot-hello done',
      '#1 DONE 0.1s',
      '',
      'steps: 0 total, 0 cached · 0.0s',
      '',
    ].join('\n'),
  );
});

const cause = (over: Partial<import('./events.js').StepCauseInfo> = {}) => ({
  kind: 'changed_files',
  text: 'src/app.js and 2 more changed under COPY src/ .',
  paths: ['src/app.js', 'src/a.js', 'src/b.js'],
  morePaths: 0,
  name: '',
  line: 0,
  digest: '',
  ...over,
});

test('a cause known before the step starts prints MISS under its header', () => {
  const out = renderPlain([
    { type: 'step/explained', timeMs: T, vertex: 'sha256:a', cause: cause() },
    { type: 'vertex/updated', timeMs: T, vertex: vertex({ startedMs: T }) },
    { type: 'vertex/updated', timeMs: T + 300, vertex: vertex({ startedMs: T, completedMs: T + 300 }) },
  ]);
  assert.equal(
    out,
    '#1 [2/2] RUN make\n#1 MISS: src/app.js and 2 more changed under COPY src/ .\n#1 DONE 0.3s\n\nsteps: 1 total, 0 cached · 0.0s\n',
  );
});

test('a cause that comes after DONE prints MISS right under it, once', () => {
  const out = renderPlain([
    { type: 'vertex/updated', timeMs: T, vertex: vertex({ startedMs: T }) },
    { type: 'vertex/updated', timeMs: T + 300, vertex: vertex({ startedMs: T, completedMs: T + 300 }) },
    {
      type: 'step/explained',
      timeMs: T + 301,
      vertex: 'sha256:a',
      cause: cause({ kind: 'build_arg', text: 'build arg VERSION changed', name: 'VERSION' }),
    },
    {
      type: 'step/explained',
      timeMs: T + 302,
      vertex: 'sha256:a',
      cause: cause({ kind: 'build_arg', text: 'build arg VERSION changed', name: 'VERSION' }),
    },
  ]);
  assert.equal(
    out,
    '#1 [2/2] RUN make\n#1 DONE 0.3s\n#1 MISS: build arg VERSION changed\n\nsteps: 1 total, 0 cached · 0.0s\n',
  );
});

test('a late cause while another step prints reopens its block; cached steps print no MISS', () => {
  const b = vertex({
    digest: 'sha256:b',
    name: '[1/2] FROM busybox',
    cached: true,
    startedMs: T,
    completedMs: T,
  });
  const out = renderPlain([
    { type: 'vertex/updated', timeMs: T, vertex: vertex({ startedMs: T }) },
    { type: 'vertex/updated', timeMs: T + 300, vertex: vertex({ startedMs: T, completedMs: T + 300 }) },
    { type: 'vertex/updated', timeMs: T + 301, vertex: b },
    {
      type: 'step/explained',
      timeMs: T + 302,
      vertex: 'sha256:b',
      cause: cause({ kind: 'first_build', text: '' }),
    },
    {
      type: 'step/explained',
      timeMs: T + 303,
      vertex: 'sha256:a',
      cause: cause({ kind: 'no_cache', text: '' }),
    },
  ]);
  assert.equal(
    out,
    '#1 [2/2] RUN make\n#1 DONE 0.3s\n\n#2 [1/2] FROM busybox\n#2 CACHED\n\n#1 [2/2] RUN make\n#1 MISS: --no-cache\n#1 DONE 0.3s\n\nsteps: 2 total, 1 cached · 0.0s\n',
  );
});

test('json output passes step/explained through unchanged', async () => {
  const { createJsonRenderer, parseEventLines } = await import('./json.js');
  let out = '';
  const r = createJsonRenderer((s) => {
    out += s;
  });
  const ev = { type: 'step/explained' as const, timeMs: T, vertex: 'sha256:a', cause: cause() };
  r.handle(ev);
  r.close();
  assert.deepEqual(parseEventLines(out), [ev]);
});

test('plain: a progress line per interval of event time while syncing and loading; none for short work', () => {
  const prog = (timeMs: number, phase: 'hashing' | 'uploading', bytes: number) => ({
    type: 'sync/progress' as const,
    timeMs,
    phase,
    files: bytes / 100,
    filesTotal: 100,
    bytes,
    bytesTotal: 10_000,
    bytesPerSecond: 2000,
    etaMs: 1000,
  });
  const events: BuildEvent[] = [
    { type: 'build/started', timeMs: T, builderId: 'b', platform: 'linux/amd64', buildId: 'x' },
    prog(T + 250, 'hashing', 500),
    prog(T + 500, 'hashing', 1000),
    { type: 'sync/started', timeMs: T + 600, entries: 101 },
    ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((i) => prog(T + 600 + i * 250, 'uploading', i * 800)),
    {
      type: 'sync/acked',
      timeMs: T + 3700,
      snapshotId: 'sha256:5a5a5a5a5a5a5a5a',
      bytesSent: 9600,
      blobsSent: 90,
      filesChanged: 100,
      entries: 101,
      totalBytes: 10_000,
    },
  ];
  let out = '';
  const r = createPlainRenderer(
    (s) => {
      out += s;
    },
    { progressIntervalMs: 1000 },
  );
  for (const e of events) r.handle(e);
  const lines = out.split('\n').filter((l) => / context: \d+\/100 files/.test(l));
  // The sync started with the first hashing report (T+250); hashing ended within a second: no
  // line for it. Then a line whenever a second passed since the last one (or the start).
  assert.deepEqual(lines, [
    '#0 uploading context: 24/100 files · 2.4kB/10kB · 2kB/s · ETA 1s',
    '#0 uploading context: 56/100 files · 5.6kB/10kB · 2kB/s · ETA 1s',
    '#0 uploading context: 88/100 files · 8.8kB/10kB · 2kB/s · ETA 1s',
  ]);
  assert.match(
    out,
    /^#0 synced context: 100 files changed \(90 unique contents, 9\.6kB sent\), snapshot sha256:5a5a5a5a5a5a…$/m,
  );
  // The default interval (5 s) prints none of these.
  const quiet = renderPlain(events);
  assert.doesNotMatch(quiet, /uploading context/);
});

test('plain: load progress lines in the load group', () => {
  let out = '';
  const r = createPlainRenderer(
    (s) => {
      out += s;
    },
    { progressIntervalMs: 100 },
  );
  r.handle({ type: 'load/started', timeMs: T });
  r.handle({
    type: 'load/progress',
    timeMs: T + 50,
    bytes: 1000,
    bytesTotal: 0,
    bytesPerSecond: 20_000,
    etaMs: -1,
  });
  r.handle({
    type: 'load/progress',
    timeMs: T + 150,
    bytes: 3_000_000,
    bytesTotal: 0,
    bytesPerSecond: 20_000_000,
    etaMs: -1,
  });
  assert.deepEqual(out.split('\n').filter(Boolean), ['loading image into the local engine: 3MB · 20MB/s']);
});
