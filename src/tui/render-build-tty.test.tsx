import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { parseEventLines, type StepPhase } from '../progress/index.js';
import { pickRows } from './BuildsView.js';
import { renderBuildsTty, renderBuildTty } from './render-build-tty.js';

class FakeStdout extends EventEmitter {
  columns = 80;
  rows = 40;
  isTTY = true;
  chunks: string[] = [];
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
  text(): string {
    return stripVTControlCharacters(this.chunks.join(''));
  }
}

const fixture = (name: string) =>
  parseEventLines(readFileSync(new URL(`../progress/fixtures/${name}.jsonl`, import.meta.url), 'utf8'));

test('renderBuildTty throttles re-renders and prints the final state on close', async () => {
  const stdout = new FakeStdout();
  let clock = 0;
  const tty = renderBuildTty({ stdout: stdout as unknown as NodeJS.WriteStream, now: () => clock, fps: 15 });
  const events = fixture('sample-build');
  const afterMount = stdout.chunks.length;
  assert.ok(afterMount > 0, 'mounting renders the empty view');
  // A burst inside one throttle window (the clock does not move) renders nothing at once…
  for (const e of events) tty.handle(e);
  assert.equal(tty.state().steps.length, 11);
  assert.equal(stdout.chunks.length, afterMount);
  // …but once, a frame interval later.
  clock = 1000;
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.ok(stdout.chunks.length > afterMount, 'the deferred render ran');
  await tty.close();
  const out = stdout.text();
  // Every Dockerfile step once it settled; BuildKit's own vertices folded into two lines.
  for (const n of [4, 6, 7, 8, 9, 10]) assert.match(out, new RegExp(`[✔●] #${n} `));
  assert.match(out, /✔ {7}internal · Dockerfile 245B/);
  assert.match(out, /✔ {7}export · exporting to image/);
  assert.match(out, /steps 6 · cached 4 · 1\.7s · synced 1\.234kB · loaded 12\.8kB of 5\.398MB/);
  assert.match(out, /✔ image sha256:[0-9a-f]{12} \(app:dev\)/);
  // close is idempotent and later events are ignored
  tty.handle({ type: 'message/logged', timeMs: 0, text: 'late' });
  await tty.close();
});

test('renderBuildTty shows a failed build with its logs', async () => {
  const stdout = new FakeStdout();
  const tty = renderBuildTty({ stdout: stdout as unknown as NodeJS.WriteStream, now: () => 0 });
  for (const e of fixture('failed-build')) tty.handle(e);
  await tty.close();
  const out = stdout.text();
  assert.match(out, /✖ #9 .*RUN \.\/test\.sh/);
  assert.match(out, / {4}│ exit status 1/);
  assert.match(out, /✖ process "\/bin\/sh -c \.\/test\.sh" did not complete successfully: exit code: 1/);
});

test('renderBuildTty keeps the running clock moving between events', async () => {
  const stdout = new FakeStdout();
  let clock = 0;
  const tty = renderBuildTty({ stdout: stdout as unknown as NodeJS.WriteStream, now: () => clock });
  const T = 1_750_000_000_000;
  tty.handle({
    type: 'sync/acked',
    timeMs: T,
    snapshotId: '',
    bytesSent: 0,
    blobsSent: 0,
    entries: 1,
    totalBytes: 0,
  });
  tty.handle({
    type: 'vertex/updated',
    timeMs: T,
    vertex: {
      digest: 'sha256:a',
      name: '[1/1] RUN sleep 30',
      inputs: [],
      cached: false,
      startedMs: T,
      completedMs: 0,
      error: '',
    },
  });
  // No event arrives while the step runs; only the local clock moves.
  clock = 12_300;
  const deadline = Date.now() + 5000;
  while (!/RUN sleep 30 +12\.3s/.test(stdout.text()) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 20));
  assert.match(stdout.text(), /RUN sleep 30 +12\.3s/);
  assert.match(stdout.text(), /steps 0\/1 · cached 0 · 12\.3s/);
  await tty.close();
});

