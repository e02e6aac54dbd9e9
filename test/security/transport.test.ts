import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BUILDER_BIN,
  BUILDER_ENGINE,
  type BuilderProcess,
  buildOn,
  depot,
  devOn,
  skipReason,
  startBuilder,
  type TlsFiles,
  tempDir,
  tlsInit,
  until,
} from '../integration/harness.js';

// The transport of a shared builder: no token in plaintext off this machine (builder and client
// refuse it unless told --insecure), TLS from `depot-builder tls init`, and mutual TLS.
//
// Non-loopback addresses here are 0.0.0.0: the refusal treats it as remote (it is not in
// 127.0.0.0/8), while the kernel delivers a connection to it on this machine, so nothing the tests
// send (or would send, were the refusal broken) leaves the machine.

const skip = skipReason();

const PLAINTEXT_REFUSED =
  /^depot: refusing to send a token in plaintext to (\S+): use tls:\/\/… \(DEPOT_TLS_CA for a private CA\) or pass --insecure \/ DEPOT_INSECURE=1\n$/;

/** A context whose build needs nothing but the busybox base image the engines have. */
function context(text: string): string {
  const dir = tempDir('transport-ctx');
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY msg.txt /msg.txt\n');
  writeFileSync(join(dir, 'msg.txt'), `${text}\n`);
  return dir;
}

/** A TCP listener on 127.0.0.1 that counts connections and drops each at once. */
async function countingListener(): Promise<{
  port: number;
  connections: () => number;
  close(): Promise<void>;
}> {
  let n = 0;
  const server: Server = createServer((socket) => {
    n++;
    socket.destroy();
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    connections: () => n,
    close: () => new Promise<void>((res) => server.close(() => res())),
  };
}

/** The builder's pino lines. */
function logLines(b: BuilderProcess): { level: number; msg: string }[] {
  return b
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string });
}

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const l = await countingListener();
  await l.close();
  return l.port;
}

