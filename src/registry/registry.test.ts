import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  buildImageIndex,
  createRegistryClient,
  credentialsFor,
  DOCKER_MANIFEST_LIST,
  DOCKER_MANIFEST_V2,
  OCI_INDEX,
  OCI_MANIFEST,
  parseAuthenticate,
  parseReference,
  runCredentialHelper,
  sha256Digest,
} from './index.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

describe('references', () => {
  test('registry, path and tag like docker', () => {
    assert.deepEqual(parseReference('127.0.0.1:5000/team/app:1'), {
      registry: '127.0.0.1:5000',
      path: 'team/app',
      repository: '127.0.0.1:5000/team/app',
      tag: '1',
      digest: '',
    });
    assert.deepEqual(parseReference('app'), {
      registry: 'docker.io',
      path: 'library/app',
      repository: 'app',
      tag: 'latest',
      digest: '',
    });
    assert.equal(parseReference('team/app:2').path, 'team/app');
    assert.equal(parseReference('localhost/app').registry, 'localhost');
    assert.equal(parseReference('index.docker.io/team/app').registry, 'docker.io');
    assert.throws(() => parseReference('app@sha256:abc'), /invalid reference format/);
  });
});

describe('credentials from the Docker config', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  test('auths: base64 user:pass, URL keys, Docker Hub legacy key, identity tokens', async () => {
    const config = {
      auths: {
        '127.0.0.1:5000': { auth: b64('alice:pa:ss') },
        'https://index.docker.io/v1/': { auth: b64('hub:hubpw') },
        'https://reg.example.com/v2/': { identitytoken: 'idtok' },
      },
    };
    const c = await credentialsFor(['127.0.0.1:5000', 'docker.io', 'reg.example.com', 'none:1'], { config });
    assert.deepEqual(c['127.0.0.1:5000'], {
      username: 'alice',
      password: 'pa:ss',
      identityToken: '',
      serverAddress: '127.0.0.1:5000',
    });
    assert.equal(c['docker.io']?.username, 'hub');
    assert.equal(c['docker.io']?.serverAddress, 'https://index.docker.io/v1/');
    assert.equal(c['reg.example.com']?.identityToken, 'idtok');
    assert.equal(c['none:1'], undefined);
  });

  test('credHelpers win over credsStore, which wins over auths; "<token>" is an identity token', async () => {
    const asked: string[] = [];
    const runHelper = async (helper: string, url: string) => {
      asked.push(`${helper} ${url}`);
      if (helper === 'per') return JSON.stringify({ ServerURL: url, Username: '<token>', Secret: 'tok' });
      if (url === 'https://index.docker.io/v1/')
        return JSON.stringify({ ServerURL: url, Username: 'hub', Secret: 'h' });
      return undefined;
    };
    const config = {
      credHelpers: { 'a.example': 'per' },
      credsStore: 'store',
      auths: { 'b.example': { auth: b64('fallback:pw') } },
    };
    const c = await credentialsFor(['a.example', 'docker.io', 'b.example'], { config, runHelper });
    assert.deepEqual(asked, ['per a.example', 'store https://index.docker.io/v1/', 'store b.example']);
    assert.equal(c['a.example']?.identityToken, 'tok');
    assert.equal(c['a.example']?.password, '');
    assert.equal(c['docker.io']?.password, 'h');
    assert.equal(c['b.example']?.username, 'fallback');
  });

  test('a real docker-credential-<helper> gets the host on stdin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'depot-credhelper-'));
    const bin = join(dir, 'docker-credential-depottest');
    writeFileSync(
      bin,
      '#!/bin/sh\n[ "$1" = get ] || exit 3\nread host\nif [ "$host" = nope ]; then echo "credentials not found in native keychain"; exit 1; fi\nprintf \'{"ServerURL":"%s","Username":"u","Secret":"s"}\' "$host"\n',
    );
    chmodSync(bin, 0o755);
    const oldPath = process.env.PATH;
    process.env.PATH = `${dir}:${oldPath}`;
    try {
      const out = await runCredentialHelper('depottest', 'reg.example:5000');
      assert.deepEqual(JSON.parse(out!), { ServerURL: 'reg.example:5000', Username: 'u', Secret: 's' });
      assert.equal(await runCredentialHelper('depottest', 'nope'), undefined);
      await assert.rejects(runCredentialHelper('depot-missing-helper', 'x'), /not found on PATH/);
      const env = { ...process.env, DOCKER_CONFIG: dir };
      writeFileSync(
        join(dir, 'config.json'),
        JSON.stringify({ credHelpers: { 'reg.example:5000': 'depottest' } }),
      );
      const c = await credentialsFor(['reg.example:5000'], { env });
      assert.equal(c['reg.example:5000']?.password, 's');
    } finally {
      process.env.PATH = oldPath;
    }
  });
});

