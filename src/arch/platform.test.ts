import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  hostPlatform,
  normalizePlatform,
  PlatformError,
  parsePlatform,
  platformMatches,
  resolveBuildPlatform,
  resolveTargetPlatforms,
} from './index.js';

test('platform strings normalise the way containerd does', () => {
  const table: [string, string, { os: string; architecture: string; variant: string }][] = [
    ['linux/amd64', 'linux/amd64', { os: 'linux', architecture: 'amd64', variant: '' }],
    ['amd64', 'linux/amd64', { os: 'linux', architecture: 'amd64', variant: '' }],
    ['x86_64', 'linux/amd64', { os: 'linux', architecture: 'amd64', variant: '' }],
    ['linux/x86-64', 'linux/amd64', { os: 'linux', architecture: 'amd64', variant: '' }],
    ['LINUX/X86_64', 'linux/amd64', { os: 'linux', architecture: 'amd64', variant: '' }],
    ['linux/amd64/v1', 'linux/amd64', { os: 'linux', architecture: 'amd64', variant: '' }],
    ['linux/amd64/v3', 'linux/amd64/v3', { os: 'linux', architecture: 'amd64', variant: 'v3' }],
    ['arm64', 'linux/arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['aarch64', 'linux/arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['linux/aarch64', 'linux/arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['linux/arm64/v8', 'linux/arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['linux/arm64/8', 'linux/arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['linux/arm64/v9', 'linux/arm64/v9', { os: 'linux', architecture: 'arm64', variant: 'v9' }],
    ['arm', 'linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/arm', 'linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/arm/7', 'linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['armhf', 'linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['armel', 'linux/arm/v6', { os: 'linux', architecture: 'arm', variant: 'v6' }],
    ['linux/arm/v6', 'linux/arm/v6', { os: 'linux', architecture: 'arm', variant: 'v6' }],
    ['i386', 'linux/386', { os: 'linux', architecture: '386', variant: '' }],
    ['linux/386', 'linux/386', { os: 'linux', architecture: '386', variant: '' }],
    ['ppc64le', 'linux/ppc64le', { os: 'linux', architecture: 'ppc64le', variant: '' }],
    ['linux/s390x', 'linux/s390x', { os: 'linux', architecture: 's390x', variant: '' }],
    ['riscv64', 'linux/riscv64', { os: 'linux', architecture: 'riscv64', variant: '' }],
    ['windows', 'windows/amd64', { os: 'windows', architecture: 'amd64', variant: '' }],
    ['windows/amd64', 'windows/amd64', { os: 'windows', architecture: 'amd64', variant: '' }],
    ['macos/arm64', 'darwin/arm64', { os: 'darwin', architecture: 'arm64', variant: 'v8' }],
    [' linux/amd64 ', 'linux/amd64', { os: 'linux', architecture: 'amd64', variant: '' }],
  ];
  for (const [input, normal, parsed] of table) {
    assert.equal(normalizePlatform(input), normal, input);
    assert.deepEqual(parsePlatform(input), parsed, input);
  }
});

test('unknown or malformed platforms are a PlatformError with a usage line', () => {
  const table: [string, RegExp][] = [
    ['foo', /^unknown platform "foo": use OS\/ARCH\[\/VARIANT\], e\.g\. linux\/amd64 or linux\/arm64$/],
    ['', /^unknown platform "": use OS/],
    ['linux/', /^unknown platform "linux\/"/],
    ['/amd64', /^unknown platform "\/amd64"/],
    ['linux/amd46', /unknown architecture "amd46"/],
    ['linux/amd64/v9', /unknown amd64 variant v9/],
    ['linux/arm64/v7', /unknown arm64 variant v7/],
    ['linux/arm/v9', /unknown arm variant v9/],
    ['linux/s390x/v1', /s390x has no variants/],
    ['armhf/v6', /unknown platform/],
    ['linux/armhf/v6', /armhf implies v7/],
    ['plan10/amd64', /unknown operating system "plan10"/],
    ['linux/amd64/v2/x', /^unknown platform/],
    ['linux amd64', /^unknown platform/],
  ];
  for (const [input, message] of table) {
    assert.throws(
      () => parsePlatform(input),
      (err: unknown) => {
        assert.ok(err instanceof PlatformError, input);
        assert.equal(err.code, 'invalid_platform');
        assert.match(err.message, message, input);
        return true;
      },
    );
  }
});

test('the host platform comes from the CPU and is always linux', () => {
  assert.deepEqual(hostPlatform('x64'), { os: 'linux', architecture: 'amd64', variant: '' });
  assert.deepEqual(hostPlatform('arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.equal(hostPlatform('arm').architecture, 'arm');
  assert.equal(hostPlatform('s390x').architecture, 's390x');
  assert.throws(() => hostPlatform('vax'), PlatformError);
  const here = hostPlatform();
  assert.equal(here.os, 'linux');
  assert.ok(['amd64', 'arm64', 'arm', '386', 'ppc64le', 's390x', 'riscv64'].includes(here.architecture));
});

test('platformMatches: same OS and architecture, variant at least as new', () => {
  assert.ok(platformMatches('linux/amd64', 'x86_64'));
  assert.ok(platformMatches('linux/arm64', 'linux/arm64/v8'));
  assert.ok(platformMatches('linux/arm64/v9', 'linux/arm64'));
  assert.ok(!platformMatches('linux/arm64', 'linux/arm64/v9'));
  assert.ok(platformMatches('linux/arm/v7', 'linux/arm/v6'));
  assert.ok(!platformMatches('linux/arm/v6', 'linux/arm/v7'));
  assert.ok(platformMatches('linux/amd64/v3', 'linux/amd64'));
  assert.ok(!platformMatches('linux/amd64', 'linux/amd64/v2'));
  assert.ok(!platformMatches('linux/amd64', 'linux/arm64'));
  assert.ok(!platformMatches('linux/arm64', 'linux/arm/v7'));
  assert.ok(!platformMatches('windows/amd64', 'linux/amd64'));
  assert.ok(platformMatches(parsePlatform('aarch64'), parsePlatform('arm64')));
});

test('--platform lists and --build-platform', () => {
  const host = parsePlatform('linux/arm64');
  assert.deepEqual(resolveTargetPlatforms(undefined, host), ['linux/arm64']);
  assert.deepEqual(resolveTargetPlatforms(' ', host), ['linux/arm64']);
  assert.deepEqual(resolveTargetPlatforms('linux/amd64, aarch64,x86_64,linux/arm64/v8', host), [
    'linux/amd64',
    'linux/arm64',
  ]);
  assert.throws(() => resolveTargetPlatforms('linux/amd64,bogus', host), /unknown platform "bogus"/);
  assert.equal(resolveBuildPlatform(undefined, {}), undefined);
  assert.equal(resolveBuildPlatform(undefined, { DEPOT_BUILD_PLATFORM: 'x86_64' }), 'linux/amd64');
  assert.equal(resolveBuildPlatform('arm64', { DEPOT_BUILD_PLATFORM: 'x86_64' }), 'linux/arm64');
  assert.throws(() => resolveBuildPlatform('linux/amd64,linux/arm64', {}), PlatformError);
});