test('renderBuildTty lists daemon warnings but not the echoed `Successfully tagged`', async () => {
  const stdout = new FakeStdout();
  const tty = renderBuildTty({ stdout: stdout as unknown as NodeJS.WriteStream, now: () => 0 });
  for (const e of fixture('failed-build')) tty.handle(e);
  tty.handle({ type: 'message/logged', timeMs: 0, text: 'Successfully tagged app:dev' });
  await tty.close();
  const out = stdout.text();
  assert.match(out, /! WARN: FromAsCasing: 'as' and 'FROM' keywords' casing do not match \(line 1\)/);
  assert.doesNotMatch(out, /Successfully tagged/);
});

test('renderBuildsTty shows several builds on one screen, each in its share of the rows', async () => {
  const stdout = new FakeStdout();
  stdout.rows = 12;
  let clock = 0;
  const tty = renderBuildsTty({
    stdout: stdout as unknown as NodeJS.WriteStream,
    now: () => clock,
    labels: ['linux/amd64', 'linux/arm64'],
  });
  const good = fixture('sample-build');
  const bad = fixture('failed-build');
  // Half of each build: both headers are live, each with its own steps.
  for (const e of good.slice(0, Math.floor(good.length / 2))) tty.handle('linux/amd64', e);
  for (const e of bad.slice(0, Math.floor(bad.length / 2))) tty.handle('linux/arm64', e);
  clock = 1000;
  await new Promise((resolve) => setTimeout(resolve, 150));
  const live = stdout.text();
  assert.match(live, /linux\/amd64 +steps \d+\/\d+ · cached/);
  assert.match(live, /linux\/arm64 +steps \d+\/\d+ · cached/);
  // No frame is taller than the terminal: the view never scrolls itself off screen.
  const lastFrame = stdout.chunks.at(-1) ?? '';
  assert.ok(stripVTControlCharacters(lastFrame).split('\n').length <= stdout.rows, lastFrame);
  for (const e of good.slice(Math.floor(good.length / 2))) tty.handle('linux/amd64', e);
  for (const e of bad.slice(Math.floor(bad.length / 2))) tty.handle('linux/arm64', e);
  await tty.close();
  const out = stdout.text();
  assert.match(out, /✔ linux\/amd64 +image sha256:[0-9a-f]{12} · steps 6 · cached 4 · 1\.7s/);
  assert.match(out, /✖ linux\/arm64 +failed · steps 5 · cached 2/);
  assert.match(out, / {2}✖ process "\/bin\/sh -c \.\/test\.sh" did not complete/);
  // The failed step and the end of its log stay under its build.
  assert.match(out, /✖ #9 .*RUN \.\/test\.sh/);
  assert.match(out, /│ exit status 1/);
  assert.equal(tty.states().get('linux/amd64')?.result?.ok, true);
});

test('pickRows keeps failed and running steps before the latest finished ones, in step order', () => {
  const row = (n: number, phase: StepPhase, logs: string[] = []) => ({ number: `#${n}`, phase, logs });
  const rows = [
    row(1, 'cached'),
    row(2, 'done'),
    row(3, 'failed', ['a', 'b', 'c']),
    row(4, 'running'),
    row(5, 'waiting'),
  ];
  assert.deepEqual(
    pickRows(rows, 4).shown.map((r) => [r.number, r.logs.length]),
    [
      ['#3', 3],
      // the running step did not fit beside the failed one's log
    ],
  );
  assert.deepEqual(
    pickRows(rows, 6).shown.map((r) => r.number),
    ['#2', '#3', '#4'],
  );
  assert.deepEqual(
    pickRows(rows, 2).shown.map((r) => [r.number, r.logs.length]),
    [['#3', 1]],
  );
  assert.equal(pickRows(rows, 0).shown.length, 0);
  assert.equal(pickRows(rows, 6).hidden, 2);
});