describe('image index', () => {
  test('a Docker manifest list when every child is Docker schema 2', () => {
    const idx = buildImageIndex([
      { digest: D1, size: 10, mediaType: DOCKER_MANIFEST_V2, platform: 'linux/amd64' },
      { digest: D2, size: 20, mediaType: DOCKER_MANIFEST_V2, platform: 'linux/arm64/v8' },
    ]);
    assert.equal(idx.mediaType, DOCKER_MANIFEST_LIST);
    assert.equal(idx.digest, sha256Digest(idx.body));
    const doc = JSON.parse(idx.body.toString());
    assert.equal(doc.schemaVersion, 2);
    assert.equal(doc.mediaType, DOCKER_MANIFEST_LIST);
    assert.deepEqual(doc.manifests[1], {
      mediaType: DOCKER_MANIFEST_V2,
      size: 20,
      digest: D2,
      platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
    });
    assert.deepEqual(doc.manifests[0].platform, { architecture: 'amd64', os: 'linux' });
  });

  test('an OCI index as soon as one child is OCI; one child is fine; bad input refused', () => {
    const idx = buildImageIndex([
      { digest: D1, size: 10, mediaType: DOCKER_MANIFEST_V2, platform: 'linux/amd64' },
      { digest: D2, size: 20, mediaType: OCI_MANIFEST, platform: 'linux/arm64' },
    ]);
    assert.equal(idx.mediaType, OCI_INDEX);
    assert.equal(JSON.parse(idx.body.toString()).mediaType, OCI_INDEX);
    const single = buildImageIndex([
      { digest: D1, size: 1, mediaType: DOCKER_MANIFEST_V2, platform: 'linux/amd64' },
    ]);
    assert.equal(JSON.parse(single.body.toString()).manifests.length, 1);
    assert.throws(() => buildImageIndex([]), /at least one/);
    assert.throws(
      () =>
        buildImageIndex([
          { digest: D1, size: 1, mediaType: DOCKER_MANIFEST_V2, platform: 'linux/amd64' },
          { digest: D2, size: 1, mediaType: DOCKER_MANIFEST_V2, platform: 'linux/amd64' },
        ]),
      /appears twice/,
    );
    assert.throws(
      () => buildImageIndex([{ digest: 'sha256:x', size: 1, mediaType: '', platform: 'linux/amd64' }]),
      /invalid manifest digest/,
    );
  });
});

describe('registry client auth', () => {
  test('WWW-Authenticate parsing', () => {
    assert.deepEqual(
      parseAuthenticate(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
      ),
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.example/token',
          service: 'registry.example',
          scope: 'repository:a/b:pull,push',
        },
      },
    );
    assert.equal(parseAuthenticate('Basic realm="x"')?.scheme, 'basic');
  });

  // A registry that wants a Bearer token from its own token endpoint, which wants Basic alice:pw.
  let server: http.Server;
  let host = '';
  const stored = new Map<string, { type: string; body: Buffer }>();
  const tokenRequests: string[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url!, 'http://x');
        if (url.pathname === '/token') {
          tokenRequests.push(
            `${url.searchParams.get('service')} ${url.searchParams.getAll('scope').join(' ')}`,
          );
          if (req.headers.authorization !== `Basic ${Buffer.from('alice:pw').toString('base64')}`) {
            res.writeHead(401, { 'Content-Type': 'application/json' });
            res.end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
            return;
          }
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end('{"token":"T0K"}');
          return;
        }
        if (req.headers.authorization !== 'Bearer T0K') {
          res.writeHead(401, {
            'WWW-Authenticate': `Bearer realm="http://${host}/token",service="fake",scope="repository:team/app:pull,push"`,
            'Content-Type': 'application/json',
          });
          res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
          return;
        }
        const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
        if (m && req.method === 'PUT') {
          const body = Buffer.concat(chunks);
          stored.set(m[2]!, { type: String(req.headers['content-type']), body });
          res.writeHead(201, { 'Docker-Content-Digest': sha256Digest(body) });
          res.end();
          return;
        }
        if (m && req.method === 'GET') {
          const s = stored.get(m[2]!);
          if (!s) {
            res.writeHead(404);
            res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
            return;
          }
          res.writeHead(200, { 'Content-Type': s.type, 'Docker-Content-Digest': sha256Digest(s.body) });
          res.end(s.body);
          return;
        }
        res.writeHead(404);
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const auth = { username: 'alice', password: 'pw', identityToken: '', serverAddress: '' };

  test('Bearer token flow with Basic credentials; the token is reused', async () => {
    const client = createRegistryClient({ host, auth });
    const idx = buildImageIndex([
      { digest: D1, size: 1, mediaType: DOCKER_MANIFEST_V2, platform: 'linux/amd64' },
    ]);
    const digest = await client.putManifest('team/app', '1', idx.mediaType, idx.body);
    assert.equal(digest, idx.digest);
    assert.equal(stored.get('1')?.type, DOCKER_MANIFEST_LIST);
    const got = await client.getManifest('team/app', '1');
    assert.equal(got?.mediaType, DOCKER_MANIFEST_LIST);
    assert.equal(got?.digest, idx.digest);
    assert.equal(await client.getManifest('team/app', 'missing'), undefined);
    assert.deepEqual(tokenRequests, ['fake repository:team/app:pull,push']);
  });

  test('no or wrong credentials: a clear "denied" error', async () => {
    const idx = buildImageIndex([
      { digest: D1, size: 1, mediaType: DOCKER_MANIFEST_V2, platform: 'linux/amd64' },
    ]);
    await assert.rejects(
      createRegistryClient({ host }).putManifest('team/app', '2', idx.mediaType, idx.body),
      (e: Error & { code?: string }) =>
        e.code === 'push_denied' && e.message === `push to ${host}/team/app:2 denied: bad credentials`,
    );
    await assert.rejects(
      createRegistryClient({ host, auth: { ...auth, password: 'nope' } }).putManifest(
        'team/app',
        '2',
        idx.mediaType,
        idx.body,
      ),
      /denied: bad credentials/,
    );
  });

  test('unreachable registry: a clear error', async () => {
    // A port that was free a moment ago (fetch refuses "bad ports" such as 1 before connecting).
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const closed = `127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise<void>((r) => probe.close(() => r()));
    await assert.rejects(
      createRegistryClient({ host: closed }).putManifest('a', '1', OCI_INDEX, Buffer.from('{}')),
      (e: Error & { code?: string }) =>
        e.code === 'registry_unreachable' &&
        e.message.startsWith(`push to ${closed}/a:1 failed: cannot reach registry ${closed}: `) &&
        /ECONNREFUSED/.test(e.message),
    );
  });
});
