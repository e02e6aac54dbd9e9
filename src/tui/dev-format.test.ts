import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHANGE } from './dev-fixtures.js';
import {
  ageText,
  failedText,
  pathsText,
  rebuiltMark,
  triggerText,
  waitText,
  windowRows,
} from './dev-format.js';
import { commandForKey } from './dev-keys.js';
import { fitSegments, segmentsText } from './segments.js';
import { cellWidth } from './text.js';

test('paths, triggers and marks are short', () => {
  assert.equal(pathsText(['a', 'b', 'c', 'd', 'e']), 'a, b (+3)');
  assert.equal(pathsText(['a', 'b', 'c'], 1), 'a (+2)');
  assert.equal(pathsText(['a']), 'a');
  assert.equal(triggerText(CHANGE), 'change: src/app.js, src/lib.js (+3)');
  assert.equal(triggerText({ reason: 'initial', paths: [] }), 'initial build');
  assert.equal(triggerText({ reason: 'manual', paths: [] }), 'manual rebuild');
  assert.equal(rebuiltMark(['src/app.js', 'src/lib.js', 'src/x.js']), '← src/app.js +2');
  assert.equal(rebuiltMark(['src/app.js']), '← src/app.js');
  assert.equal(rebuiltMark([]), '');
  assert.equal(ageText(4_900), '4s ago');
  assert.equal(ageText(125_000), '2m ago');
  assert.equal(waitText(120), '120ms');
  assert.equal(waitText(1500), '1.5s');
  assert.equal(failedText('sync', 'sync failed: blob'), 'sync failed: blob');
  assert.equal(failedText('sync', 'timeout\nstack'), 'sync failed: timeout');
});

test('the window keeps the focus, two rows after it, then earlier rows, within the budget', () => {
  const ones = Array.from({ length: 20 }, () => 1);
  assert.deepEqual(windowRows(ones, 10, 30), { start: 0, end: 20, above: false, below: false });
  // 8 lines: two indicators, six rows: focus, two after, three before.
  assert.deepEqual(windowRows(ones, 10, 8), { start: 7, end: 13, above: true, below: true });
  assert.deepEqual(windowRows(ones, 0, 8), { start: 0, end: 7, above: false, below: true });
  assert.deepEqual(windowRows(ones, 19, 8), { start: 13, end: 20, above: true, below: false });
  // A tall row (a failed step with logs) counts its lines.
  const tall = ones.map((h, i) => (i === 5 ? 4 : h));
  const w = windowRows(tall, 5, 8);
  assert.ok(w.start <= 5 && w.end > 5);
  let used = (w.above ? 1 : 0) + (w.below ? 1 : 0);
  for (let i = w.start; i < w.end; i++) used += tall[i] ?? 0;
  assert.ok(used <= 8);
});

test('segments are cut to the width with an ellipsis', () => {
  const segs = [{ text: 'hello ' }, { text: 'world', color: 'red' as const }, { text: '!' }];
  assert.equal(segmentsText(fitSegments(segs, 20)), 'hello world!');
  assert.equal(segmentsText(fitSegments(segs, 8)), 'hello w…');
  assert.equal(segmentsText(fitSegments(segs, 11)), 'hello worl…');
  assert.equal(cellWidth(segmentsText(fitSegments(segs, 6))), 6);
});

test('keys map to commands', () => {
  const ui = { showHelp: false, showLogs: false };
  assert.deepEqual(commandForKey('r', {}, ui), { type: 'rebuild/requested' });
  assert.deepEqual(commandForKey('', { upArrow: true }, ui), { type: 'step/moved', delta: -1 });
  assert.deepEqual(commandForKey('j', {}, ui), { type: 'step/moved', delta: 1 });
  assert.deepEqual(commandForKey('', { pageDown: true }, ui), { type: 'step/moved', delta: 10 });
  assert.deepEqual(commandForKey('c', { ctrl: true }, ui), { type: 'quit/requested' });
  assert.deepEqual(commandForKey('i', {}, ui), { type: 'internal/toggled' });
  assert.equal(commandForKey('r', { ctrl: true }, ui), undefined);
  assert.equal(commandForKey('', { escape: true }, ui), undefined);
  assert.deepEqual(commandForKey('', { escape: true }, { ...ui, showLogs: true }), { type: 'logs/toggled' });
  assert.deepEqual(commandForKey('', { escape: true }, { showLogs: true, showHelp: true }), {
    type: 'help/toggled',
  });
});
