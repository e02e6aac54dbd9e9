// A Sync stream that ends early must end with an error status: a builder that stays silent keeps
// the client (and its own stream state) waiting forever.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type BuilderProcess, skipReason, startBuilder } from '../integration/harness.js';
import { fileEntry, type RpcClient, rpcClient } from './rpc.js';

const skip = skipReason();

describe('a Sync that ends early gets an error status', { skip }, () => {
  let builder: BuilderProcess;
  let c: RpcClient;
  before(async () => {
    builder = await startBuilder();
    c = rpcClient(builder.url, builder.token('sync-stream'));
  });
  after(async () => {
    c?.close();
    await builder?.stop();
  });

  test('a client that stops before sending the blobs asked for', async () => {
    const r = await c.sync(
      [fileEntry('a.txt', `a ${process.pid} ${Date.now()}`)],
      {},
      { stopAfterNeed: true },
    );
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.code, grpc.status.INVALID_ARGUMENT, r.details);
      assert.match(r.details, /ended before every blob/);
    }
  });

  test('a client that sends nothing', async () => {
    const r = await new Promise<{ code: number; details: string }>((resolve) => {
      const call = c.client.Sync(c.md);
      call.on('data', () => {});
      call.on('error', (e: grpc.ServiceError) => resolve({ code: e.code, details: e.details }));
      call.on('end', () => resolve({ code: -1, details: 'ended without a status' }));
      call.end();
    });
    assert.equal(r.code, grpc.status.INVALID_ARGUMENT, r.details);
    assert.match(r.details, /must start with a manifest/);
  });
});
