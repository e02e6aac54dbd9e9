// Attacks of a project holding its own token against another project on one shared builder (real
// depot-builder, real dockerd). Each must be refused and leave the other project's data intact.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  BUILDER_BIN,
  BUILDER_ENGINE,
  type BuilderProcess,
  DOCKER,
  skipReason,
  startBuilder,
  until,
} from '../integration/harness.js';
import { buildResult, fileEntry, type RpcClient, rpcClient, sha } from './rpc.js';

const skip = skipReason();

const logsOf = (events: Awaited<ReturnType<RpcClient['build']>>['events']) =>
  events
    .filter((e) => e.log)
    .map((e) => Buffer.from(e.log!.data).toString())
    .join('');

describe('one project cannot reach another project on a shared builder', { skip }, () => {
  let builder: BuilderProcess;
  let a: RpcClient;
  let b: RpcClient;
  const nonce = randomUUID();
  const secret = `b's secret ${nonce}\n`;
  const bDockerfile = `FROM busybox:latest\nCOPY secret.txt /secret.txt\nRUN echo ${nonce} > /built\n`;
  const bEntries = [fileEntry('Dockerfile', bDockerfile), fileEntry('secret.txt', secret)];
  let bSnapshot = '';
  let bImage = '';
  const bName = `b/secret-app-${nonce.slice(0, 8)}`;

  before(async () => {
    builder = await startBuilder();
    a = rpcClient(builder.url, builder.token('proj-a', 'mallory'));
    b = rpcClient(builder.url, builder.token('proj-b', 'bob'));
    const synced = await b.sync(bEntries, {
      [sha(bDockerfile)]: Buffer.from(bDockerfile),
      [sha(secret)]: Buffer.from(secret),
    });
    assert.ok(synced.ok, JSON.stringify(synced));
    bSnapshot = synced.snapshot;
    const built = await b.build({
      snapshotId: bSnapshot,
      dockerfilePath: 'Dockerfile',
      tags: [bName],
      buildId: randomUUID(),
    });
    const result = buildResult(built.events);
    assert.ok(result?.ok, JSON.stringify(result));
    bImage = result.imageId;
  });
  after(async () => {
    a?.close();
    b?.close();
    await builder?.stop();
  });

  test("Export of another project's image, by name or by id, is not found; the owner's works", async () => {
    for (const ref of [bName, `${bName}:latest`, bImage]) {
      const r = await a.exportImage(ref);
      assert.equal(r.code, grpc.status.NOT_FOUND, `${ref}: ${r.details}`);
      assert.equal(r.bytes, 0);
    }
    // Not even "denied": the answer is the one an image nobody has gets.
    const none = await a.exportImage(`sha256:${'0'.repeat(64)}`);
    assert.equal(none.code, grpc.status.NOT_FOUND);
    for (const ref of [bName, bImage]) {
      const own = await b.exportImage(ref);
      assert.equal(own.code, 0, own.details);
      assert.ok(own.bytes > 0);
    }
  });

  test("the shared engine has no image under the project's own -t name", () => {
    const r = spawnSync(DOCKER, ['image', 'inspect', bName], {
      env: { ...process.env, DOCKER_HOST: BUILDER_ENGINE },
      encoding: 'utf8',
    });
    assert.notEqual(r.status, 0, 'the engine resolves the client name');
  });

  test("a build FROM another project's image cannot read its files", async () => {
    const df = `FROM ${bName}\nRUN cat /secret.txt\n`;
    const s = await a.sync([fileEntry('Dockerfile', df)], { [sha(df)]: Buffer.from(df) });
    assert.ok(s.ok);
    const r = await a.build({ snapshotId: s.snapshot, dockerfilePath: 'Dockerfile', buildId: randomUUID() });
    assert.equal(buildResult(r.events)?.ok ?? false, false);
    assert.ok(!logsOf(r.events).includes(nonce), 'secret leaked into the build log');
  });

  test("a Dockerfile naming another project's image in the builder's namespace is refused, however it spells it", async () => {
    const tags = spawnSync(DOCKER, ['image', 'inspect', '-f', '{{json .RepoTags}}', bImage], {
      env: { ...process.env, DOCKER_HOST: BUILDER_ENGINE },
      encoding: 'utf8',
    });
    const internal = (JSON.parse(tags.stdout || '[]') as string[]).find((t) =>
      t.startsWith('builder.depot.internal/'),
    );
    assert.ok(internal, tags.stdout + tags.stderr);
    // Each spelling is one BuildKit reads as that image: a --from after another flag, quotes, an
    // ARG's default, a quoted mount source.
    for (const df of [
      `FROM busybox:latest\nCOPY --chown=0:0 --from=${internal} /secret.txt /s\nRUN cat /s\n`,
      `FROM "${internal}"\nRUN cat /secret.txt\n`,
      `ARG IMG\nFROM \${IMG:-${internal}}\nRUN cat /secret.txt\n`,
      `FROM busybox:latest\nRUN --mount=type=bind,from="${internal}",target=/b cat /b/secret.txt\n`,
    ]) {
      const s = await a.sync([fileEntry('Dockerfile', df)], { [sha(df)]: Buffer.from(df) });
      assert.ok(s.ok);
      const r = await a.build({
        snapshotId: s.snapshot,
        dockerfilePath: 'Dockerfile',
        buildId: randomUUID(),
      });
      assert.equal(r.code, grpc.status.INVALID_ARGUMENT, `${df}: ${r.details}`);
      assert.match(r.details, /an image name of the builder's own/);
      assert.ok(!logsOf(r.events).includes(nonce), 'secret leaked into the build log');
    }
  });

  test("a build tagged with another project's name does not replace its image", async () => {
    const poison = `FROM busybox:latest\nRUN echo poisoned-${nonce} > /secret.txt\n`;
    const s = await a.sync([fileEntry('Dockerfile', poison)], { [sha(poison)]: Buffer.from(poison) });
    assert.ok(s.ok);
    const r = await a.build({
      snapshotId: s.snapshot,
      dockerfilePath: 'Dockerfile',
      tags: [bName],
      buildId: randomUUID(),
    });
    assert.ok(buildResult(r.events)?.ok, r.details);
    // B's next FROM of its own name still gets B's content.
    const df = `FROM ${bName}\nRUN cat /secret.txt && echo check-${randomUUID()}\n`;
    const sb = await b.sync([fileEntry('Dockerfile', df)], { [sha(df)]: Buffer.from(df) });
    assert.ok(sb.ok);
    const rb = await b.build({
      snapshotId: sb.snapshot,
      dockerfilePath: 'Dockerfile',
      buildId: randomUUID(),
    });
    assert.ok(buildResult(rb.events)?.ok, JSON.stringify(buildResult(rb.events)));
    const logs = logsOf(rb.events);
    assert.ok(logs.includes(secret.trim()), logs);
    assert.ok(!logs.includes('poisoned'), logs);
  });

  test("another project's blobs: no presence answer, no use without the bytes, not through a size or a hardlink", async () => {
    const blobsBefore = readdirSync(join(builder.dataDir, 'blobs', 'sha256')).length;
    // Asked for, as if the builder had never seen it: presence says nothing.
    const probe = await a.sync([fileEntry('secret.txt', secret)], {}, { stopAfterNeed: true });
    assert.deepEqual(probe.asked, [sha(secret)]);
    // Naming it without sending it builds nothing.
    const claim = await a.sync(
      [fileEntry('Dockerfile', 'FROM busybox\nCOPY secret.txt /\n'), fileEntry('secret.txt', secret)],
      {
        [sha('FROM busybox\nCOPY secret.txt /\n')]: Buffer.from('FROM busybox\nCOPY secret.txt /\n'),
      },
    );
    assert.equal(claim.ok, false);
    // A false size: still asked for, and wrong bytes for the digest are refused.
    const sized = await a.sync([fileEntry('secret.txt', secret, { size: 3 })], {
      [sha(secret)]: Buffer.from('abc'),
    });
    assert.equal(sized.ok, false);
    assert.deepEqual(sized.asked, [sha(secret)]);
    // A hardlink carrying the digest, with a source of other content.
    const mine = 'my own file\n';
    const link = await a.sync(
      [fileEntry('mine.txt', mine), fileEntry('stolen.txt', secret, { type: 'hardlink', link: 'mine.txt' })],
      { [sha(mine)]: Buffer.from(mine) },
    );
    assert.equal(link.ok, false);
    if (!link.ok) assert.equal(link.code, grpc.status.INVALID_ARGUMENT, link.details);
    assert.equal(readdirSync(join(builder.dataDir, 'blobs', 'sha256')).length >= blobsBefore, true);
  });

  test("another project's snapshot id is not found, for a build and as a delta base", async () => {
    const r = await a.build({ snapshotId: bSnapshot, dockerfilePath: 'Dockerfile', buildId: randomUUID() });
    assert.equal(r.code, grpc.status.NOT_FOUND, r.details);
    const unknown = await a.build({
      snapshotId: `sha256:${'1'.repeat(64)}`,
      dockerfilePath: 'Dockerfile',
      buildId: randomUUID(),
    });
    assert.equal(unknown.code, r.code);
    const delta = await a.sync(
      [fileEntry('x.txt', 'x')],
      { [sha('x')]: Buffer.from('x') },
      { deltaBase: bSnapshot },
    );
    const deltaUnknown = await a.sync(
      [fileEntry('x.txt', 'x')],
      { [sha('x')]: Buffer.from('x') },
      { deltaBase: `sha256:${'1'.repeat(64)}` },
    );
    assert.equal(delta.ok, false);
    assert.equal(deltaUnknown.ok, false);
    if (!delta.ok && !deltaUnknown.ok) assert.equal(delta.code, deltaUnknown.code);
  });

  test('an identical build of another project does not reuse its result', async () => {
    // A has the same files (it uploads them itself) and asks for the same build.
    const s = await a.sync(bEntries, {
      [sha(bDockerfile)]: Buffer.from(bDockerfile),
      [sha(secret)]: Buffer.from(secret),
    });
    assert.ok(s.ok);
    assert.equal(s.snapshot, bSnapshot, 'same manifest, same id');
    const r = await a.build({
      snapshotId: s.snapshot,
      dockerfilePath: 'Dockerfile',
      tags: [bName],
      buildId: randomUUID(),
    });
    assert.ok(buildResult(r.events)?.ok);
    assert.ok(
      !r.events.some((e) => e.info?.includes('reusing the result')),
      'reused another project’s result',
    );
    // The owner still reuses its own.
    const rb = await b.build({
      snapshotId: bSnapshot,
      dockerfilePath: 'Dockerfile',
      tags: [bName],
      buildId: randomUUID(),
    });
    assert.ok(rb.events.some((e) => e.info?.includes('reusing the result')));
  });

  test("a build id another project relays SSH for first does not take the owner's relay", async () => {
    const buildId = randomUUID();
    const attach = (c: RpcClient) => {
      const state = { ended: false };
      const call = c.client.ForwardSsh(c.md);
      call.on('data', () => {});
      call.on('error', () => {
        state.ended = true;
      });
      call.on('end', () => {
        state.ended = true;
      });
      call.write({ buildId });
      return { call, state };
    };
    const squat = attach(a);
    await new Promise((r) => setTimeout(r, 100));
    const owner = attach(b);
    await new Promise((r) => setTimeout(r, 100));
    // A second relay for the id within one project is refused: the builder has handled the attaches.
    const again = attach(a);
    await until('the duplicate relay to be refused', () => again.state.ended, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(
      owner.state.ended,
      false,
      "the owner's relay was refused: the id was taken by another project",
    );
    assert.equal(squat.state.ended, false);
    for (const x of [squat, owner]) x.call.end();
  });

  test("token create --project '*' is refused (admin tokens need --admin)", () => {
    const r = spawnSync(
      process.execPath,
      [BUILDER_BIN, 'token', 'create', '--project', '*', '--user', 'x', '--data', builder.dataDir],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--admin/);
    assert.equal(r.stdout, '');
  });
});
