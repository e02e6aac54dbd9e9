// docker build's engine flags, asked of a shared builder directly over its RPC (no client checks in
// the way): `--network host` is refused unless the operator allowed it, a cache source named in the
// builder's internal namespace (where every project's images live) is refused, another project's
// image name is only ever its own project's, and every list and value is bounded. Real
// depot-builder, real dockerd.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { EngineOptions } from '../../src/protocol/generated/depot/builder/v1/EngineOptions.js';
import { type BuilderProcess, skipReason, startBuilder } from '../integration/harness.js';
import { buildResult, fileEntry, type RpcClient, rpcClient, sha } from './rpc.js';

const skip = skipReason();

describe('engine options on a shared builder', { skip }, () => {
  let builder: BuilderProcess;
  let mallory: RpcClient;
  let snapshot = '';
  const nonce = randomUUID();

  before(async () => {
    builder = await startBuilder();
    mallory = rpcClient(builder.url, builder.token('proj-m', 'mallory'));
    const dockerfile = `FROM busybox:latest\nRUN echo ${nonce} && ls /sys/class/net\n`;
    const synced = await mallory.sync([fileEntry('Dockerfile', dockerfile)], {
      [sha(dockerfile)]: Buffer.from(dockerfile),
    });
    assert.ok(synced.ok, JSON.stringify(synced));
    snapshot = synced.snapshot;
  });
  after(async () => {
    mallory?.close();
    await builder?.stop();
  });

  const build = (engineOptions: EngineOptions) =>
    mallory.build({
      snapshotId: snapshot,
      dockerfilePath: 'Dockerfile',
      buildId: randomUUID(),
      engineOptions,
    });

  test('--network host: PERMISSION_DENIED on a builder that does not allow it', async () => {
    const r = await build({ network: 'host' });
    assert.equal(r.code, grpc.status.PERMISSION_DENIED, r.details);
    assert.match(r.details, /--network host is not allowed on this builder/);
    assert.equal(buildResult(r.events), undefined, 'nothing was built');
  });

  test("a cache source in the builder's namespace (another project's images) is refused", async () => {
    const r = await build({
      cacheFrom: ['builder.depot.internal/p0123456789abcdef01234567/0123456789abcdef-app:1'],
    });
    assert.equal(r.code, grpc.status.PERMISSION_DENIED, r.details);
    assert.match(r.details, /names in the builder's own namespace are not cache sources/);
  });

  test('bad and oversized values are refused before the engine sees them', async () => {
    const cases: Array<[EngineOptions, RegExp]> = [
      [{ network: 'container:abc' }, /BuildKit builds take default, none or host/],
      [
        { addHosts: Array.from({ length: 65 }, (_, i) => `h${i}:10.0.0.${i % 250}`) },
        /65 --add-host values, more than the limit of 64/,
      ],
      [{ addHosts: ['evil\nhost:1.2.3.4'] }, /--add-host .*use HOST:IP/],
      [{ addHosts: ['h:not-an-ip'] }, /--add-host .*use HOST:IP/],
      [{ addHosts: [`h:${'1'.repeat(600)}`] }, /--add-host value too long/],
      [{ shmSize: String(64 * 1024 ** 3) }, /--shm-size must be between 0 and 8 GiB/],
      [{ ulimits: ['nofile=10:5'] }, /the soft limit is above the hard one/],
      [{ ulimits: ['bogus=1'] }, /use NAME=SOFT\[:HARD\]/],
      [{ cacheFrom: Array.from({ length: 17 }, (_, i) => `r/c:${i}`) }, /17 --cache-from values/],
      [{ cacheFrom: ['UPPER/Case:bad'] }, /--cache-from "UPPER\/Case:bad"/],
      [{ memory: '-5' }, /--memory must not be negative/],
      [{ cpusetCpus: '0-3;rm -rf' }, /--cpuset-cpus .*use e\.g\. 0-3/],
    ];
    for (const [options, want] of cases) {
      const r = await build(options);
      assert.equal(
        r.code,
        grpc.status.INVALID_ARGUMENT,
        `${JSON.stringify(options).slice(0, 80)}: ${r.details}`,
      );
      assert.match(r.details, want);
      assert.equal(buildResult(r.events), undefined);
    }
  });

  test('what is allowed is built with its effect, never answered by an earlier build without it', async () => {
    const logs = (r: Awaited<ReturnType<typeof build>>) =>
      r.events.map((e) => (e.log ? Buffer.from(e.log.data).toString('utf8') : '')).join('');
    const plain = await build({});
    assert.ok(buildResult(plain.events)?.ok, JSON.stringify(buildResult(plain.events)));
    assert.match(logs(plain), /eth0/);
    // Same snapshot, Dockerfile and args: only the network differs, so the result cannot be reused.
    const none = await build({ network: 'none', addHosts: ['db:10.9.8.7'] });
    assert.equal(none.code, 0, none.details);
    assert.ok(buildResult(none.events)?.ok, JSON.stringify(buildResult(none.events)));
    assert.match(logs(none), /^lo$/m);
    assert.doesNotMatch(logs(none), /eth0/);
  });
});
