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
  assert.equal(out, 'steps: 1 total, 0 cached · 0.0s\n');
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
