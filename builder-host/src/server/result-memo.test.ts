import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createResultMemo, memoKey, remoteInputs } from './result-memo.js';

const inputs = (dockerfile: string) => ({
  project: 'p',
  snapshotId: 'sha256:snap',
  dockerfile: Buffer.from(dockerfile),
  dockerfilePath: 'Dockerfile',
  buildArgs: {},
  target: '',
  platform: '',
  labels: {},
});

test('a Dockerfile whose inputs are all in the snapshot and the FROM images has a memo key', () => {
  for (const df of [
    'FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt\n',
    'FROM busybox AS build\nRUN echo hi > /x\nFROM busybox\nCOPY --from=build /x /x\n',
    'FROM busybox AS Build\nFROM busybox\nCOPY --from=build /x /x\nCOPY --from=0 /y /y\n',
    'FROM busybox AS deps\nFROM busybox\nRUN --mount=type=bind,from=deps,target=/d cat /d/x\n',
    'FROM busybox\nRUN --mount=type=cache,target=/c echo\nADD local.tar /\n',
    '# escape=`\nFROM busybox\nADD ["a b.txt", "/x"]\n',
  ]) {
    assert.deepEqual(remoteInputs(df), [], df);
    assert.match(memoKey(inputs(df), ['busybox=sha256:b']) ?? '', /^[0-9a-f]{64}$/, df);
  }
});

test('a Dockerfile with inputs from outside (URL, git, image, frontend) is never memoized', () => {
  const cases: [string, string][] = [
    ['FROM busybox\nADD https://example.com/x.tgz /x\n', 'ADD https://example.com/x.tgz'],
    ['FROM busybox\nADD --chmod=644 http://example.com/x /x\n', 'ADD http://example.com/x'],
    ['FROM busybox\nADD ["git@github.com:o/r.git", "/src"]\n', 'ADD git@github.com:o/r.git'],
    ['FROM busybox\nADD git://example.com/r.git#main /src\n', 'ADD git://example.com/r.git#main'],
    ['FROM busybox\nARG SRC\nADD $SRC /src\n', 'ADD $SRC'],
    ['FROM busybox\nCOPY --from=alpine:3 /bin/sh /sh\n', 'COPY --from=alpine:3'],
    ['FROM busybox AS a\nFROM busybox\nCOPY --from=2 /x /x\n', 'COPY --from=2'],
    [`FROM busybox\nARG IMG=a\nCOPY --from=\${IMG} /x /x\n`, `COPY --from=\${IMG}`],
    ['FROM busybox\nRUN --mount=type=bind,from=tools:1,target=/t /t/run\n', 'RUN --mount=from=tools:1'],
    ['# syntax=docker/dockerfile:1\nFROM busybox\nRUN true\n', '# syntax=docker/dockerfile:1'],
  ];
  for (const [df, why] of cases) {
    assert.deepEqual(remoteInputs(df), [why], df);
    assert.equal(memoKey(inputs(df), ['busybox=sha256:b']), undefined, df);
  }
});

test('the memo answers nothing for a build without a key', async () => {
  const memo = createResultMemo(mkdtempSync(join(tmpdir(), 'memo-')));
  const key = memoKey(inputs('FROM busybox\n'), [])!;
  await memo.put(key, { imageId: 'sha256:i', vertices: [], builtAt: 'now' });
  assert.equal((await memo.get(key))?.imageId, 'sha256:i');
  assert.equal(await memo.get(undefined), undefined);
});
