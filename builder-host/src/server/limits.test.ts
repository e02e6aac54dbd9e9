import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countInstructions, formatBytes, parseDuration, parseSize } from './limits.js';

test('sizes and durations as serve flags take them', () => {
  assert.equal(parseSize('20GiB'), 20 * 1024 ** 3);
  assert.equal(parseSize('512MB'), 512 * 1000 ** 2);
  assert.equal(parseSize('64k'), 64 * 1024);
  assert.equal(parseSize('1048576'), 1048576);
  assert.equal(parseSize('lots'), undefined);
  assert.equal(parseSize('1e400'), undefined);
  assert.equal(parseDuration('60s'), 60_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('90'), 90_000);
  assert.equal(parseDuration('soon'), undefined);
  assert.equal(formatBytes(1024 ** 2), '1MiB');
  assert.equal(formatBytes(700), '700B');
  assert.equal(formatBytes(54_000_000), '51.5MiB');
});

test('instructions are counted as the Dockerfile parser sees them', () => {
  const text = [
    '# syntax comment',
    'FROM busybox',
    '',
    'RUN echo a \\',
    '  && echo b \\',
    '  # a comment inside a continuation',
    '  && echo c',
    'COPY . /',
  ].join('\n');
  assert.equal(countInstructions(text), 3);
  // Counting stops once past the limit: a huge file is not walked to its end.
  assert.equal(countInstructions('RUN true\n'.repeat(1000), 10), 11);
});