describe('builder: no plaintext off this machine unless --insecure', { skip }, () => {
  let insecure: BuilderProcess | undefined;
  after(async () => {
    await insecure?.stop();
  });

  test('serve on 0.0.0.0 without --tls-cert/--tls-key refuses to start with one line', async () => {
    const port = await freePort();
    const data = tempDir('refused-data');
    const r = spawnSync(
      process.execPath,
      [BUILDER_BIN, 'serve', '--engine', BUILDER_ENGINE, '--data', data, '--listen', `0.0.0.0:${port}`],
      { encoding: 'utf8', timeout: 20_000 },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.equal(
      r.stderr,
      `depot-builder: refusing to serve plaintext on 0.0.0.0:${port}: pass --tls-cert/--tls-key (see depot-builder tls init) or --insecure\n`,
    );
    assert.equal(r.stdout, '', 'it never said it was listening');
  });

  test('serve --insecure on 0.0.0.0 starts and logs a warning', async () => {
    insecure = await startBuilder({ listen: '0.0.0.0:0', args: ['--insecure'] });
    assert.match(insecure.url, /^tcp:\/\/0\.0\.0\.0:\d+$/);
    const b = insecure;
    const warning = await until(
      'the plaintext warning',
      () => logLines(b).find((l) => l.level === 40),
      10_000,
    );
    assert.match(warning.msg, /plaintext on a non-loopback address/);
  });

  test('a loopback builder needs neither TLS nor --insecure, and does not warn', async () => {
    const b = await startBuilder();
    try {
      // The warning would be written right after this line (in the same flush of the logger).
      await until(
        'its start line',
        () => logLines(b).some((l) => l.msg === 'builder-host listening'),
        10_000,
      );
      assert.deepEqual(
        logLines(b).filter((l) => l.level >= 40),
        [],
      );
    } finally {
      await b.stop();
    }
  });
});

describe('client: no token in plaintext to a non-loopback builder', { skip }, () => {
  let listener: Awaited<ReturnType<typeof countingListener>>;
  before(async () => {
    listener = await countingListener();
  });
  after(async () => {
    await listener.close();
  });

  test('depot build to tcp:// and bare HOST:PORT off loopback is refused before it connects', async () => {
    const ctx = context('refused');
    for (const url of [`tcp://0.0.0.0:${listener.port}`, `0.0.0.0:${listener.port}`]) {
      const r = await depot([...buildOn(url, 'secret-token', 'p'), ctx]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, PLAINTEXT_REFUSED);
      assert.equal(PLAINTEXT_REFUSED.exec(r.stderr)![1], url);
    }
    assert.equal(listener.connections(), 0, 'no connection was opened');
  });

  test('DEPOT_INSECURE=1 and --insecure reach the network (and then fail to connect, saying so)', async () => {
    const ctx = context('insecure');
    const url = `tcp://0.0.0.0:${listener.port}`;
    const viaEnv = await depot([...buildOn(url, 'secret-token', 'p'), ctx], { DEPOT_INSECURE: '1' });
    assert.equal(viaEnv.code, 1, viaEnv.stderr);
    assert.doesNotMatch(viaEnv.stderr, /refusing/);
    assert.match(viaEnv.stderr, /^depot: cannot reach builder at tcp:\/\/0\.0\.0\.0:\d+: /);
    const afterEnv = listener.connections();
    assert.ok(afterEnv > 0, 'DEPOT_INSECURE=1 connected');
    const viaFlag = await depot(['--insecure', ...buildOn(url, 'secret-token', 'p'), ctx]);
    assert.match(viaFlag.stderr, /^depot: cannot reach builder at /);
    assert.ok(listener.connections() > afterEnv, '--insecure connected');
  });

  test('depot login and depot dev go through the same check', async () => {
    const url = `tcp://0.0.0.0:${listener.port}`;
    const before = listener.connections();
    const login = await depot(['login', '--builder', url, '--token', 'secret-token']);
    assert.equal(login.code, 1, login.stderr);
    assert.match(login.stderr, PLAINTEXT_REFUSED);
    const dev = await depot([...devOn(url, 'secret-token', 'plain'), context('dev')]);
    assert.equal(dev.code, 1, dev.stderr);
    assert.match(dev.stderr, PLAINTEXT_REFUSED);
    assert.equal(listener.connections(), before, 'no connection was opened');
  });

  test('DEPOT_TLS_CA with a tcp:// builder, and a CA file that is missing, are one-line errors', async () => {
    const ctx = context('ca');
    const withTcp = await depot([...buildOn('tcp://127.0.0.1:1', 't', 'p'), ctx], {
      DEPOT_TLS_CA: '/etc/hostname',
    });
    assert.equal(withTcp.code, 1);
    assert.equal(
      withTcp.stderr,
      'depot: DEPOT_TLS_CA is set but tcp://127.0.0.1:1 is plaintext: use tls://127.0.0.1:1 or unset DEPOT_TLS_CA\n',
    );
    const missing = join(tempDir('no-ca'), 'ca.pem');
    const noFile = await depot([...buildOn('tls://127.0.0.1:1', 't', 'p'), ctx], { DEPOT_TLS_CA: missing });
    assert.equal(noFile.code, 1);
    assert.equal(noFile.stderr, `depot: cannot read DEPOT_TLS_CA ${missing}: no such file\n`);
    const notPem = await depot([...buildOn('tls://127.0.0.1:1', 't', 'p'), ctx], { DEPOT_TLS_CA: ctx });
    assert.equal(notPem.code, 1);
    assert.equal(notPem.stderr.split('\n').length, 2, notPem.stderr);
    assert.match(notPem.stderr, /^depot: cannot read DEPOT_TLS_CA .*: it is a directory\n$/);
  });
});

describe('a fleet endpoint in plaintext off loopback', { skip }, () => {
  let builder: BuilderProcess;
  const fleet = `file:${join(tempDir('transport-fleet'), 'fleet.json')}`;
  before(async () => {
    // Registers itself as tcp://0.0.0.0:PORT, the address it listens on.
    builder = await startBuilder({ listen: '0.0.0.0:0', args: ['--insecure', '--fleet', fleet] });
  });
  after(async () => {
    await builder?.stop();
  });

  test('routing refuses it with the same line; DEPOT_INSECURE=1 builds on it', async () => {
    const ctx = context('fleet');
    const token = builder.token('fleetproj');
    const args = [
      'build',
      '--fleet',
      fleet,
      '--token',
      token,
      '--project',
      'fleetproj',
      '--progress',
      'plain',
      ctx,
    ];
    const refused = await depot(args);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, PLAINTEXT_REFUSED);
    assert.equal(PLAINTEXT_REFUSED.exec(refused.stderr)![1], builder.url);
    const built = await depot(args, { DEPOT_INSECURE: '1' });
    assert.equal(built.code, 0, built.stderr);
  });
});

