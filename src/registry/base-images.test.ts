// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile variables, not template strings
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromRegistries } from './base-images.js';
import { registryAuthForBuild } from './build-auth.js';
import { configuredRegistries } from './credentials.js';

const from = (text: string, args: Record<string, string> = {}) => fromRegistries(text, args);

describe('fromRegistries', () => {
  test('hub images, registry hosts, ports, digests, tags', () => {
    assert.deepEqual(
      from(
        [
          'FROM node:20',
          'FROM library/alpine',
          'FROM ghcr.io/acme/base:1.2',
          'FROM localhost:5000/app',
          `FROM 127.0.0.1:5000/team/app@sha256:${'a'.repeat(64)}`,
          'FROM registry-1.docker.io/library/busybox',
          'FROM ghcr.io/acme/other',
        ].join('\n'),
      ),
      { hosts: ['docker.io', 'ghcr.io', 'localhost:5000', '127.0.0.1:5000'], unresolved: false },
    );
  });

  test('scratch and earlier stage names are not images; case-insensitive; later names are', () => {
    const text = [
      'FROM golang:1.22 AS Build',
      'FROM build AS test',
      'FROM scratch',
      'FROM TEST',
      'FROM final',
      'FROM reg.example.com/x AS final',
    ].join('\n');
    assert.deepEqual(from(text), { hosts: ['docker.io', 'reg.example.com'], unresolved: false });
  });

  test('--platform and other flags, AS, lower-case keywords, comments, blank lines', () => {
    const text = [
      '# a comment',
      '',
      'from --platform=$BUILDPLATFORM reg.io/tools:1 as tools',
      '  FROM   --platform=linux/arm64   quay.io/org/img   AS   x  ',
      'RUN echo FROM nope.example.com/not-an-image',
    ].join('\n');
    assert.deepEqual(from(text), { hosts: ['reg.io', 'quay.io'], unresolved: false });
  });

  test('line continuations (with comments inside) and the escape directive', () => {
    assert.deepEqual(from('FROM \\\n  --platform=linux/amd64 \\\n# note\n\n  reg.io/a:1 \\\n  AS a\n'), {
      hosts: ['reg.io'],
      unresolved: false,
    });
    assert.deepEqual(from('# escape=`\nFROM `\n  reg2.io/b\nRUN dir c:\\\n'), {
      hosts: ['reg2.io'],
      unresolved: false,
    });
  });

  test('global ARGs: defaults, --build-arg overrides, ${X}, $X, ${X:-d}, chained defaults', () => {
    const text = [
      'ARG REGISTRY=reg.io',
      'ARG ORG="acme"',
      'ARG TAG',
      'ARG IMG=${REGISTRY}/$ORG/base',
      'FROM $IMG:${TAG:-1.0}',
      'FROM ${MIRROR:-mirror.io}/library/node',
      'FROM ${REGISTRY}/other AS o',
    ].join('\n');
    assert.deepEqual(from(text), { hosts: ['reg.io', 'mirror.io'], unresolved: false });
    assert.deepEqual(from(text, { REGISTRY: 'private.example.com:5000', TAG: '2' }), {
      hosts: ['private.example.com:5000', 'mirror.io'],
      unresolved: false,
    });
  });

  test('a --build-arg counts only for declared ARGs; ARGs after the first FROM do not count', () => {
    const text = ['FROM scratch AS s', 'ARG LATE=late.io', 'FROM ${LATE:-early.io}/x'].join('\n');
    assert.deepEqual(from(text, { LATE: 'given.io' }), { hosts: ['early.io'], unresolved: false });
  });

  test('unresolved: an unset or undeclared ARG, a platform ARG, an unsupported expansion', () => {
    assert.deepEqual(from('ARG BASE\nFROM $BASE'), { hosts: [], unresolved: true });
    assert.deepEqual(from('FROM ${NOT_DECLARED}/app'), { hosts: [], unresolved: true });
    assert.deepEqual(from('FROM img-$TARGETARCH'), { hosts: [], unresolved: true });
    assert.deepEqual(from('ARG R=reg.io\nFROM ${R%.io}/x'), { hosts: [], unresolved: true });
    assert.deepEqual(from('ARG BASE\nFROM $BASE', { BASE: 'ghcr.io/a/b' }), {
      hosts: ['ghcr.io'],
      unresolved: false,
    });
  });

  test('a variable after the registry part leaves the registry known', () => {
    assert.deepEqual(from('FROM reg.io/app:${TARGETARCH}\nFROM team/app:$UNSET'), {
      hosts: ['reg.io', 'docker.io'],
      unresolved: false,
    });
  });

  test('COPY --from and RUN --mount from= images; stage names and indexes are not', () => {
    const text = [
      'FROM alpine AS build',
      'COPY --from=build /a /b',
      'COPY --from=0 /a /b',
      'COPY --chown=1:1 --from=ghcr.io/acme/tools:1 /bin/x /x',
      'RUN --mount=type=bind,from=quay.io/org/cache,target=/c true',
      'RUN --mount=type=cache,target=/root/.cache true',
    ].join('\n');
    assert.deepEqual(from(text), { hosts: ['docker.io', 'ghcr.io', 'quay.io'], unresolved: false });
  });

  test('the # syntax= frontend image', () => {
    assert.deepEqual(from('# syntax=reg.io/frontends/dockerfile:1\nFROM scratch\n'), {
      hosts: ['reg.io'],
      unresolved: false,
    });
  });

  test('heredoc bodies are not instructions', () => {
    const text = [
      'FROM alpine',
      'RUN <<EOF',
      'FROM evil.io/x',
      'EOF',
      'COPY <<-END /f',
      '\tFROM also.io/no',
      '\tEND',
      'FROM ok.io/y',
    ].join('\n');
    assert.deepEqual(from(text), { hosts: ['docker.io', 'ok.io'], unresolved: false });
  });

  test('no FROM at all', () => {
    assert.deepEqual(from(''), { hosts: [], unresolved: false });
  });
});

