import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidReferenceError, parseReference, registryOf, splitTagReference } from './reference.js';

const HEX64 = 'f'.repeat(64);
const HEX128 = 'f'.repeat(128);

// Valid references, from distribution/reference's reference_test.go and normalize_test.go, with
// what docker makes of them: [input, registry, path, tag, digest].
const VALID: Array<[string, string, string, string, string]> = [
  ['test_com', 'docker.io', 'library/test_com', 'latest', ''],
  ['test.com:tag', 'docker.io', 'library/test.com', 'tag', ''],
  ['test.com:5000', 'docker.io', 'library/test.com', '5000', ''],
  ['test.com/repo:tag', 'test.com', 'repo', 'tag', ''],
  ['test:5000/repo', 'test:5000', 'repo', 'latest', ''],
  ['test:5000/repo:tag', 'test:5000', 'repo', 'tag', ''],
  [`test:5000/repo@sha256:${HEX64}`, 'test:5000', 'repo', '', `sha256:${HEX64}`],
  [`test:5000/repo:tag@sha256:${HEX64}`, 'test:5000', 'repo', 'tag', `sha256:${HEX64}`],
  ['lowercase:Uppercase', 'docker.io', 'library/lowercase', 'Uppercase', ''],
  ['sub-dom1.foo.com/bar/baz/quux', 'sub-dom1.foo.com', 'bar/baz/quux', 'latest', ''],
  ['sub-dom1.foo.com/bar/baz/quux:some-long-tag', 'sub-dom1.foo.com', 'bar/baz/quux', 'some-long-tag', ''],
  [
    'b.gcr.io/test.example.com/my-app:test.example.com',
    'b.gcr.io',
    'test.example.com/my-app',
    'test.example.com',
    '',
  ],
  ['xn--n3h.com/myimage:xn--n3h.com', 'xn--n3h.com', 'myimage', 'xn--n3h.com', ''],
  [
    `xn--7o8h.com/myimage:xn--7o8h.com@sha512:${HEX128}`,
    'xn--7o8h.com',
    'myimage',
    'xn--7o8h.com',
    `sha512:${HEX128}`,
  ],
  ['foo_bar.com:8080', 'docker.io', 'library/foo_bar.com', '8080', ''],
  ['foo/foo_bar.com:8080', 'docker.io', 'foo/foo_bar.com', '8080', ''],
  ['192.168.1.1', 'docker.io', 'library/192.168.1.1', 'latest', ''],
  ['192.168.1.1:tag', 'docker.io', 'library/192.168.1.1', 'tag', ''],
  ['192.168.1.1:5000', 'docker.io', 'library/192.168.1.1', '5000', ''],
  ['192.168.1.1/repo', '192.168.1.1', 'repo', 'latest', ''],
  ['192.168.1.1:5000/repo', '192.168.1.1:5000', 'repo', 'latest', ''],
  ['192.168.1.1:5000/repo:5050', '192.168.1.1:5000', 'repo', '5050', ''],
  ['[2001:db8::1]/repo', '[2001:db8::1]', 'repo', 'latest', ''],
  ['[2001:db8:1:2:3:4:5:6]/repo:tag', '[2001:db8:1:2:3:4:5:6]', 'repo', 'tag', ''],
  ['[2001:db8::1]:5000/repo', '[2001:db8::1]:5000', 'repo', 'latest', ''],
  ['[2001:db8::1]:5000/repo:tag', '[2001:db8::1]:5000', 'repo', 'tag', ''],
  ['[::1]:5000/repo', '[::1]:5000', 'repo', 'latest', ''],
  ['docker/docker', 'docker.io', 'docker/docker', 'latest', ''],
  ['library/debian', 'docker.io', 'library/debian', 'latest', ''],
  ['debian', 'docker.io', 'library/debian', 'latest', ''],
  ['docker.io/docker/docker', 'docker.io', 'docker/docker', 'latest', ''],
  ['docker.io/debian', 'docker.io', 'library/debian', 'latest', ''],
  ['index.docker.io/library/debian', 'docker.io', 'library/debian', 'latest', ''],
  ['127.0.0.1:5000/docker/docker', '127.0.0.1:5000', 'docker/docker', 'latest', ''],
  ['192.168.0.1:8/debian', '192.168.0.1:8', 'debian', 'latest', ''],
  ['localhost/docker/docker', 'localhost', 'docker/docker', 'latest', ''],
  ['localhost:5000/app', 'localhost:5000', 'app', 'latest', ''],
  ['a__b/c-----d.e_f', 'docker.io', 'a__b/c-----d.e_f', 'latest', ''],
  [
    `${'a/'.repeat(127)}a:tag-puts-this-over-max`,
    'docker.io',
    `${'a/'.repeat(127)}a`,
    'tag-puts-this-over-max',
    '',
  ],
  [`app:${'t'.repeat(128)}`, 'docker.io', 'library/app', 't'.repeat(128), ''],
  ['app:_under', 'docker.io', 'library/app', '_under', ''],
];

