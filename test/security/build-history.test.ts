// ListBuilds and BuildTrace read one project's recorded builds: another project's token, however it
// asks (the build's exact id, a prefix of it, the other project's name in its metadata, odd input),
// gets exactly what a build nobody ran gets — no record, no event, no "ambiguous" hint — and the
// answers are bounded. Real depot-builder, real dockerd.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { BUILDER_BIN, type BuilderProcess, skipReason, startBuilder } from '../integration/harness.js';
import { buildResult, buildTrace, fileEntry, listBuilds, type RpcClient, rpcClient, sha } from './rpc.js';

const skip = skipReason();

describe("ListBuilds and BuildTrace: another project's token learns nothing of a project's builds", {
  skip,
}, () => {
  let builder: BuilderProcess;
  let owner: RpcClient;
  let mallory: RpcClient;
  let admin: RpcClient;
  const nonce = randomUUID();
  // Text only the owner's build printed: it must appear in no answer to mallory.
  const secret = `owner-secret-${nonce}`;
  const ids = [`${nonce.slice(0, 8)}-first`, `${nonce.slice(0, 8)}-second`];
  const clients: RpcClient[] = [];
  /** An admin token (`token create --admin`): every project's, the one it names. */
  const adminToken = () => {
    const r = spawnSync(
      process.execPath,
      [BUILDER_BIN, 'token', 'create', '--admin', '--user', 'root', '--data', builder.dataDir],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  const client = (token: string, project?: string) => {
    const c = rpcClient(builder.url, token, project);
    clients.push(c);
    return c;
  };

  before(async () => {
    builder = await startBuilder();
    owner = client(builder.token('owner-proj', 'ann'));
    mallory = client(builder.token('mallory-proj', 'mallory'));
    const dockerfile = `FROM busybox:latest\nCOPY . /app\nRUN echo ${secret}\n`;
    for (const id of ids) {
      const src = `${id}\n`;
      const synced = await owner.sync([fileEntry('Dockerfile', dockerfile), fileEntry('src.txt', src)], {
        [sha(dockerfile)]: Buffer.from(dockerfile),
        [sha(src)]: Buffer.from(src),
      });
      assert.ok(synced.ok, JSON.stringify(synced));
      const built = await owner.build({
        snapshotId: synced.snapshot,
        dockerfilePath: 'Dockerfile',
        buildId: id,
      });
      assert.ok(buildResult(built.events)?.ok, JSON.stringify(buildResult(built.events)));
    }
  });
  after(async () => {
    for (const c of clients) c.close();
    await builder?.stop();
  });

  test('the owner lists and replays its builds (the attacks below ask for the same ones)', async () => {
    const { builds } = await listBuilds(owner);
    assert.deepEqual(
      builds.map((b) => b.summary?.buildId),
      [...ids].reverse(),
    );
    const t = await buildTrace(owner, ids[0]!);
    assert.equal(t.code, grpc.status.OK, t.details);
    assert.equal(t.chunks[0]?.header?.record?.summary?.buildId, ids[0]);
    assert.match(t.chunks[0]?.header?.dockerfile ?? '', new RegExp(secret));
    const logs = t.chunks.flatMap((c) => c.events).filter((e) => e.event?.log);
    assert.ok(logs.some((e) => e.event!.log!.data.toString().includes(secret)));
    // A prefix naming both is ambiguous, to the owner.
    const both = await buildTrace(owner, nonce.slice(0, 8));
    assert.equal(both.code, grpc.status.INVALID_ARGUMENT);
    assert.match(both.details, /start of several/);
  });

  test('another token: an empty list, whatever it asks; its metadata naming the owner is refused', async () => {
    for (const req of [
      {},
      { limit: 500 },
      { limit: 4_000_000_000 },
      { result: 'ok' },
      { platform: 'linux/amd64' },
      // The owner's instructions: a filter by a step another project missed tells nothing either.
      { missedStep: 'COPY . /app' },
      { missedStep: `RUN echo ${secret}` },
    ]) {
      const res = await listBuilds(mallory, req);
      assert.deepEqual(res.builds, [], JSON.stringify(req));
      assert.equal(res.more, false);
    }
    await assert.rejects(
      listBuilds(client(builder.token('mallory-proj', 'mallory'), 'owner-proj')),
      (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.PERMISSION_DENIED);
        return true;
      },
    );
  });

  test("another token: the owner's id, a prefix of it, or its metadata get what an unknown id gets", async () => {
    const unknown = `${randomUUID()}`;
    const baseline = await buildTrace(mallory, unknown);
    assert.equal(baseline.code, grpc.status.NOT_FOUND);
    for (const id of [ids[0]!, ids[1]!, nonce.slice(0, 8), nonce.slice(0, 4)]) {
      const t = await buildTrace(mallory, id);
      assert.equal(t.code, grpc.status.NOT_FOUND, `${id}: ${t.details}`);
      assert.deepEqual(t.chunks, []);
      // The same words, but for the id asked about.
      assert.equal(t.details.replace(id, 'ID'), baseline.details.replace(unknown, 'ID'));
      assert.ok(!t.details.includes(secret));
    }
    const asOwner = await buildTrace(client(builder.token('mallory-proj', 'mallory'), 'owner-proj'), ids[0]!);
    assert.equal(asOwner.code, grpc.status.PERMISSION_DENIED);
  });

  test('odd input is refused before any look-up: no wildcards, no overlong ids, no unknown filters', async () => {
    for (const id of [
      '',
      '%',
      `${nonce.slice(0, 4)}%`,
      '_'.repeat(8),
      '../x',
      'a'.repeat(129),
      `${ids[0]}\0`,
    ]) {
      const t = await buildTrace(owner, id);
      assert.equal(t.code, grpc.status.INVALID_ARGUMENT, JSON.stringify(id));
      assert.deepEqual(t.chunks, []);
    }
    // A start shorter than 4 characters names a build only as its whole id.
    assert.equal((await buildTrace(owner, nonce.slice(0, 3))).code, grpc.status.NOT_FOUND);
    await assert.rejects(listBuilds(owner, { result: "ok' OR 1=1 --" }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      return true;
    });
    // missed_step is bounded, and matched as text, never as SQL or a pattern.
    await assert.rejects(listBuilds(owner, { missedStep: 'x'.repeat(2049) }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      return true;
    });
    for (const missedStep of ["COPY . /app' OR 1=1 --", 'COPY %', 'COPY . /ap_'])
      assert.deepEqual((await listBuilds(owner, { missedStep })).builds, [], missedStep);
    await assert.rejects(
      listBuilds(owner, { platform: 'not/a/platform/at/all' }),
      (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
        return true;
      },
    );
  });

  test('an admin token reads the project it names, and only that one', async () => {
    const token = adminToken();
    admin = client(token, 'owner-proj');
    assert.equal((await listBuilds(admin)).builds.length, 2);
    // The builds where the project's COPY missed as a root cause: both (a cold build, then an edit).
    assert.deepEqual(
      (await listBuilds(admin, { missedStep: 'COPY . /app' })).builds.map((b) => b.summary?.buildId),
      [...ids].reverse(),
    );
    // The RUN missed on its own only in the cold build; after the edit it only followed the COPY.
    assert.deepEqual(
      (await listBuilds(admin, { missedStep: `RUN echo ${secret}` })).builds.map((b) => b.summary?.buildId),
      [ids[0]],
    );
    assert.equal((await buildTrace(admin, ids[1]!)).code, grpc.status.OK);
    // Without a project it reads its default project, which ran nothing.
    const plain = client(token);
    assert.deepEqual((await listBuilds(plain)).builds, []);
    assert.deepEqual((await listBuilds(plain, { missedStep: 'COPY . /app' })).builds, []);
    assert.equal((await buildTrace(plain, ids[1]!)).code, grpc.status.NOT_FOUND);
  });
});
