import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createRegistryClient, OCI_MANIFEST, sha256Digest, verifyDigest } from './index.js';

// A real HTTP registry that lies: the content it serves or stores is not the digest it names.
describe('registry content is checked against its digest', () => {
  const good = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}');
  const evil = Buffer.from(
    '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","x":1}',
  );
  let server: http.Server;
  let host = '';
  before(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const ref = /\/manifests\/([^/]+)$/.exec(req.url ?? '')?.[1] ?? '';
        const headers = { 'Content-Type': OCI_MANIFEST } as Record<string, string>;
        if (req.method === 'PUT') {
          // Claims to have stored other bytes than those sent.
          res.writeHead(201, { 'Docker-Content-Digest': sha256Digest(evil) });
          res.end();
          return;
        }
        if (ref === 'honest') headers['Docker-Content-Digest'] = sha256Digest(good);
        else if (ref === 'lying-tag') headers['Docker-Content-Digest'] = sha256Digest(good);
        else if (ref === 'no-header') {
          // no Docker-Content-Digest: the client computes it
        } else if (ref === 'bad-header') headers['Docker-Content-Digest'] = 'md5:abc';
        else if (ref === sha256Digest(good)) headers['Docker-Content-Digest'] = ref;
        // Any other digest: answer with the good manifest and the header the client asked for.
        else headers['Docker-Content-Digest'] = decodeURIComponent(ref);
        res.writeHead(200, headers);
        res.end(ref === 'lying-tag' || ref === sha256Digest(evil) ? evil : good);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const mismatch = (e: Error & { code?: string }) =>
    e.code === 'registry_digest_mismatch' &&
    /sent content whose digest is sha256:[0-9a-f]{64}, not /.test(e.message);

  test('a manifest whose body is its digest is accepted, by tag or by digest', async () => {
    const client = createRegistryClient({ host });
    assert.equal((await client.getManifest('a/b', 'honest'))?.digest, sha256Digest(good));
    assert.equal((await client.getManifest('a/b', 'no-header'))?.digest, sha256Digest(good));
    assert.equal((await client.getManifest('a/b', sha256Digest(good)))?.digest, sha256Digest(good));
  });

  test('a manifest fetched by digest must hash to that digest', async () => {
    // The server answers this digest with the good body (and echoes the header): a lie.
    const other = `sha256:${'3'.repeat(64)}`;
    await assert.rejects(createRegistryClient({ host }).getManifest('a/b', other), mismatch);
  });

  test('a manifest fetched by tag must hash to the Docker-Content-Digest it came with', async () => {
    await assert.rejects(createRegistryClient({ host }).getManifest('a/b', 'lying-tag'), mismatch);
    await assert.rejects(
      createRegistryClient({ host }).getManifest('a/b', 'bad-header'),
      (e: Error & { code?: string }) => e.code === 'registry_digest_invalid',
    );
  });

  test('a pushed manifest the registry names by another digest is an error', async () => {
    await assert.rejects(
      createRegistryClient({ host }).putManifest('a/b', '1', OCI_MANIFEST, good),
      (e: Error & { code?: string }) =>
        e.code === 'registry_digest_mismatch' &&
        e.message.includes(`but its digest is ${sha256Digest(good)}`),
    );
  });

  test('blobs and sha512 digests are checked the same way', () => {
    const blob = Buffer.from('layer bytes');
    assert.equal(verifyDigest(blob, sha256Digest(blob), 'fetching a blob'), sha256Digest(blob));
    assert.throws(() => verifyDigest(blob, sha256Digest(good), 'fetching a blob'), mismatch);
    assert.throws(
      () => verifyDigest(blob, `sha512:${'0'.repeat(128)}`, 'fetching a blob'),
      (e: Error & { code?: string }) => e.code === 'registry_digest_mismatch',
    );
    assert.throws(
      () => verifyDigest(blob, 'sha256:abc', 'fetching a blob'),
      (e: Error & { code?: string }) => e.code === 'registry_digest_invalid',
    );
  });
});