// Invalid references and the words of docker's error.
const INVALID: Array<[string, RegExp]> = [
  ['', /invalid reference format/],
  [':justtag', /invalid reference format/],
  [`@sha256:${HEX64}`, /invalid reference format/],
  ['app:bad:tag', /invalid reference format: app:bad:tag/],
  [
    'repo@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
    /invalid checksum digest length/,
  ],
  [`validname@invaliddigest:${HEX64}`, /unsupported digest algorithm/],
  ['Uppercase:tag', /repository name must be lowercase/],
  ['test:5000/Uppercase/lowercase:tag', /repository name must be lowercase/],
  ['docker/Docker', /repository name must be lowercase/],
  ['docker.io/docker/Docker', /repository name must be lowercase/],
  [`${'a/'.repeat(128)}a:tag`, /must not be more than 255 characters/],
  ['aa/asdf$$^/aa', /invalid reference format/],
  ['[fe80::1%eth0]:5000/repo', /invalid reference format/],
  ['[fe80::1%@invalidzone]:5000/repo', /invalid reference format/],
  ['https://github.com/docker/docker', /invalid reference format/],
  ['-docker', /invalid reference format/],
  ['-docker/docker', /invalid reference format/],
  ['-docker.io/docker/docker', /invalid reference format/],
  ['docker///docker', /invalid reference format/],
  ['docker.io/docker///docker', /invalid reference format/],
  ['a___b', /invalid reference format/],
  ['a..b', /invalid reference format/],
  ['a._b', /invalid reference format/],
  ['app-', /invalid reference format/],
  ['app:', /invalid reference format/],
  ['app:.tag', /invalid reference format/],
  ['app:-tag', /invalid reference format/],
  [`app:${'t'.repeat(129)}`, /invalid reference format/],
  ['app tag', /invalid reference format/],
  ['1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a', /64-byte hexadecimal/],
];

describe('image references (docker grammar)', () => {
  for (const [input, registry, path, tag, digest] of VALID) {
    test(`valid: ${input.length > 60 ? `${input.slice(0, 57)}…` : input}`, () => {
      const r = parseReference(input, { allowDigest: true });
      assert.deepEqual(
        { registry: r.registry, path: r.path, tag: r.tag, digest: r.digest },
        {
          registry,
          path,
          tag,
          digest,
        },
      );
    });
  }
  for (const [input, message] of INVALID) {
    test(`invalid: ${JSON.stringify(input.length > 60 ? `${input.slice(0, 57)}…` : input)}`, () => {
      assert.throws(
        () => parseReference(input, { allowDigest: true }),
        (e: unknown) =>
          e instanceof InvalidReferenceError && e.code === 'invalid_reference' && message.test(e.message),
      );
    });
  }

  test('repository is the name as given; a digest is refused where a tag is wanted', () => {
    assert.equal(parseReference('127.0.0.1:5000/team/app:1').repository, '127.0.0.1:5000/team/app');
    assert.equal(parseReference('app').repository, 'app');
    assert.equal(parseReference(`app:1@sha256:${HEX64}`, { allowDigest: true }).repository, 'app');
    assert.throws(() => parseReference(`app@sha256:${HEX64}`), /a digest cannot be used as a tag/);
  });
});

test('splitTagReference keeps the repository as written; registryOf decides the host like docker', () => {
  assert.deepEqual(splitTagReference('127.0.0.1:5000/team/app:1'), {
    repository: '127.0.0.1:5000/team/app',
    tag: '1',
  });
  assert.deepEqual(splitTagReference('127.0.0.1:5000/team/app'), {
    repository: '127.0.0.1:5000/team/app',
    tag: 'latest',
  });
  assert.equal(registryOf('127.0.0.1:5000/team/app'), '127.0.0.1:5000');
  assert.equal(registryOf('localhost/app'), 'localhost');
  assert.equal(registryOf('team/app'), 'docker.io');
  assert.equal(registryOf('app'), 'docker.io');
  assert.equal(registryOf('index.docker.io/team/app'), 'docker.io');
});
