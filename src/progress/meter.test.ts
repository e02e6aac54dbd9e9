import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatEta, formatProgress, progressBar, progressRatio } from './format.js';
import { createProgressThrottle, type ProgressReading, readProgress } from './meter.js';

const counts = (files: number, bytes: number) => ({ files, filesTotal: 10, bytes, bytesTotal: 10_000 });

test('readProgress: average rate since the start and the time left at that rate', () => {
  const r = readProgress(counts(2, 2000), 1000, 3000);
  assert.equal(r.bytesPerSecond, 1000);
  assert.equal(r.etaMs, 8000);
  // Nothing measurable yet: no rate, no ETA.
  assert.deepEqual(
    [readProgress(counts(0, 0), 0, 0).bytesPerSecond, readProgress(counts(0, 0), 0, 0).etaMs],
    [0, -1],
  );
  // Unknown total: a rate but no ETA.
  assert.equal(readProgress({ files: 0, filesTotal: 0, bytes: 500, bytesTotal: 0 }, 0, 1000).etaMs, -1);
});

test('the throttle reports at most once per interval, first an interval after the start, then the final counts', () => {
  let clock = 10_000;
  const got: { r: ProgressReading; t: number }[] = [];
  const th = createProgressThrottle((r, t) => got.push({ r, t }), { intervalMs: 250, now: () => clock });
  for (let i = 1; i <= 100; i++) {
    clock += 10; // one update every 10 ms for 1 s
    th.update(counts(Math.ceil(i / 10), i * 100));
  }
  // 1000 ms of updates at 250 ms: reports at 250, 500, 750, 1000 ms.
  assert.deepEqual(
    got.map((g) => g.t - 10_000),
    [250, 500, 750, 1000],
  );
  assert.equal(got[0]?.r.bytes, 2500);
  assert.equal(got[0]?.r.bytesPerSecond, 10_000);
  th.finish(counts(10, 10_000));
  th.finish(counts(10, 10_000));
  th.update(counts(10, 10_000));
  assert.equal(got.length, 5, 'finish reports once, nothing after it');
  assert.deepEqual(
    { bytes: got[4]?.r.bytes, files: got[4]?.r.files, eta: got[4]?.r.etaMs },
    { bytes: 10_000, files: 10, eta: 0 },
  );
  const bytes = got.map((g) => g.r.bytes);
  assert.deepEqual(
    bytes,
    [...bytes].sort((a, b) => a - b),
  );
});

test('short work reports only its final counts; no work reports nothing', () => {
  let clock = 0;
  const got: ProgressReading[] = [];
  const short = createProgressThrottle((r) => got.push(r), { intervalMs: 250, now: () => clock });
  clock = 100;
  short.update(counts(1, 100));
  short.finish(counts(1, 100));
  assert.equal(got.length, 1);
  const none = createProgressThrottle((r) => got.push(r), { now: () => clock });
  none.finish({ files: 0, filesTotal: 0, bytes: 0, bytesTotal: 0 });
  assert.equal(got.length, 1);
});

test('progress text, ratio and bar', () => {
  const p = {
    files: 900,
    filesTotal: 2000,
    bytes: 12_000_000,
    bytesTotal: 40_000_000,
    bytesPerSecond: 8_000_000,
    etaMs: 3500,
  };
  assert.equal(formatProgress(p), '900/2000 files · 12MB/40MB · 8MB/s · ETA 4s');
  assert.equal(formatProgress({ bytes: 1500, bytesTotal: 0, bytesPerSecond: 0, etaMs: -1 }), '1.5kB');
  assert.equal(progressRatio(p), 0.3);
  assert.equal(
    progressRatio({ files: 1, filesTotal: 4, bytes: 0, bytesTotal: 0, bytesPerSecond: 0, etaMs: -1 }),
    0.25,
  );
  assert.equal(progressRatio({ bytes: 5, bytesTotal: 0, bytesPerSecond: 0, etaMs: -1 }), null);
  assert.equal(progressBar(0.3, 10), '███░░░░░░░');
  assert.equal(progressBar(null, 4), '░░░░');
  assert.equal(formatEta(61_000), '1m1s');
  assert.equal(formatEta(-1), '?');
});
