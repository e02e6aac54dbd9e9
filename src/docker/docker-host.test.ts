import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLocalEngine, LocalEngineError, loadStreamError, parseImageRef } from './index.js';

test('a bad DOCKER_HOST is a LocalEngineError from the one engine address parser', () => {
  for (const bad of ['ssh://me@host', 'npipe:////./pipe/docker_engine', 'unix://relative', 'tcp://h:99999'])
    assert.throws(
      () => createLocalEngine({ host: bad }),
      (e: LocalEngineError) =>
        e instanceof LocalEngineError &&
        e.code === 'invalid_host' &&
        /^invalid docker host .*: use unix:\/\/\/PATH or tcp:\/\/HOST:PORT$/.test(e.message),
      bad,
    );
  assert.equal(createLocalEngine({ host: 'tcp://builder' }).host, 'tcp://builder');
});

test('parses image references for tagging', () => {
  assert.deepEqual(parseImageRef('app'), { repo: 'app', tag: 'latest' });
  assert.deepEqual(parseImageRef('app:dev'), { repo: 'app', tag: 'dev' });
  assert.deepEqual(parseImageRef('reg:5000/team/app'), { repo: 'reg:5000/team/app', tag: 'latest' });
  assert.deepEqual(parseImageRef('reg:5000/team/app:1.2'), { repo: 'reg:5000/team/app', tag: '1.2' });
  for (const bad of ['app@sha256:abc', 'app:', ':x', 'a b'])
    assert.throws(
      () => parseImageRef(bad),
      (e: LocalEngineError) => e.code === 'invalid_tag',
      bad,
    );
});

test('finds in-stream load errors', () => {
  assert.equal(loadStreamError(Buffer.from('{"stream":"Loaded image ID: sha256:abc\\n"}\n')), undefined);
  assert.equal(
    loadStreamError(
      Buffer.from(
        '{"errorDetail":{"message":"open /x/layer.tar: no such file"},"error":"open /x/layer.tar: no such file"}\n',
      ),
    ),
    'open /x/layer.tar: no such file',
  );
});

test('an unreachable engine is reported with its address', async () => {
  const eng = createLocalEngine({ host: 'unix:///nonexistent/docker.sock' });
  await assert.rejects(eng.ping(), (e: LocalEngineError) => {
    assert.equal(e.code, 'engine_unreachable');
    assert.match(e.message, /^cannot reach the local Docker engine at unix:\/\/\/nonexistent\/docker.sock/);
    return true;
  });
});