describe('TLS from depot-builder tls init, and mutual TLS', { skip }, () => {
  let tls: TlsFiles;
  let server: BuilderProcess;
  let mutual: BuilderProcess;
  before(async () => {
    tls = tlsInit(['--host', 'localhost', '--ip', '127.0.0.1', '--client', 'ci']);
    [server, mutual] = await Promise.all([
      startBuilder({ args: ['--tls-cert', tls.server, '--tls-key', tls.serverKey] }),
      startBuilder({
        args: ['--tls-cert', tls.server, '--tls-key', tls.serverKey, '--tls-client-ca', tls.ca],
      }),
    ]);
  });
  after(async () => {
    await Promise.all([server?.stop(), mutual?.stop()]);
  });

  test('tls init writes the CA, server and client files (keys 0600) and never overwrites them', () => {
    for (const f of [tls.caKey, tls.serverKey, tls.clientKey])
      assert.equal(statSync(f).mode & 0o777, 0o600, f);
    for (const f of [tls.ca, tls.server, tls.client])
      assert.match(readFileSync(f, 'utf8'), /^-----BEGIN CERTIFICATE-----/);
    const before = readFileSync(tls.ca, 'utf8');
    const again = spawnSync(
      process.execPath,
      [BUILDER_BIN, 'tls', 'init', '--out', tls.dir, '--ip', '127.0.0.1'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^depot-builder: .*ca\.pem.* already exist: tls init never overwrites/);
    assert.equal(again.stderr.split('\n').length, 2);
    assert.equal(readFileSync(tls.ca, 'utf8'), before);
  });

  test('a build over TLS, verified by IP and by host name against the generated CA', async () => {
    const token = server.token('tlsproj');
    const port = server.url.split(':').pop();
    for (const host of ['127.0.0.1', 'localhost']) {
      const r = await depot(
        [...buildOn(`tls://${host}:${port}`, token, 'tlsproj'), context(`over tls ${host}`)],
        {
          DEPOT_TLS_CA: tls.ca,
        },
      );
      assert.equal(r.code, 0, r.stderr);
    }
    // Without the CA the builder's certificate is not trusted.
    const untrusted = await depot([
      ...buildOn(`tls://127.0.0.1:${port}`, token, 'tlsproj'),
      context('untrusted'),
    ]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /^depot: cannot reach builder at .*certificate/);
  });

  test('mutual TLS: a client without a certificate gets one line; with one from tls init it builds', async () => {
    const token = mutual.token('mtls');
    const url = mutual.url.replace('tcp://', 'tls://');
    const without = await depot([...buildOn(url, token, 'mtls'), context('no cert')], {
      DEPOT_TLS_CA: tls.ca,
    });
    assert.equal(without.code, 1);
    assert.equal(
      without.stderr,
      `depot: the builder at ${url} requires a client certificate (set DEPOT_TLS_CERT and DEPOT_TLS_KEY to one signed by its client CA, e.g. from depot-builder tls init --client NAME)\n`,
    );
    const halfSet = await depot([...buildOn(url, token, 'mtls'), context('half')], {
      DEPOT_TLS_CA: tls.ca,
      DEPOT_TLS_CERT: tls.client,
    });
    assert.equal(halfSet.code, 1);
    assert.match(halfSet.stderr, /^depot: DEPOT_TLS_CERT is set without DEPOT_TLS_KEY/);
    const withCert = await depot([...buildOn(url, token, 'mtls'), context('with cert')], {
      DEPOT_TLS_CA: tls.ca,
      DEPOT_TLS_CERT: tls.client,
      DEPOT_TLS_KEY: tls.clientKey,
    });
    assert.equal(withCert.code, 0, withCert.stderr);
  });
});
