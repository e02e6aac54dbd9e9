import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { contextReads } from './context-reads.js';

const paths = (df: string, args: Record<string, string> = {}) => {
  const r = contextReads(df, args);
  assert.equal(r.kind, 'paths', r.kind === 'all' ? r.reason : '');
  return r.kind === 'paths' ? r.paths : [];
};
const whole = (df: string, args: Record<string, string> = {}) => {
  const r = contextReads(df, args);
  assert.equal(r.kind, 'all', JSON.stringify(r));
  return r.kind === 'all' ? r.reason : '';
};

describe('the context paths a Dockerfile reads', () => {
  test('COPY and ADD sources of every stage, shell and JSON form, flags skipped', () => {
    assert.deepEqual(
      paths(
        [
          'FROM busybox AS deps',
          'COPY --chown=1:1 package.json package-lock.json /app/',
          'FROM busybox',
          'COPY ["src dir/", "/app/src"]',
          'ADD vendor.tar.gz /opt/',
          'copy ./late.txt /late.txt',
          '',
        ].join('\n'),
      ),
      ['late.txt', 'package-lock.json', 'package.json', 'src dir', 'vendor.tar.gz'],
    );
  });

  test('what is not read from the context: --from, remote ADD, heredocs, ONBUILD, other mounts', () => {
    assert.deepEqual(
      paths(
        [
          'FROM busybox AS a',
          'FROM busybox',
          'COPY --from=a /x /x',
          'COPY --from=nginx:1 /etc/nginx /etc/nginx',
          'ADD https://example.com/f.tgz /f.tgz',
          'ADD git@github.com:org/repo.git /repo',
          'ONBUILD COPY . /app',
          'RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=s --mount=type=bind,from=a,target=/a true',
          'RUN --mount=type=bind,source=scripts,target=/s /s/run.sh',
          'RUN --mount=target=/t,src=tools true',
          '',
        ].join('\n'),
      ),
      ['scripts', 'tools'],
    );
  });

  test('ARG and ENV resolved as BuildKit resolves them', () => {
    const df = [
      'ARG DIR=global',
      'FROM busybox AS base',
      'ARG DIR',
      'ENV SUB=lib',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text
      'COPY ${DIR}/$SUB /x',
      'FROM base',
      'ARG EMPTY',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text
      'COPY ${SUB}/file ${EMPTY:-dflt}/f /y/',
      'ARG NAME=n1',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text
      'COPY ${NAME:+set}-$NAME /z',
      '',
    ].join('\n');
    assert.deepEqual(paths(df), ['dflt/f', 'global/lib', 'lib/file', 'set-n1']);
    assert.deepEqual(paths(df, { DIR: 'given', NAME: 'n2' }), ['dflt/f', 'given/lib', 'lib/file', 'set-n2']);
  });

  test('the whole context when a source cannot be known for sure', () => {
    assert.match(whole('FROM busybox\nCOPY . /app\n'), /whole context/);
    assert.match(whole('FROM busybox\nCOPY ./ /app\n'), /whole context/);
    assert.match(whole('FROM busybox\nCOPY src/.. /app\n'), /whole context/);
    assert.match(whole('FROM busybox\nRUN --mount=type=bind,target=/src make\n'), /whole context/);
    // Only the base image could say what $HOME is.
    assert.match(whole('FROM busybox\nCOPY $HOME/x /x\n'), /only the build can resolve/);
    // A platform arg BuildKit fills in itself.
    assert.match(whole('FROM busybox\nARG TARGETARCH\nCOPY bin/$TARGETARCH /bin/app\n'), /TARGETARCH/);
    assert.match(whole('# syntax=docker/dockerfile:1\nFROM busybox\nCOPY a /a\n'), /syntax/);
    // A stage does not see the ARGs of its parent stage.
    assert.match(whole('FROM busybox AS a\nARG X=1\nFROM a\nCOPY $X /x\n'), /X/);
  });

  test('no COPY from the context: nothing but what the caller adds', () => {
    assert.deepEqual(paths('FROM busybox\nRUN echo hi\n'), []);
  });
});

describe('the Dockerfile reader the registry credentials use, for context paths too', () => {
  test('escape directive, line continuations with comments, heredoc bodies, ENV forms', () => {
    assert.deepEqual(
      paths(
        [
          '# escape=`',
          'FROM busybox',
          'ENV DIR src',
          'ENV A=one B="two"',
          'COPY a.txt `',
          '  # a comment inside the continuation',
          '  $DIR/ /x/',
          'COPY <<EOF /script.sh',
          'COPY not-a-path /nope',
          'EOF',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text
          'COPY ${A}-${B} /y',
          '',
        ].join('\n'),
      ),
      ['a.txt', 'one-two', 'src'],
    );
  });
});
