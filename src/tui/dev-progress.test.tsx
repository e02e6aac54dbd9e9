import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { render } from 'ink-testing-library';
import type { DevEvent, DevState } from '../dev/types.js';
import { DevView } from './DevView.js';
import { connectedEvents, devStateOf, finishedBuildEvents, T } from './dev-fixtures.js';
import { createDevPlainRenderer } from './dev-plain.js';
import { cellWidth } from './text.js';

function frameOf(state: DevState): string[] {
  const r = render(<DevView state={state} onCommand={() => {}} />);
  const frame = stripVTControlCharacters(r.lastFrame() ?? '');
  r.unmount();
  return frame.split('\n');
}

const syncing = (): DevEvent[] => {
  const connected = connectedEvents().slice(0, 3);
  return [
    ...connected,
    { type: 'sync/started', timeMs: T + 50, paths: [], full: true },
    {
      type: 'sync/progressed',
      timeMs: T + 3050,
      progress: {
        phase: 'hashing',
        files: 8000,
        filesTotal: 20_000,
        bytes: 80_000_000,
        bytesTotal: 200_000_000,
        bytesPerSecond: 26_700_000,
        etaMs: 4500,
        timeMs: T + 3050,
      },
    },
  ];
};

test('depot dev shows a progress bar while the first sync hashes and uploads, and drops it once acked', () => {
  const state = devStateOf(syncing(), 100, 24);
  const lines = frameOf(state);
  for (const l of lines) assert.ok(cellWidth(l) <= 100, l);
  const bar = lines.find((l) => l.startsWith('hashing '));
  assert.equal(bar, 'hashing █████████░░░░░░░░░░░░░░░ 40% 8000/20000 files · 80MB/200MB · 26.7MB/s · ETA 5s');
  const acked = devStateOf(
    [
      ...syncing(),
      { type: 'sync/acked', timeMs: T + 9000, snapshotId: 'sha256:aa', entries: 20_001, bytesSent: 1 },
    ],
    100,
    24,
  );
  assert.ok(!frameOf(acked).some((l) => l.startsWith('hashing ')));
});

test('depot dev shows load progress while loading the image', () => {
  const built = finishedBuildEvents(1, T + 1000, 'ok').filter((e) => e.type !== 'load/finished');
  const state = devStateOf(
    [
      ...connectedEvents(),
      ...built,
      {
        type: 'load/progressed',
        timeMs: T + 3000,
        buildId: 'build-1',
        progress: {
          bytes: 60_000_000,
          bytesTotal: 120_000_000,
          bytesPerSecond: 30_000_000,
          etaMs: 2000,
          timeMs: T + 3000,
        },
      },
    ],
    80,
    24,
  );
  const lines = frameOf(state);
  const bar = lines.find((l) => l.startsWith('loading '));
  assert.ok(bar, lines.join('\n'));
  assert.match(bar, /^loading █+░+ 50% 60MB\/120MB · 30MB\/s · ETA 2s$/);
  assert.ok(cellWidth(bar) <= 80);
});

test('depot dev plain prints a progress line per interval', () => {
  let out = '';
  const r = createDevPlainRenderer(
    (s) => {
      out += s;
    },
    { progressIntervalMs: 2000 },
  );
  for (const e of syncing()) r.handle(e);
  assert.match(out, /^\[dev\] hashing context: 8000\/20000 files · 80MB\/200MB · 26\.7MB\/s · ETA 5s$/m);
});
