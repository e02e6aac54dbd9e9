import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, formatDuration, formatSeconds, shortDigest } from './format.js';
import { isProgressMode, resolveProgressMode } from './mode.js';

test('formatBytes follows go-units HumanSize', () => {
  assert.equal(formatBytes(0), '0B');
  assert.equal(formatBytes(2), '2B');
  assert.equal(formatBytes(999), '999B');
  assert.equal(formatBytes(1000), '1kB');
  assert.equal(formatBytes(1200), '1.2kB');
  assert.equal(formatBytes(1234), '1.234kB');
  assert.equal(formatBytes(12000), '12kB');
  assert.equal(formatBytes(3_400_000), '3.4MB');
  assert.equal(formatBytes(45_600_000), '45.6MB');
  assert.equal(formatBytes(999_999), '1000kB');
  assert.equal(formatBytes(2_500_000_000), '2.5GB');
});

test('formatDuration uses tenths under a minute, then minutes and seconds', () => {
  assert.equal(formatDuration(0), '0.0s');
  assert.equal(formatDuration(300), '0.3s');
  assert.equal(formatDuration(2140), '2.1s');
  assert.equal(formatDuration(59_940), '59.9s');
  assert.equal(formatDuration(59_960), '1m0s');
  assert.equal(formatDuration(62_000), '1m2s');
  assert.equal(formatDuration(3_723_000), '1h2m3s');
  assert.equal(formatDuration(-5), '0.0s');
});

test('formatSeconds rounds like Go %.Nf (exact ties to even)', () => {
  assert.equal(formatSeconds(250), '0.2');
  assert.equal(formatSeconds(750), '0.8');
  assert.equal(formatSeconds(350), '0.3'); // 0.35 is 0.34999… in binary
  assert.equal(formatSeconds(1249), '1.2');
  assert.equal(formatSeconds(123, 3), '0.123');
  assert.equal(formatSeconds(62.5, 3), '0.062');
  assert.equal(formatSeconds(9999), '10.0');
  assert.equal(formatSeconds(0, 3), '0.000');
});

test('shortDigest keeps the algorithm and 12 hex digits', () => {
  assert.equal(shortDigest(`sha256:${'ab'.repeat(32)}`), 'sha256:abababababab');
  assert.equal(shortDigest('0123456789abcdef'), '0123456789ab');
});

test('auto progress is tty only on a terminal outside CI', () => {
  assert.equal(resolveProgressMode('auto', { isTTY: true, ci: false }), 'tty');
  assert.equal(resolveProgressMode('auto', { isTTY: true, ci: true }), 'plain');
  assert.equal(resolveProgressMode('auto', { isTTY: false, ci: false }), 'plain');
  assert.equal(resolveProgressMode('json', { isTTY: true, ci: false }), 'json');
  assert.equal(resolveProgressMode('tty', { isTTY: false, ci: true }), 'tty');
  assert.equal(resolveProgressMode('quiet', { isTTY: true, ci: false }), 'quiet');
  assert.ok(isProgressMode('plain'));
  assert.ok(!isProgressMode('rawjson'));
});
