import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { authForHost, encodeRegistryAuth, parsePushStream, pushError } from './push.js';

describe('engine push helpers', () => {
  test('authForHost finds docker.io under its legacy key and URL keys by host', () => {
    const hub = { username: 'h' };
    const reg = { username: 'r' };
    const auths = { 'https://index.docker.io/v1/': hub, 'http://reg.example:5000/v2/': reg };
    assert.equal(authForHost(auths, 'docker.io'), hub);
    // BuildKit's session asks for the Hub by its API host.
    assert.equal(authForHost(auths, 'registry-1.docker.io'), hub);
    assert.equal(authForHost(auths, 'reg.example:5000'), reg);
    assert.equal(authForHost(auths, 'other:1'), undefined);
  });

  test('X-Registry-Auth is padded URL-safe base64 of the docker auth config', () => {
    const h = encodeRegistryAuth({ username: 'u', password: 'p?>~~' }, '127.0.0.1:5000');
    assert.doesNotMatch(h, /[+/]/);
    assert.equal(h.length % 4, 0);
    const j = JSON.parse(Buffer.from(h.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString());
    assert.deepEqual(j, { username: 'u', password: 'p?>~~', serveraddress: '127.0.0.1:5000' });
    const anon = JSON.parse(Buffer.from(encodeRegistryAuth(undefined, 'x'), 'base64').toString());
    assert.deepEqual(anon, {});
    const tok = JSON.parse(
      Buffer.from(encodeRegistryAuth({ identityToken: 't' }, 'docker.io'), 'base64').toString(),
    );
    assert.deepEqual(tok, { identitytoken: 't', serveraddress: 'https://index.docker.io/v1/' });
  });

  test('parsePushStream returns the final aux and forwards finished layers', async () => {
    const seen: string[] = [];
    const r = await parsePushStream(
      [
        '{"status":"The push refers to repository [127.0.0.1:5000/a]"}',
        '{"status":"Preparing","progressDetail":{},"id":"abc"}',
        '{"status":"Pushing","progressDetail":{"current":1,"total":2},"id":"abc"}',
        '{"status":"Pushed","progressDetail":{},"id":"abc"}',
        '{"status":"1: digest: sha256:aa size: 527"}',
        `{"progressDetail":{},"aux":{"Tag":"1","Digest":"sha256:${'a'.repeat(64)}","Size":527}}`,
      ],
      '127.0.0.1:5000/a:1',
      (t) => seen.push(t),
    );
    assert.deepEqual(r, { digest: `sha256:${'a'.repeat(64)}`, size: 527, tag: '1' });
    assert.deepEqual(seen, ['abc: Pushed']);
  });

  test('in-stream errors become clear push errors', async () => {
    await assert.rejects(
      parsePushStream(
        ['{"errorDetail":{"message":"no basic auth credentials"},"error":"no basic auth credentials"}'],
        'r/a:1',
      ),
      (e: Error & { code?: string }) =>
        e.code === 'push_denied' && e.message === 'push to r/a:1 denied: authentication required',
    );
    assert.equal(pushError('r/a:1', 'unauthorized: authentication required').code, 'push_denied');
    const u = pushError(
      'r/a:1',
      'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused',
    );
    assert.equal(u.code, 'registry_unreachable');
    assert.match(u.message, /push to r\/a:1 failed: registry unreachable/);
    await assert.rejects(parsePushStream(['{"status":"x"}'], 'r/a:1'), /reported no digest/);
  });
});
