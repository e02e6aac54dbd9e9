import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { scanContext } from '../../src/context-sync/index.js';
import {
  type BuilderClient,
  type ContextEntry,
  entryToWire,
  loadBuilderProto,
  type SyncResponse__Output,
} from '../../src/protocol/index.js';
import { ContentChangedError, createBuilderSession, fromGrpcError } from '../../src/session/index.js';
import { expectedId, fileEntry, sha } from '../security/rpc.js';
import {
  type BuilderProcess,
  DEPOT_BIN,
  depot,
  isolatedEnv,
  LAPTOP_ENGINE,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';

const skip = skipReason();

/** Every blob in the store (files of their own, and the packed ones its pack indexes name), each checked against its own name. */
function storeBlobs(dataDir: string): { name: string; ok: boolean }[] {
  const out: { name: string; ok: boolean }[] = [];
  const root = join(dataDir, 'blobs', 'sha256');
  for (const ab of existsSync(root) ? readdirSync(root) : [])
    for (const hex of readdirSync(join(root, ab))) {
      const data = readFileSync(join(root, ab, hex));
      out.push({ name: hex, ok: sha(data) === `sha256:${hex}` });
    }
  const packs = join(dataDir, 'blobs', 'packs');
  for (const idx of existsSync(packs) ? readdirSync(packs).filter((f) => f.endsWith('.idx')) : []) {
    const pack = readFileSync(join(packs, idx.replace(/\.idx$/, '.pack')));
    for (const line of readFileSync(join(packs, idx), 'utf8').split('\n').filter(Boolean)) {
      const [hex, offset, size] = line.split(' ') as [string, string, string];
      const data = pack.subarray(Number(offset), Number(offset) + Number(size));
      out.push({ name: hex, ok: sha(data) === `sha256:${hex}` });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

describe('builder sync refuses bad input', { skip }, () => {
  let builder: BuilderProcess;
  let client: BuilderClient;
  let md: grpc.Metadata;

  before(async () => {
    builder = await startBuilder();
    const proto = loadBuilderProto();
    client = new proto.depot.builder.v1.Builder(
      builder.url.replace(/^tcp:\/\//, ''),
      grpc.credentials.createInsecure(),
    ) as unknown as BuilderClient;
    md = new grpc.Metadata();
    md.set('authorization', `Bearer ${builder.token('sync')}`);
  });
  after(async () => {
    client?.close();
    await builder?.stop();
  });

  /** Runs one Sync call: sends `begin`, then `blobs` when asked; resolves with the outcome. */
  function sync(
    entries: ContextEntry[],
    blobs: Record<string, Buffer>,
  ): Promise<{ ok: true; snapshot: string } | { ok: false; code: number; details: string }> {
    return new Promise((resolve) => {
      const call = client.Sync(md);
      call.on('data', (msg: SyncResponse__Output) => {
        if (msg.need) {
          for (const d of msg.need.digests)
            call.write({ chunk: { digest: d, data: blobs[d] ?? Buffer.alloc(0), last: true } });
        } else if (msg.ready) {
          resolve({ ok: true, snapshot: msg.ready.snapshotId });
          call.end();
        }
      });
      call.on('error', (e: grpc.ServiceError) => resolve({ ok: false, code: e.code, details: e.details }));
      call.write({ begin: { full: { entries: entries.map(entryToWire) }, snapshotId: expectedId(entries) } });
    });
  }

  test('a blob whose bytes do not match its digest is rejected and the store is unchanged', async () => {
    const e = fileEntry('a.txt', 'the real content');
    const before = storeBlobs(builder.dataDir);
    const r = await sync([e], { [e.digest]: Buffer.from('the fake content') });
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.code, grpc.status.INVALID_ARGUMENT);
      assert.match(r.details, /did not match its digest/);
    }
    assert.deepEqual(storeBlobs(builder.dataDir), before);
    const tmp = join(builder.dataDir, 'tmp');
    assert.deepEqual(existsSync(tmp) ? readdirSync(tmp) : [], []);
    // The right bytes are then accepted.
    const ok = await sync([e], { [e.digest]: Buffer.from('the real content') });
    assert.equal(ok.ok, true);
  });

  test('a file that changes between its scan and its upload: nothing wrong is sent, the client names the file', async () => {
    const ctx = tempDir('sync-changed');
    const session = createBuilderSession({
      url: builder.url,
      token: builder.token('sync-changed'),
      project: 'sync-changed',
    });
    const big = (fill: number) => Buffer.alloc(3 * 1024 * 1024, fill);
    try {
      // A small file (one message) and a big one (streamed in chunks), each new to the builder.
      for (const [file, before, after] of [
        ['small.txt', 'before the scan\n', 'after  the scan\n'],
        ['big.bin', big(1), big(2)],
      ] as const) {
        writeFileSync(join(ctx, file), before);
        const scan = await scanContext({ contextDir: ctx, noIndex: true });
        writeFileSync(join(ctx, file), after);
        await assert.rejects(session.sync(scan, undefined), (err: unknown) => {
          assert.ok(err instanceof ContentChangedError, String(err));
          assert.equal(err.file, join(scan.contextDir, file));
          return true;
        });
        // Every blob the store holds is what its name says.
        assert.deepEqual(
          storeBlobs(builder.dataDir).filter((b) => !b.ok),
          [],
        );
        // Scanned again, it syncs.
        const again = await session.sync(await scanContext({ contextDir: ctx, noIndex: true }), undefined);
        assert.match(again.snapshotId, /^sha256:/);
      }
    } finally {
      session.close();
    }
  });

  for (const [why, path] of [
    ['..', '../escape'],
    ['.. inside', 'a/../../b'],
    ['absolute', '/etc/passwd'],
    ['NUL', 'a\0b'],
  ] as const) {
    test(`a manifest path with ${why} is rejected`, async () => {
      const r = await sync([fileEntry(path, 'x')], {});
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.code, grpc.status.INVALID_ARGUMENT);
        assert.match(r.details, /invalid manifest/);
      }
    });
  }

  test('a client killed mid-upload: the next sync completes and no partial blob is in the store', async () => {
    const ctx = tempDir('killed');
    // Incompressible content, big enough that the upload is still running when the client dies.
    const big = Buffer.alloc(192 * 1024 * 1024);
    for (let off = 0; off < big.length; off += 32)
      createHash('sha256').update(String(off)).digest().copy(big, off);
    writeFileSync(join(ctx, 'big.bin'), big);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY big.bin /big.bin\n');
    const token = builder.token('killed');
    const args = [DEPOT_BIN, 'build', '--builder', builder.url, '--token', token, '--progress', 'plain', ctx];
    const env = { ...process.env, ...isolatedEnv(), DOCKER_HOST: LAPTOP_ENGINE };
    const child = spawn(process.execPath, args, { env, stdio: 'ignore' });
    const tmp = join(builder.dataDir, 'tmp');
    // Wait until the builder is receiving the blob, then kill the client.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const files = existsSync(tmp) ? readdirSync(tmp) : [];
      if (files.some((f) => statSync(join(tmp, f)).size > 1024 * 1024)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    for (const b of storeBlobs(builder.dataDir)) assert.ok(b.ok, `partial blob ${b.name} in the store`);
    assert.ok(
      !storeBlobs(builder.dataDir).some((b) => `sha256:${b.name}` === sha(big)),
      'blob landed before the kill',
    );
    const r = await depot(['build', '--builder', builder.url, '--token', token, '--progress', 'plain', ctx]);
    assert.equal(r.code, 0, r.stderr);
    for (const b of storeBlobs(builder.dataDir)) assert.ok(b.ok, `partial blob ${b.name} in the store`);
    assert.ok(storeBlobs(builder.dataDir).some((b) => `sha256:${b.name}` === sha(big)));
    // The aborted upload's temp file is gone once the call is cleaned up.
    const left = existsSync(tmp) ? readdirSync(tmp) : [];
    assert.deepEqual(left, []);
  });
});

describe('a builder stopped with SIGTERM during a sync', { skip }, () => {
  test('ends the open stream with builder_shutdown, which the client reports as such (not as a Ctrl-C)', async () => {
    const builder = await startBuilder();
    const proto = loadBuilderProto();
    const client = new proto.depot.builder.v1.Builder(
      builder.url.replace(/^tcp:\/\//, ''),
      grpc.credentials.createInsecure(),
    ) as unknown as BuilderClient;
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${builder.token('shutdown')}`);
    try {
      const call = client.Sync(md);
      const asked = new Promise<void>((resolve) =>
        call.on('data', (msg: SyncResponse__Output) => msg.need && resolve()),
      );
      const failed = new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
      const entries = [fileEntry('a.txt', 'never uploaded')];
      call.write({ begin: { full: { entries: entries.map(entryToWire) }, snapshotId: expectedId(entries) } });
      // The builder waits for the blob it asked for; it is stopped meanwhile.
      await asked;
      const exited = new Promise((r) => builder.child.once('exit', r));
      builder.child.kill('SIGTERM');
      const e = await failed;
      assert.equal(e.code, grpc.status.UNAVAILABLE, e.details);
      const mapped = fromGrpcError(e, builder.url);
      assert.equal(mapped.code, 'builder_shutdown');
      assert.equal(mapped.message, 'the builder shut down');
      assert.equal(await exited, 0);
    } finally {
      client.close();
      await builder.stop();
    }
  });
});
