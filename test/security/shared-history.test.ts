// A history shared by a fleet holds every project's builds in one database: a project's token, on
// any builder, learns nothing of another project's builds from it — not through Stats (any window,
// any grouping, the other project's name in its metadata), not through WatchBuilds (while the other
// project builds on either builder), not through StepCosts, not through `depot stats --fleet`, not
// through ListBuilds or BuildTrace (while its own builds replay from either builder).
// Two real depot-builders, one real PostgreSQL, real dockerd.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { StepCostsResponse__Output } from '../../src/protocol/generated/depot/builder/v1/StepCostsResponse.js';
import {
  depot,
  type HistoryFleet,
  postgresSkipReason,
  psql,
  skipReason,
  startHistoryFleet,
  until,
} from '../integration/harness.js';
import {
  buildResult,
  buildTrace,
  fileEntry,
  listBuilds,
  type RpcClient,
  rpcClient,
  sha,
  stats,
  watchBuilds,
} from './rpc.js';

const skip = skipReason() ?? postgresSkipReason();

describe("a shared history: another project's token sees none of a project's builds, on any builder", {
  skip,
}, () => {
  let fleet: HistoryFleet;
  const nonce = randomUUID().slice(0, 8);
  const alpha = `alpha-${nonce}`;
  const beta = `beta-${nonce}`;
  // An instruction only beta's builds ran: it must appear in no answer to alpha.
  const secretStep = `RUN echo beta-secret-${nonce} > /built`;
  const clients: RpcClient[] = [];
  const client = (i: number, token: string, project?: string) => {
    const c = rpcClient(fleet.builders[i]!.url, token, project);
    clients.push(c);
    return c;
  };
  let mallory = '';
  let bob = '';

  /** One synced build of `dockerfile` through `c` (a client of one builder and one project). */
  async function build(c: RpcClient, dockerfile: string): Promise<void> {
    const src = `${randomUUID()}\n`;
    const synced = await c.sync([fileEntry('Dockerfile', dockerfile), fileEntry('src.txt', src)], {
      [sha(dockerfile)]: Buffer.from(dockerfile),
      [sha(src)]: Buffer.from(src),
    });
    assert.ok(synced.ok, JSON.stringify(synced));
    const built = await c.build({
      snapshotId: synced.snapshot,
      dockerfilePath: 'Dockerfile',
      buildId: randomUUID(),
    });
    assert.ok(buildResult(built.events)?.ok, JSON.stringify(buildResult(built.events)));
  }

  before(async () => {
    fleet = await startHistoryFleet(`sec-hist-${process.pid}`, ['bld-one', 'bld-two']);
    mallory = fleet.teamToken(alpha, 'mallory');
    bob = fleet.teamToken(beta, 'bob');
  });
  after(async () => {
    for (const c of clients) c.close();
    await fleet?.stop();
  });

  test('Stats, WatchBuilds and StepCosts of either builder show alpha its own builds only', async () => {
    const watches = await Promise.all([watchBuilds(client(0, mallory)), watchBuilds(client(1, mallory))]);
    // beta builds on both builders, then alpha once: by then the watchers heard everything before it.
    const betaDockerfile = `FROM busybox:latest\nCOPY . /app\n${secretStep}\n`;
    await build(client(1, bob, beta), betaDockerfile);
    await build(client(0, bob, beta), betaDockerfile);
    await build(client(1, mallory, alpha), 'FROM busybox:latest\nCOPY . /app\nRUN cat /app/src.txt\n');
    for (const w of watches)
      await until('the watcher hears of alpha build', () => w.seen.some((s) => s.result === 'ok'), 15_000);
    // The history holds beta's builds: there is something to leak.
    assert.equal(psql(fleet.database, `SELECT count(*) FROM builds WHERE project = '${beta}'`), '2');

    for (const w of watches) {
      w.cancel();
      assert.ok(w.seen.length >= 2);
      assert.deepEqual([...new Set(w.seen.map((s) => s.project))], [alpha], JSON.stringify(w.seen));
    }

    for (const i of [0, 1]) {
      const c = client(i, mallory);
      for (const window of ['1h', '24h', '7d'])
        for (const groupBy of ['project', 'user', 'platform']) {
          const s = await stats(c, window, groupBy);
          const text = JSON.stringify(s);
          assert.equal(s.totals?.builds, 1, `${window} ${groupBy}`);
          assert.ok(!text.includes(beta) && !text.includes('bob'), text);
          assert.ok(!text.includes(`beta-secret-${nonce}`), text);
          assert.deepEqual(
            [...s.recent, ...s.running].map((b) => b.project),
            [alpha],
          );
        }
      // Naming beta in the metadata does not switch projects.
      await assert.rejects(stats(client(i, mallory, beta)), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.PERMISSION_DENIED);
        return true;
      });
      const costs = await new Promise<StepCostsResponse__Output>((resolve, reject) =>
        c.client.StepCosts(
          { dockerfilePath: 'Dockerfile', target: '', platform: '', last: 500 },
          c.md,
          { deadline: Date.now() + 10_000 },
          (err, res) => (err ? reject(err) : resolve(res!)),
        ),
      );
      assert.equal(costs.builds, 1, 'its own build of the same Dockerfile path only');
      assert.ok(!JSON.stringify(costs).includes(`beta-secret-${nonce}`));
    }
  });

  test('depot stats --fleet with alpha token: the fleet answers with alpha builds only', async () => {
    const r = await depot([
      'stats',
      '--fleet',
      fleet.fleetSpec,
      '--token',
      mallory,
      '--project',
      alpha,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(beta) && !r.stdout.includes(`beta-secret-${nonce}`), r.stdout);
    const answer = JSON.parse(r.stdout) as { totals: { builds: number }; recent: { project: string }[] };
    assert.equal(answer.totals.builds, 1);
    assert.deepEqual(
      answer.recent.map((b) => b.project),
      [alpha],
    );
    // The token is alpha's: asking the fleet for beta is refused, not answered.
    const denied = await depot(['stats', '--fleet', fleet.fleetSpec, '--token', mallory, '--project', beta]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /cannot use project/);
  });

  test("ListBuilds and BuildTrace of either builder: alpha replays its own builds from both, beta's from neither", async () => {
    // Beta's builds (recorded on both builders above) by id, read with beta's own token.
    const betaIds = (await listBuilds(client(0, bob, beta))).builds.map((b) => b.summary!.buildId);
    assert.equal(betaIds.length, 2);
    await build(client(0, mallory, alpha), `FROM busybox:latest\nRUN echo alpha-replayed-${nonce}\n`);
    for (const i of [0, 1]) {
      const c = client(i, mallory);
      const listed = await listBuilds(c, { limit: 500 });
      assert.deepEqual([...new Set(listed.builds.map((b) => b.summary?.project))], [alpha]);
      assert.ok(!JSON.stringify(listed).includes(`beta-secret-${nonce}`));
      // The build recorded through bld-one replays through either builder, events and all.
      const mine = listed.builds.find((b) => b.summary?.builder === 'bld-one');
      assert.ok(mine, JSON.stringify(listed));
      const t = await buildTrace(c, mine.summary!.buildId);
      assert.equal(t.code, grpc.status.OK, t.details);
      assert.ok(
        t.chunks
          .flatMap((x) => x.events)
          .some((e) => e.event?.log?.data.toString().includes(`alpha-replayed-${nonce}`)),
      );
      // Beta's ids, whole or cut, are as unknown to alpha as an id nobody used.
      for (const id of [...betaIds, ...betaIds.map((x) => x.slice(0, 6))]) {
        const denied = await buildTrace(c, id);
        assert.equal(denied.code, grpc.status.NOT_FOUND, `${id}: ${denied.details}`);
        assert.deepEqual(denied.chunks, []);
      }
    }
  });
});
