import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createLocalEngine,
  type LocalEngineError,
  loadStreamError,
  parseDockerHost,
  parseImageRef,
} from './index.js';

test('parses docker hosts', () => {
  assert.deepEqual(parseDockerHost('unix:///var/run/docker.sock'), { socketPath: '/var/run/docker.sock' });
  assert.deepEqual(parseDockerHost('/tmp/d.sock'), { socketPath: '/tmp/d.sock' });
  assert.deepEqual(parseDockerHost('tcp://10.0.0.2:2376'), { host: '10.0.0.2', port: 2376 });
  assert.deepEqual(parseDockerHost('tcp://builder'), { host: 'builder', port: 2375 });
  assert.deepEqual(parseDockerHost('tcp://[::1]:2375'), { host: '::1', port: 2375 });
  for (const bad of [
    'ssh://me@host',
    'npipe:////./pipe/docker_engine',
    'unix://relative',
    'tcp://h:99999',
    'nonsense',
  ])
    assert.throws(
      () => parseDockerHost(bad),
      (e: LocalEngineError) => e.code === 'invalid_host',
      bad,
    );
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