describe('registryAuthForBuild', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const config = {
    auths: {
      'reg.io': { auth: b64('u:p') },
      'https://index.docker.io/v1/': { auth: b64('hub:hp') },
      'push.io': { auth: b64('pu:pp') },
      'unused.io': { auth: b64('x:y') },
    },
    credHelpers: { 'helper.io': 'broken' },
  };
  const runHelper = async () => {
    throw new Error('docker-credential-broken: not found');
  };

  test('push tags and base images; other registries of the config are not sent', async () => {
    const r = await registryAuthForBuild({
      pushTags: ['push.io/team/app:1'],
      dockerfile: 'FROM reg.io/base\nFROM node:20\n',
      buildArgs: {},
      config,
      runHelper,
    });
    assert.deepEqual(Object.keys(r.auth).sort(), ['docker.io', 'push.io', 'reg.io']);
    assert.equal(r.auth['reg.io']!.username, 'u');
    assert.deepEqual(r.warnings, []);
  });

  test('without --push only the base images', async () => {
    const r = await registryAuthForBuild({
      pushTags: [],
      dockerfile: 'FROM reg.io/base',
      buildArgs: {},
      config,
    });
    assert.deepEqual(Object.keys(r.auth), ['reg.io']);
  });

  test('unresolved: every registry of the config; a failing helper for a pull registry is a warning', async () => {
    const r = await registryAuthForBuild({
      pushTags: [],
      dockerfile: 'ARG BASE\nFROM $BASE\n',
      buildArgs: {},
      config,
      runHelper,
    });
    assert.deepEqual(Object.keys(r.auth).sort(), ['docker.io', 'push.io', 'reg.io', 'unused.io']);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /^no credentials for helper\.io \(pulling anonymously\)/);
  });

  test('a failing helper for a push registry is an error', async () => {
    await assert.rejects(
      registryAuthForBuild({
        pushTags: ['helper.io/app:1'],
        dockerfile: 'FROM scratch',
        buildArgs: {},
        config,
        runHelper,
      }),
      /not found/,
    );
  });

  test('configuredRegistries: hosts of auths and credHelpers', () => {
    assert.deepEqual(configuredRegistries(config), [
      'reg.io',
      'docker.io',
      'push.io',
      'unused.io',
      'helper.io',
    ]);
    assert.deepEqual(configuredRegistries({}), []);
  });
});
