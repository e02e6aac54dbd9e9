// Attacks on -o outputs (BuildRequest.output) against a real depot-builder and dockerd: a request
// cannot name a path the builder writes, nor a type the engine would export somewhere else; the
// files travel only on the requesting Build stream, and another project cannot get them.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type BuilderProcess, filesContaining, skipReason, startBuilder } from '../integration/harness.js';
import { buildResult, fileEntry, type RpcClient, rpcClient, sha } from './rpc.js';

const skip = skipReason();

describe('build outputs stay on the requesting Build stream', { skip }, () => {
  let builder: BuilderProcess;
  let a: RpcClient;
  let b: RpcClient;
  const nonce = randomUUID();
  // The output's content is made by the build (not in the context), so any copy of it on the
  // builder's disk came from the output path.
  const dockerfile = `FROM busybox AS build\nRUN mkdir /out && echo "made-${nonce}" | rev > /out/secret.txt\nFROM scratch\nCOPY --from=build /out /\n`;
  const made = `made-${nonce}`.split('').reverse().join('');
  let snapshot = '';

  before(async () => {
    builder = await startBuilder();
    a = rpcClient(builder.url, builder.token('out-a', 'alice'));
    b = rpcClient(builder.url, builder.token('out-b', 'mallory'));
    const synced = await a.sync([fileEntry('Dockerfile', dockerfile)], {
      [sha(dockerfile)]: Buffer.from(dockerfile),
    });
    assert.ok(synced.ok, JSON.stringify(synced));
    snapshot = synced.snapshot;
  });
  after(async () => {
    a?.close();
    b?.close();
    await builder?.stop();
  });

  const outputBuild = (c: RpcClient, output: Record<string, unknown>, snap = snapshot) =>
    c.build({ snapshotId: snap, dockerfilePath: 'Dockerfile', buildId: randomUUID(), output });

  test('the owner gets the files on its stream; nothing of them lands on the builder', async () => {
    const r = await outputBuild(a, { type: 'local' });
    assert.equal(r.code, 0, r.details);
    assert.ok(buildResult(r.events)?.ok, JSON.stringify(buildResult(r.events)));
    const data = Buffer.concat(r.events.filter((e) => e.output?.msg === 'data').map((e) => e.output!.data!));
    assert.equal(data.toString(), `${made}\n`);
    // Not in the builder's data directory (its store, temp space and history).
    assert.deepEqual(filesContaining(builder.dataDir, made), []);
  });

  test('a request cannot pick a destination or another exporter', async () => {
    for (const [output, want] of [
      [{ type: 'docker' }, /unknown output type/],
      [{ type: 'oci' }, /unknown output type/],
      [{ type: '../../etc' }, /unknown output type/],
      [{ type: 'local', have: [{ path: '../../etc/passwd', digest: sha('x'), size: 1 }] }, /not plain/],
      [{ type: 'local', have: [{ path: '/etc/passwd', digest: sha('x'), size: 1 }] }, /absolute/],
      [{ type: 'local', have: [{ path: 'a', digest: 'md5:1', size: 1 }] }, /bad digest/],
    ] as const) {
      const r = await outputBuild(a, output);
      assert.equal(r.code, grpc.status.INVALID_ARGUMENT, `${JSON.stringify(output)}: ${r.details}`);
      assert.match(r.details, want);
    }
    const tooMany = Array.from({ length: 10_001 }, (_, i) => ({ path: `f${i}`, digest: sha('x'), size: 1 }));
    const r = await outputBuild(a, { type: 'local', have: tooMany });
    assert.equal(r.code, grpc.status.INVALID_ARGUMENT, r.details);
  });

  test("another project's token cannot build, and so cannot receive, this project's output", async () => {
    const r = await outputBuild(b, { type: 'tar' });
    assert.equal(r.code, grpc.status.NOT_FOUND, r.details);
    assert.equal(r.events.filter((e) => e.output).length, 0);
  });
});
