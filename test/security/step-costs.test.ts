// StepCosts reads one project's build history: another project's token, however it asks (the same
// Dockerfile path, the other project's name in its metadata, any bound), learns nothing of it — not
// a count, not an instruction. Real depot-builder, real dockerd.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { StepCostsRequest } from '../../src/protocol/generated/depot/builder/v1/StepCostsRequest.js';
import type { StepCostsResponse__Output } from '../../src/protocol/generated/depot/builder/v1/StepCostsResponse.js';
import { BUILDER_BIN, type BuilderProcess, skipReason, startBuilder } from '../integration/harness.js';
import { buildResult, fileEntry, type RpcClient, rpcClient, sha } from './rpc.js';

const skip = skipReason();

type Answer = { res?: StepCostsResponse__Output; code: number; details: string };

function stepCosts(c: RpcClient, req: StepCostsRequest): Promise<Answer> {
  return new Promise((resolve) => {
    c.client.StepCosts(req, c.md, { deadline: Date.now() + 10_000 }, (err, res) =>
      err ? resolve({ code: err.code, details: err.details }) : resolve({ res: res!, code: 0, details: '' }),
    );
  });
}

describe("StepCosts: another project's token learns nothing of this project's builds", { skip }, () => {
  let builder: BuilderProcess;
  let a: RpcClient;
  let b: RpcClient;
  const nonce = randomUUID();
  // An instruction only project B's builds ran: it must appear in no answer to A.
  const secretStep = `RUN echo b-secret-${nonce} > /built`;

  before(async () => {
    builder = await startBuilder();
    a = rpcClient(builder.url, builder.token('proj-a', 'mallory'));
    b = rpcClient(builder.url, builder.token('proj-b', 'bob'));
    const dockerfile = `FROM busybox:latest\nCOPY . /app\n${secretStep}\n`;
    for (const v of ['v1', 'v2']) {
      const src = `${v} ${nonce}\n`;
      const synced = await b.sync([fileEntry('Dockerfile', dockerfile), fileEntry('src.txt', src)], {
        [sha(dockerfile)]: Buffer.from(dockerfile),
        [sha(src)]: Buffer.from(src),
      });
      assert.ok(synced.ok, JSON.stringify(synced));
      const built = await b.build({
        snapshotId: synced.snapshot,
        dockerfilePath: 'Dockerfile',
        buildId: randomUUID(),
      });
      assert.ok(buildResult(built.events)?.ok, JSON.stringify(buildResult(built.events)));
    }
  });
  after(async () => {
    a?.close();
    b?.close();
    await builder?.stop();
  });

  test('the owner sees its builds (the attacks below ask for the same line)', async () => {
    const own = await stepCosts(b, { dockerfilePath: 'Dockerfile', target: '', platform: '', last: 0 });
    assert.equal(own.code, 0, own.details);
    assert.equal(own.res?.builds, 2);
    assert.ok(own.res?.steps.some((s) => s.instr === secretStep));
  });

  test('a project token asking for the same line, with any platform or bound, sees zero builds', async () => {
    for (const req of [
      { dockerfilePath: 'Dockerfile', target: '', platform: '', last: 0 },
      { dockerfilePath: 'Dockerfile', target: '', platform: '', last: 4_000_000_000 },
      { dockerfilePath: 'Dockerfile', target: '', platform: 'linux/amd64', last: 500 },
      { dockerfilePath: '', target: '', platform: '', last: 0 },
    ]) {
      const r = await stepCosts(a, req);
      assert.equal(r.code, 0, r.details);
      assert.equal(r.res?.builds, 0, JSON.stringify(req));
      assert.deepEqual(r.res?.steps, []);
      assert.equal(r.res?.moreSteps, 0);
      assert.ok(r.res?.last !== undefined && r.res.last <= 500);
    }
  });

  test('naming the other project in the metadata is refused, and says nothing of its builds', async () => {
    const spoof = rpcClient(builder.url, builder.token('proj-a', 'mallory'), 'proj-b');
    try {
      const r = await stepCosts(spoof, { dockerfilePath: 'Dockerfile', target: '', platform: '', last: 0 });
      assert.equal(r.code, grpc.status.PERMISSION_DENIED);
      assert.equal(r.res, undefined);
      assert.ok(!r.details.includes(nonce));
    } finally {
      spoof.close();
    }
  });

  test('an admin token without a project reads one project (its default), never every project mixed', async () => {
    const made = spawnSync(
      process.execPath,
      [BUILDER_BIN, 'token', 'create', '--admin', '--user', 'root', '--data', builder.dataDir],
      { encoding: 'utf8' },
    );
    assert.equal(made.status, 0, made.stderr);
    const admin = rpcClient(builder.url, made.stdout.trim());
    const adminB = rpcClient(builder.url, made.stdout.trim(), 'proj-b');
    try {
      const r = await stepCosts(admin, { dockerfilePath: 'Dockerfile', target: '', platform: '', last: 0 });
      assert.equal(r.code, 0, r.details);
      assert.equal(r.res?.builds, 0);
      const asked = await stepCosts(adminB, {
        dockerfilePath: 'Dockerfile',
        target: '',
        platform: '',
        last: 0,
      });
      assert.equal(asked.res?.builds, 2, 'an admin reads the project it names');
    } finally {
      admin.close();
      adminB.close();
    }
  });

  test('oversized or malformed questions are refused before any read', async () => {
    const long = await stepCosts(a, { dockerfilePath: 'x'.repeat(5000), target: '', platform: '', last: 0 });
    assert.equal(long.code, grpc.status.INVALID_ARGUMENT);
    const target = await stepCosts(a, {
      dockerfilePath: 'Dockerfile',
      target: 't'.repeat(300),
      platform: '',
      last: 0,
    });
    assert.equal(target.code, grpc.status.INVALID_ARGUMENT);
    const platform = await stepCosts(a, {
      dockerfilePath: 'Dockerfile',
      target: '',
      platform: '../../x',
      last: 0,
    });
    assert.equal(platform.code, grpc.status.INVALID_ARGUMENT);
    const none = await stepCosts(rpcClient(builder.url, 'not-a-token'), {
      dockerfilePath: 'Dockerfile',
      target: '',
      platform: '',
      last: 0,
    });
    assert.equal(none.code, grpc.status.UNAUTHENTICATED);
  });
});
