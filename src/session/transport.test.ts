import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseBuilderUrl } from './client.js';
import { channelCredentials, isTransportError, transportFromEnv } from './transport.js';

const creds = (url: string, env: NodeJS.ProcessEnv = {}) =>
  channelCredentials(parseBuilderUrl(url), transportFromEnv(env));

test('plaintext to a remote address is refused; loopback, unix sockets and insecure pass', () => {
  for (const url of [
    'tcp://10.0.0.5:7000',
    '10.0.0.5:7000',
    'tcp://builder.internal:7000',
    'tcp://[::]:7000',
  ]) {
    assert.throws(
      () => creds(url),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'plaintext_refused');
        assert.equal(
          err.message,
          `refusing to send a token in plaintext to ${url}: use tls://… (DEPOT_TLS_CA for a private CA) or pass --insecure / DEPOT_INSECURE=1`,
        );
        assert.ok(isTransportError(err));
        return true;
      },
    );
    assert.ok(creds(url, { DEPOT_INSECURE: '1' }));
  }
  for (const url of [
    'tcp://127.0.0.1:7000',
    '127.0.0.2:1',
    'tcp://localhost:7000',
    'tcp://[::1]:7000',
    'unix:///run/d.sock',
  ])
    assert.ok(creds(url), url);
  // TLS to a remote address needs no flag (the system's CAs, or DEPOT_TLS_CA).
  assert.ok(creds('tls://10.0.0.5:7000'));
});

test('TLS settings with a plaintext address, and unreadable or half-set TLS files, are errors', () => {
  assert.throws(() => creds('tcp://127.0.0.1:7000', { DEPOT_TLS_CA: '/ca.pem' }), {
    code: 'tls_setting_without_tls',
    message:
      'DEPOT_TLS_CA is set but tcp://127.0.0.1:7000 is plaintext: use tls://127.0.0.1:7000 or unset DEPOT_TLS_CA',
  });
  // The embedded builder's socket is never TLS: a CA meant for the team builder does not break it.
  assert.ok(creds('unix:///run/d.sock', { DEPOT_TLS_CA: '/ca.pem' }));
  assert.throws(() => creds('tls://h:1', { DEPOT_TLS_CA: '/nonexistent/ca.pem' }), {
    code: 'tls_file_unreadable',
    message: 'cannot read DEPOT_TLS_CA /nonexistent/ca.pem: no such file',
  });
  const dir = mkdtempSync(join(tmpdir(), 'depot-transport-'));
  writeFileSync(join(dir, 'junk.pem'), 'not a certificate\n');
  assert.throws(() => creds('tls://h:1', { DEPOT_TLS_CA: join(dir, 'junk.pem') }), {
    code: 'tls_material_invalid',
  });
  assert.throws(() => creds('tls://h:1', { DEPOT_TLS_KEY: join(dir, 'junk.pem') }), {
    code: 'tls_client_cert_incomplete',
  });
});
