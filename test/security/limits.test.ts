// A shared builder bounds what one client may ask of it: oversized requests are refused up front
// with INVALID_ARGUMENT (never INTERNAL), a project's storage and concurrent builds are capped
// (RESOURCE_EXHAUSTED), stalled uploads are ended and cleaned up, and `serve --projects` keeps a
// builder for some projects only.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  BUILDER_BIN,
  type BuilderProcess,
  buildOn,
  depot,
  skipReason,
  startBuilder,
  tempDir,
  until,
} from '../integration/harness.js';
import { fileEntry, type RpcClient, rpcClient, sha } from './rpc.js';

const skip = skipReason();
const SERVED = ['lim', 'quota', 'busy', 'stall'];

describe('builder limits, quotas and timeouts', { skip, timeout: 120_000 }, () => {
  let builder: BuilderProcess;
  const clients: RpcClient[] = [];
  const client = (project: string, token?: string) => {
    const c = rpcClient(builder.url, token ?? builder.token(project), project);
    clients.push(c);
    return c;
  };
  let lim: RpcClient;
  before(async () => {
    builder = await startBuilder({
      args: [
        '--projects',
        SERVED.join(','),
        '--project-quota',
        '1KiB',
        '--max-builds-per-project',
        '1',
        '--sync-idle-timeout',
        '1s',
        '--max-syncs',
        '50',
        '--max-context-entries',
        '1000',
        '--max-file-size',
        '1MiB',
      ],
    });
    lim = client('lim');
  });
  after(async () => {
    for (const c of clients) c.close();
    await builder?.stop();
  });

  const refused = (r: { code: number; details: string }, code: grpc.status, pattern: RegExp) => {
    assert.equal(r.code, code, `${grpc.status[r.code] ?? r.code}: ${r.details}`);
    assert.match(r.details, pattern);
    assert.doesNotMatch(r.details, /\n/);
  };

  test('a 50 MB Dockerfile of RUN lines is refused before anything reaches the engine', async () => {
    const huge = Buffer.from('RUN true\n'.repeat(6_000_000));
    const started = Date.now();
    // No snapshot at all: the Dockerfile is refused before the snapshot is even looked up.
    const r = await lim.build({ snapshotId: sha('none'), dockerfileContent: huge, buildId: 'huge' });
    refused(
      r,
      grpc.status.INVALID_ARGUMENT,
      /Dockerfile is 51\.5MiB, more than this builder's limit of 1MiB/,
    );
    assert.ok(Date.now() - started < 5000, 'refused at once');
    const many = Buffer.from(`FROM busybox\n${'RUN true\n'.repeat(10_000)}`);
    refused(
      await lim.build({ snapshotId: sha('none'), dockerfileContent: many }),
      grpc.status.INVALID_ARGUMENT,
      /more than 10000 instructions/,
    );
  });

  test('build args, tags, labels, secrets and ssh ids are bounded', async () => {
    const args = (n: number, size: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`A${i}`, 'v'.repeat(size)]));
    const base = { snapshotId: sha('none'), dockerfileContent: Buffer.from('FROM busybox\n') };
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ buildArgs: args(1001, 1) }, /1001 build args, more than this builder's limit of 1000/],
      [{ buildArgs: args(1, 65 * 1024) }, /build arg "A0" is 65KiB, more than this builder's limit of 64KiB/],
      [{ buildArgs: args(20, 60 * 1024) }, /build args total .*limit of 1MiB/],
      [{ tags: Array.from({ length: 101 }, (_, i) => `t:${i}`) }, /101 tags/],
      [{ labels: args(1001, 1) }, /1001 labels/],
      [{ labels: args(1, 65 * 1024) }, /label "A0" is more than/],
      [
        { secrets: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`s${i}`, Buffer.from('x')])) },
        /101 secrets/,
      ],
      [{ secrets: { big: Buffer.alloc(600 * 1024) } }, /secret "big" is more than/],
      [{ sshIds: Array.from({ length: 17 }, (_, i) => `id${i}`) }, /17 SSH ids/],
    ];
    for (const [over, pattern] of cases)
      refused(await lim.build({ ...base, ...over }), grpc.status.INVALID_ARGUMENT, pattern);
  });

  test('manifest entries, file sizes and a declared size of 2^64-1 are INVALID_ARGUMENT', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => fileEntry(`f${i}`, ''));
    const r1 = await lim.sync(many, {});
    assert.equal(r1.ok, false);
    if (!r1.ok)
      refused(r1, grpc.status.INVALID_ARGUMENT, /1001 entries, more than this builder's limit of 1000/);
    const r2 = await lim.sync([fileEntry('big.bin', 'x', { size: 2 * 1024 * 1024 })], {});
    if (!r2.ok)
      refused(r2, grpc.status.INVALID_ARGUMENT, /"big\.bin" is 2MiB, more than .* limit of 1MiB per file/);
    assert.equal(r2.ok, false);
    // A uint64 the client writes as a string: it loads as a Number beyond 2^53.
    const r3 = await new Promise<{ code: number; details: string }>((resolve) => {
      const call = lim.client.Sync(lim.md);
      call.on('data', () => {});
      call.on('error', (e: grpc.ServiceError) => resolve({ code: e.code, details: e.details }));
      call.on('end', () => resolve({ code: -1, details: 'ended without a status' }));
      call.write({
        begin: {
          full: {
            entries: [
              {
                path: 'max.bin',
                type: 'ENTRY_TYPE_FILE',
                mode: 0o644,
                size: '18446744073709551615',
                digest: sha('x'),
              },
            ],
          },
        },
      });
      call.end();
    });
    refused(r3, grpc.status.INVALID_ARGUMENT, /bad size for "max\.bin"/);
    // Malformed ids and platforms are the client's mistake too.
    refused(
      await lim.build({
        snapshotId: sha('none'),
        buildId: 'x&version=1',
        dockerfileContent: Buffer.from('FROM busybox\n'),
      }),
      grpc.status.INVALID_ARGUMENT,
      /invalid build id/,
    );
    const r4 = await lim.build({
      snapshotId: '../../etc/passwd',
      dockerfileContent: Buffer.from('FROM busybox\n'),
    });
    assert.notEqual(r4.code, grpc.status.INTERNAL, r4.details);
    const empty = await lim.sync([], {});
    assert.ok(empty.ok);
    if (empty.ok) {
      const r5 = await lim.build({
        snapshotId: empty.snapshot,
        dockerfileContent: Buffer.from('FROM busybox\n'),
        platform: 'not/a/platform/at/all',
      });
      refused(r5, grpc.status.INVALID_ARGUMENT, /unknown platform "not\/a\/platform\/at\/all"/);
    }
  });

  test('a Sync that would take the project over its quota is refused before any byte', async () => {
    const q = client('quota');
    const a = Buffer.alloc(700, `a${process.pid}`);
    const b = Buffer.alloc(700, `b${Date.now()}`);
    const r1 = await q.sync([fileEntry('a.bin', a)], { [sha(a)]: a });
    assert.ok(r1.ok, JSON.stringify(r1));
    const r2 = await q.sync([fileEntry('a.bin', a), fileEntry('b.bin', b)], { [sha(b)]: b });
    assert.equal(r2.ok, false);
    if (!r2.ok) {
      refused(
        r2,
        grpc.status.RESOURCE_EXHAUSTED,
        /project quota would exceed its storage quota: 700B used \+ 700B to upload > 1KiB allowed/,
      );
      assert.deepEqual(r2.asked, [], 'refused before asking for any blob');
    }
    // Another project's usage is its own.
    const other = await lim.sync([fileEntry('b.bin', b)], { [sha(b)]: b });
    assert.ok(other.ok, JSON.stringify(other));
  });

  test('depot build says in one line that the project is over its quota (exit 1)', async () => {
    const dir = tempDir('quota-cli');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY big.bin /\n');
    writeFileSync(join(dir, 'big.bin'), Buffer.alloc(2000, `q${Date.now()}`));
    const r = await depot([...buildOn(builder.url, builder.token('quota'), 'quota'), dir]);
    assert.equal(r.code, 1, r.stderr);
    const last = r.stderr.trim().split('\n').at(-1) ?? '';
    assert.match(
      last,
      /^depot: the builder refused: project quota would exceed its storage quota: .* > 1KiB allowed/,
    );
  });

  test('a project runs at most --max-builds-per-project builds at a time', async () => {
    const busy = client('busy');
    const empty = await busy.sync([], {});
    assert.ok(empty.ok);
    if (!empty.ok) return;
    // A build that runs until cancelled.
    const events: unknown[] = [];
    const running = busy.client.Build(
      {
        snapshotId: empty.snapshot,
        dockerfileContent: Buffer.from(`FROM busybox\nRUN echo ${process.pid}-${Date.now()} && sleep 30\n`),
        noCache: true,
        buildId: `busy-${Date.now()}`,
      },
      busy.md,
    );
    running.on('data', (e: unknown) => events.push(e));
    running.on('error', () => {});
    await until('the first build to start', () => events.length > 0, 20_000);
    const second = await busy.build({
      snapshotId: empty.snapshot,
      dockerfileContent: Buffer.from('FROM busybox\n'),
    });
    refused(
      second,
      grpc.status.RESOURCE_EXHAUSTED,
      /project busy is running 1 builds on this builder already, its limit/,
    );
    // Other projects are not held back by it.
    const other = await lim.build({
      snapshotId: sha('none'),
      dockerfileContent: Buffer.from('FROM busybox\n'),
    });
    assert.equal(other.code, grpc.status.NOT_FOUND, other.details);
    running.cancel();
    // The slot comes back once the cancelled build has ended.
    const deadline = Date.now() + 20_000;
    let again = second;
    while (again.code === grpc.status.RESOURCE_EXHAUSTED && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      again = await busy.build({ snapshotId: sha('none'), dockerfileContent: Buffer.from('FROM busybox\n') });
    }
    assert.equal(again.code, grpc.status.NOT_FOUND, again.details);
  });

  test('50 stalled uploads hold the sync slots only until DEADLINE_EXCEEDED, and leave no temp file', async () => {
    const s = client('stall');
    const tmp = join(builder.dataDir, 'tmp');
    const stalled = Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        s.stallSync([fileEntry(`f${i}.bin`, Buffer.alloc(900, `${i}-${Date.now()}`))], 100),
      ),
    );
    // Every upload has begun its temp file and then stopped sending.
    await until('50 temp files', () => readdirSync(tmp).length === 50, 5000);
    // --max-syncs 50: the builder takes no 51st upload meanwhile.
    const extra = await lim.sync([], {});
    assert.equal(extra.ok, false);
    if (!extra.ok) refused(extra, grpc.status.RESOURCE_EXHAUSTED, /receiving 50 contexts already, its limit/);
    for (const r of await stalled)
      refused(r, grpc.status.DEADLINE_EXCEEDED, /the client sent nothing for 1s: sync abandoned/);
    await until('the temp files to be removed', () => readdirSync(tmp).length === 0, 5000);
    // And the slots are back.
    const again = await lim.sync([], {});
    assert.ok(again.ok, JSON.stringify(again));
  });

  test('serve --projects refuses other projects, admin tokens included, and Hello says which', async () => {
    const hello = await lim.hello();
    assert.equal(hello.code, 0, hello.details);
    assert.deepEqual(hello.projects, SERVED);
    const stranger = client('stranger');
    refused(
      await stranger.hello(),
      grpc.status.PERMISSION_DENIED,
      /this builder serves only projects lim, quota, busy, stall, not "stranger": use a builder of project "stranger"/,
    );
    const r = spawnSync(
      process.execPath,
      [BUILDER_BIN, 'token', 'create', '--admin', '--user', 'root', '--data', builder.dataDir],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const admin = client('stranger', r.stdout.trim());
    refused(
      (await admin.sync([], {})) as { code: number; details: string },
      grpc.status.PERMISSION_DENIED,
      /serves only projects/,
    );
    const adminOwn = client('lim', r.stdout.trim());
    assert.equal((await adminOwn.hello()).code, 0);
  });
});
