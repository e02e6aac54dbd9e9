import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type BuilderProcess,
  depot,
  docker,
  LAPTOP_ENGINE,
  skipReason,
  startBuilder,
  tempDir,
  tlsInit,
} from './harness.js';

const skip = skipReason();

describe('TLS builder, depot login, and a context tar on stdin', { skip }, () => {
  let builder: BuilderProcess;
  // Separate config dirs so the login does not leak into other tests' defaults.
  const home = tempDir('login-home');
  const env = {
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_CACHE_HOME: join(home, 'cache'),
    XDG_DATA_HOME: join(home, 'data'),
    DEPOT_TLS_CA: '', // the CA of tlsInit() in before()
  };

  before(async () => {
    const tls = tlsInit();
    env.DEPOT_TLS_CA = tls.ca;
    builder = await startBuilder({ args: ['--tls-cert', tls.server, '--tls-key', tls.serverKey] });
  });
  after(async () => {
    await builder?.stop();
  });

  test('login over TLS stores the token in a 0600 file and says so; builds then need no flags', async () => {
    const url = builder.url.replace('tcp://', 'tls://');
    const token = builder.token('tlsproj', 'ana');
    const login = await depot(['login', '--builder', url, '--token', token], env);
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stderr, /credentials\.json \(mode 0600/);
    const file = join(env.XDG_CONFIG_HOME, 'depot', 'credentials.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(JSON.parse(readFileSync(file, 'utf8'))[url], token);

    const ctx = tempDir('tlsctx');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY msg.txt /msg.txt\nCMD ["cat", "/msg.txt"]\n');
    writeFileSync(join(ctx, 'msg.txt'), 'over tls\n');
    const tag = `depot-it/tls:${process.pid}`;
    const r = await depot(['build', '--progress', 'plain', '-t', tag, '--load', ctx], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(docker(LAPTOP_ENGINE, ['run', '--rm', tag]).stdout, 'over tls\n');

    // Without the CA the certificate is not trusted: a clear error, not a hang.
    const bad = await depot(['build', '--progress', 'plain', ctx], { ...env, DEPOT_TLS_CA: '' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /cannot reach builder/);
  });

  test('a context tar on stdin builds like docker build -', async () => {
    const token = builder.token('tarproj');
    const ctx = tempDir('tarctx');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY a.txt /a.txt\nCMD ["cat", "/a.txt"]\n');
    writeFileSync(join(ctx, 'a.txt'), 'from a tar\n');
    const tar = execFileSync('tar', ['-c', '-C', ctx, '.']);
    const tag = `depot-it/tar:${process.pid}`;
    const url = builder.url.replace('tcp://', 'tls://');
    const r = await depot(
      ['build', '--builder', url, '--token', token, '--progress', 'plain', '-t', tag, '--load', '-'],
      env,
      tar.toString('latin1'),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(docker(LAPTOP_ENGINE, ['run', '--rm', tag]).stdout, 'from a tar\n');
  });
});
