import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { fileEntry, rpcClient } from '../security/rpc.js';
import { type BuilderProcess, buildOn, depot, skipReason, startBuilder, tempDir } from './harness.js';

const skip = skipReason();

/** What a builder's store holds: snapshot roots and blobs (a refused client must have sent neither). */
function stored(dataDir: string): { snapshots: string[]; blobs: string[] } {
  const snaps = join(dataDir, 'snapshots');
  const blobs = join(dataDir, 'blobs', 'sha256');
  return {
    snapshots: existsSync(snaps) ? readdirSync(snaps).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [],
    blobs: existsSync(blobs)
      ? readdirSync(blobs, { recursive: true })
          .map(String)
          .filter((n) => n.length > 2)
      : [],
  };
}

// DEPOT_TEST_PROTOCOL_VERSION (test-only) makes a real client or builder speak an older wire
// version: an older peer, as far as the other side can tell, without keeping an old release around.
describe('client and builder of different wire versions refuse each other', { skip }, () => {
  let current: BuilderProcess;
  let older: BuilderProcess;
  const ctx = tempDir('proto-ctx');

  before(async () => {
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY a.txt /a.txt\n');
    writeFileSync(join(ctx, 'a.txt'), `${process.pid}\n`);
    [current, older] = await Promise.all([
      startBuilder(),
      startBuilder({ env: { DEPOT_TEST_PROTOCOL_VERSION: '1' } }),
    ]);
  });
  after(async () => {
    await Promise.all([current?.stop(), older?.stop()]);
  });

  test('an older client meeting this builder: one line saying to upgrade the client, nothing sent', async () => {
    const project = `old-client-${process.pid}`;
    const r = await depot([...buildOn(current.url, current.token(project), project), ctx], {
      DEPOT_TEST_PROTOCOL_VERSION: '1',
    });
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /^depot: this builder speaks context protocol 2, this client 1: upgrade the client \(npm i -g depot@latest\)$/,
    );
    assert.deepEqual(stored(current.dataDir), { snapshots: [], blobs: [] });
  });

  test('this client meeting an older builder: one line saying to upgrade the builder, nothing sent', async () => {
    const project = `old-builder-${process.pid}`;
    const r = await depot([...buildOn(older.url, older.token(project), project), ctx]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /^depot: the builder at \S+ speaks context protocol 1, this client 2 \(upgrade the builder/,
    );
    assert.deepEqual(stored(older.dataDir), { snapshots: [], blobs: [] });
  });

  test('a sync without the expected snapshot id (an older client that skipped Hello) is refused', async () => {
    const project = `no-hello-${process.pid}`;
    const c = rpcClient(current.url, current.token(project));
    try {
      const r = await new Promise<{ code: number; details: string }>((resolve) => {
        const call = c.client.Sync(c.md);
        call.on('data', () => resolve({ code: 0, details: 'answered' }));
        call.on('error', (e: grpc.ServiceError) => resolve({ code: e.code, details: e.details }));
        const e = fileEntry('a.txt', 'content');
        call.write({
          begin: {
            full: {
              entries: [{ ...e, type: 'ENTRY_TYPE_FILE' }],
            },
          },
        });
      });
      assert.equal(r.code, grpc.status.FAILED_PRECONDITION, r.details);
      assert.match(r.details, /this builder speaks context protocol 2, this client 1: upgrade the client/);
      assert.deepEqual(stored(current.dataDir).snapshots, []);
    } finally {
      c.close();
    }
  });
});
