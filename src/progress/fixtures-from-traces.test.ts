import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES_DIR } from './fixtures.js';
import { parseRecordedTrace, type TraceClientSide, toBuildEvents } from './fixtures-from-traces.js';
import { parseEventLines } from './json.js';
import { initialBuildState, reduceBuild } from './state.js';

const TRACES = join(FIXTURES_DIR, '..', '..', '..', 'test', 'fixtures', 'traces');

const CLIENT: TraceClientSide = {
  builderId: 'builder-amd64-1',
  platform: 'linux/amd64',
  buildId: '5b0c6f43-real-trace',
  sync: {
    entries: 3,
    snapshotId: 'sha256:3f1d7f2a9c0e4b6d8a1c5e7f9b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d',
    bytesSent: 0,
    blobsSent: 0,
    totalBytes: 151,
  },
};

// Recorded from dockerd 20.10 (BuildKit 0.8); see test/fixtures/traces.
const CASES: { trace: string; fixture: string; client: TraceClientSide }[] = [
  {
    trace: 'success-cached',
    fixture: 'real-success-cached',
    client: {
      ...CLIENT,
      load: {
        bytes: 10752,
        imageSize: 1984197,
        layersSent: 3,
        layersTotal: 4,
        note: '',
        tags: ['depot-trace:cached'],
      },
    },
  },
  {
    trace: 'run-failure',
    fixture: 'real-run-failure',
    client: { ...CLIENT, sync: { ...CLIENT.sync, entries: 1, totalBytes: 64 } },
  },
];

for (const c of CASES) {
  test(`fixtures/${c.fixture}.jsonl is the BuildEvent stream of traces/${c.trace}`, () => {
    const trace = parseRecordedTrace(readFileSync(join(TRACES, `${c.trace}.events.jsonl`), 'utf8'));
    const events = toBuildEvents(trace, c.client);
    const text = events
      .map((e) => JSON.stringify(e))
      .join('\n')
      .concat('\n');
    const file = join(FIXTURES_DIR, `${c.fixture}.jsonl`);
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
      writeFileSync(file, text);
      if (process.env.UPDATE_GOLDEN !== '1') assert.fail(`wrote missing ${file}; review it and rerun`);
      return;
    }
    assert.deepEqual(parseEventLines(readFileSync(file, 'utf8')), events);
  });
}

test('converted traces have deterministic, non-decreasing client times', () => {
  for (const c of CASES) {
    const trace = parseRecordedTrace(readFileSync(join(TRACES, `${c.trace}.events.jsonl`), 'utf8'));
    const events = toBuildEvents(trace, c.client);
    assert.deepEqual(toBuildEvents(trace, c.client), events);
    let last = 0;
    for (const e of events) {
      if (e.type === 'log/appended') continue;
      assert.ok(e.timeMs >= last, `${e.type} at ${e.timeMs} went back before ${last}`);
      last = e.timeMs;
    }
    const state = events.reduce(reduceBuild, initialBuildState());
    assert.equal(state.result?.ok, c.trace === 'success-cached');
  }
});
