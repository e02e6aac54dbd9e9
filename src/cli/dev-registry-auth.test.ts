import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { devRegistryAuth } from './dev.js';

describe('devRegistryAuth', () => {
  let dir: string;
  const saved = process.env.DOCKER_CONFIG;
  const write = (user: string) =>
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ auths: { 'reg.io': { auth: Buffer.from(`${user}:pw`).toString('base64') } } }),
    );
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'depot-dev-auth-'));
    process.env.DOCKER_CONFIG = dir;
    write('first');
  });
  after(() => {
    if (saved === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  test('per Dockerfile text, reused until it changes or the TTL passes', async () => {
    let now = 0;
    const resolve = devRegistryAuth({}, () => now);
    const a = await resolve('FROM reg.io/base');
    assert.equal(a.auth['reg.io']?.username, 'first');
    write('second');
    assert.equal((await resolve('FROM reg.io/base')).auth['reg.io']?.username, 'first');
    assert.deepEqual((await resolve('FROM alpine')).auth, {});
    assert.equal((await resolve('FROM reg.io/base')).auth['reg.io']?.username, 'second');
    write('third');
    now += 6 * 60_000;
    assert.equal((await resolve('FROM reg.io/base')).auth['reg.io']?.username, 'third');
  });
});
