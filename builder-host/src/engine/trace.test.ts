import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { buildStreamEvents } from './build-stream.js';
import { classifyBuildError } from './errors.js';
import { decodeTrace } from './trace.js';
import type { EngineEvent } from './types.js';

const TRACES = path.join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'traces');

async function decodeFixture(name: string): Promise<EngineEvent[]> {
  const raw = readFileSync(path.join(TRACES, `${name}.raw.jsonl`), 'utf8')
    .split('\n')
    .filter(Boolean);
  const out: EngineEvent[] = [];
  for await (const ev of buildStreamEvents(raw)) out.push(ev);
  return out;
}

function golden(name: string): unknown[] {
  return readFileSync(path.join(TRACES, `${name}.events.jsonl`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

const asJson = (events: EngineEvent[]) =>
  events.map((e) => (e.type === 'log' ? { ...e, data: e.data.toString('utf8') } : e));

test('decodes a vertex with inputs, name and timestamps (recorded from dockerd 20.10)', () => {
  // [2/3] RUN … completed: digest, one input, name, started and completed.
  const aux =
    'CtUBCkdzaGEyNTY6MDFlMGRhYTJiMGRjNTFkNTE0ZjFjODkyNDVmNWNlOTdhY2Q0NTQ2ZTgyOGM4NmZiOTM0MzE0MDI2NWEyYzk4ZhJHc2hhMjU2OjA4YTAzZjNmZmU1ZmJhNDIxYTY0MDNjMzFlMTUzNDI1Y2VkNjMxZDEwODg2OGYzMGUwNDk4NWY5OWQ2OTMyNmUaJlsyLzNdIFJVTiBlY2hvIGhlbGxvIDEgJiYgZWNobyBlcnIgPiYyKgsI6ICn2AYQqYC0fjIMCOiAp9gGEOO32LgC';
  const [ev] = decodeTrace(aux);
  assert.deepEqual(ev, {
    type: 'vertex',
    vertex: {
      digest: 'sha256:01e0daa2b0dc51d514f1c89245f5ce97acd4546e828c86fb9343140265a2c98f',
      name: '[2/3] RUN echo hello 1 && echo err >&2',
      inputs: ['sha256:08a03f3ffe5fba421a6403c31e153425ced631d108868f30e04985f99d69326e'],
      cached: false,
      startedMs: 1795801192265,
      completedMs: 1795801192655,
      error: '',
    },
  });
});

test('decodes a log with stream and bytes', () => {
  const aux =
    'Gl8KR3NoYTI1NjowMWUwZGFhMmIwZGM1MWQ1MTRmMWM4OTI0NWY1Y2U5N2FjZDQ1NDZlODI4Yzg2ZmI5MzQzMTQwMjY1YTJjOThmEgwI6ICn2AYQta7lsQIYAiIEZXJyCg==';
  const [ev] = decodeTrace(aux);
  assert.equal(ev?.type, 'log');
  if (ev?.type !== 'log') return;
  assert.equal(ev.stream, 2);
  assert.equal(ev.data.toString(), 'err\n');
  assert.equal(ev.vertex, 'sha256:01e0daa2b0dc51d514f1c89245f5ce97acd4546e828c86fb9343140265a2c98f');
  assert.ok(ev.timestampMs > 1.7e12);
});

test('decodes statuses with ids, timestamps and completion', () => {
  const aux =
    'EoUBChBleHBvcnRpbmcgbGF5ZXJzEkdzaGEyNTY6ZThjNjEzZTA3YjBiN2ZmMzM4OTNiNjk0Zjc3NTlhMTBkNDJlMTgwZjJiNGRjMzQ5ZmI1N2RjNmI3MWRjYWIwMDIMCOiAp9gGELz+mdUCOgwI6ICn2AYQ6q/RwgJCDAjogKfYBhD37JnVAhK8AQpVd3JpdGluZyBpbWFnZSBzaGEyNTY6ZjFjZjNiOWNjNTI0NzFmM2NkODhlZTZhODJhYzFlMzg5YzQxNTBlOGU3ZTYyNDNlMTY5ZGUxMGY1YmQyZDE5YhJHc2hhMjU2OmU4YzYxM2UwN2IwYjdmZjMzODkzYjY5NGY3NzU5YTEwZDQyZTE4MGYyYjRkYzM0OWZiNTdkYzZiNzFkY2FiMDAyDAjogKfYBhCcgqnVAjoMCOiAp9gGEIb9qNUC';
  const events = decodeTrace(aux);
  assert.equal(events.length, 2);
  const [a] = events;
  assert.equal(a?.type, 'status');
  if (a?.type !== 'status') return;
  assert.equal(a.status.id, 'exporting layers');
  assert.ok(a.status.startedMs > 0 && a.status.completedMs >= a.status.startedMs);
  assert.ok(a.status.timestampMs > 0);
});

test('recorded success trace decodes to its golden events: cached steps, logs, image id', async () => {
  const events = await decodeFixture('success-cached');
  assert.deepEqual(asJson(events), golden('success-cached'));
  assert.ok(events.some((e) => e.type === 'vertex' && e.vertex.cached));
  assert.ok(events.some((e) => e.type === 'log'));
  const last = events.at(-1);
  assert.equal(last?.type, 'result');
  assert.equal(last?.type === 'result' && last.ok, true);
});

test('recorded RUN failure decodes to a step_failed result after the failing vertex', async () => {
  const events = await decodeFixture('run-failure');
  assert.deepEqual(asJson(events), golden('run-failure'));
  const last = events.at(-1);
  assert.equal(last?.type === 'result' && last.errorCode, 'step_failed');
  assert.ok(events.some((e) => e.type === 'vertex' && /exit code: 3/.test(e.vertex.error)));
});

test('a stream without an image id or error ends in a failed result', async () => {
  const events: EngineEvent[] = [];
  for await (const ev of buildStreamEvents(['{"stream":"hello\\n"}', 'not json'])) events.push(ev);
  assert.deepEqual(events.slice(0, 2), [
    { type: 'message', text: 'hello' },
    { type: 'message', text: 'not json' },
  ]);
  assert.equal(events[2]?.type === 'result' && events[2].errorCode, 'build_failed');
});

test('classifies the messages dockerd 20.10 / BuildKit 0.8 sends', () => {
  const table: Array<[string, string]> = [
    [
      'failed to solve with frontend dockerfile.v0: failed to create LLB definition: dockerfile parse error line 3: unknown instruction: FOOBAR',
      'dockerfile_syntax',
    ],
    [
      'failed to solve with frontend dockerfile.v0: failed to create LLB definition: dockerfile parse error line 2: Unknown flag: bogus',
      'dockerfile_syntax',
    ],
    [
      'failed to solve with frontend dockerfile.v0: failed to create LLB definition: the Dockerfile cannot be empty',
      'dockerfile_syntax',
    ],
    [
      'failed to solve with frontend dockerfile.v0: failed to create LLB definition: file with no instructions',
      'dockerfile_syntax',
    ],
    [
      'failed to solve with frontend dockerfile.v0: failed to create LLB definition: no build stage in current context',
      'dockerfile_syntax',
    ],
    ['failed to parse dockerfile: syntax error', 'dockerfile_syntax'],
    [
      'failed to solve with frontend dockerfile.v0: failed to create LLB definition: target stage nope could not be found',
      'unknown_target',
    ],
    [
      'failed to solve with frontend dockerfile.v0: failed to read dockerfile: open /tmp/x/buildkit-mount1/sub/Dockerfile: no such file or directory',
      'dockerfile_not_found',
    ],
    ['executor failed running [/bin/sh -c exit 3]: exit code: 3', 'step_failed'],
    [
      'failed to solve with frontend dockerfile.v0: failed to create LLB definition: pulling from host 127.0.0.1:33259 failed with status code [manifests 1]: 401 Unauthorized',
      'registry_denied',
    ],
    ['context canceled', 'cancelled'],
    ['failed to compute cache key: "/nothere" not found: not found', 'build_failed'],
    ['invalid reference format: repository name must be lowercase', 'build_failed'],
  ];
  for (const [msg, code] of table) assert.equal(classifyBuildError(msg), code, msg);
});
