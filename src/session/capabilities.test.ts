import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requirePlatform } from './capabilities.js';

const hello = (platforms: string[], emulatedPlatforms: string[] = []) => ({
  builderId: 'b1',
  platforms,
  emulatedPlatforms,
});

test('a platform the builder builds natively passes; aliases are normalised', () => {
  assert.equal(requirePlatform(hello(['linux/amd64']), 'linux/amd64'), 'native');
  assert.equal(requirePlatform(hello(['linux/arm64/v8']), 'arm64'), 'native');
  assert.equal(requirePlatform(hello(['linux/amd64']), ''), 'native');
});

test('a platform neither built nor emulated is refused in one line naming what the builder builds', () => {
  assert.throws(
    () => requirePlatform(hello(['linux/amd64']), 'linux/s390x'),
    (e: Error & { code?: string; hint?: string }) =>
      e.code === 'unsupported_platform' &&
      e.message === 'builder b1 cannot build linux/s390x (it builds linux/amd64)' &&
      /build for linux\/amd64/.test(e.hint ?? ''),
  );
});

test('an emulated platform needs allowEmulation; "*" (the embedded builder) leaves it to the engine', () => {
  assert.throws(
    () => requirePlatform(hello(['linux/amd64'], ['linux/arm64']), 'arm64'),
    (e: Error & { hint?: string }) =>
      /cannot build linux\/arm64 \(it builds linux\/amd64; it emulates linux\/arm64\)/.test(e.message) &&
      /--allow-emulation/.test(e.hint ?? ''),
  );
  assert.equal(
    requirePlatform(hello(['linux/amd64'], ['linux/arm64']), 'arm64', { allowEmulation: true }),
    'emulated',
  );
  assert.equal(
    requirePlatform(hello(['linux/amd64'], ['*']), 'linux/riscv64', { allowEmulation: true }),
    'emulated',
  );
  // Like `docker build --platform` on the same engine: no flag needed, the engine decides.
  assert.equal(requirePlatform(hello(['linux/amd64'], ['*']), 'linux/arm64'), 'emulated');
  assert.throws(
    () => requirePlatform(hello(['linux/amd64'], ['linux/arm64']), 'linux/s390x', { allowEmulation: true }),
    /cannot build linux\/s390x/,
  );
});
