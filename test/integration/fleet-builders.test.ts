import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { createTokenStore, issueTeamToken } from '../../builder-host/src/auth/index.js';
import type { Engine } from '../../builder-host/src/engine/index.js';
import {
  createFleetAuth,
  type FleetRegistration,
  startFleetRegistration,
} from '../../builder-host/src/fleet/index.js';
import { createBuilderServer, createImageNamespaces } from '../../builder-host/src/server/index.js';
import { createStore } from '../../builder-host/src/store/index.js';
import {
  createProbe,
  DEFAULT_FLEET_TTL_MS,
  formatBuildersTable,
  listBuilders,
  openFleet,
  rendezvousOrder,
  routeBuild,
} from '../../src/arch/index.js';
import { tempDir } from './harness.js';

// Real gRPC builder servers (Hello only needs the engine's info, so the engine is a stub) sharing one
// file fleet and one team secret: routing, fail-over, `builders ls` and team auth end to end.

const SECRET = 'integration-team-secret-0123456789abcdef';
const dir = tempDir('fleet');
const fleetSpec = `file:${join(dir, 'fleet.json')}`;

interface Running {
  id: string;
  close(): Promise<void>;
  registration: FleetRegistration;
}
const builders = new Map<string, Running>();

function stubEngine(platform: string): Engine {
  return {
    info: async () => ({
      version: '20.10.24',
      apiVersion: '1.41',
      os: 'linux',
      arch: platform.split('/')[1]!,
      platform,
      imageStore: 'graphdriver',
      id: 'stub',
    }),
  } as unknown as Engine;
}

async function startBuilder(id: string, platform: string): Promise<Running> {
  const dataDir = tempDir(`fleet-${id}`);
  const store = await createStore(dataDir);
  const registry = openFleet(fleetSpec);
  const tokens = await createFleetAuth({
    registry,
    teamSecret: `file:${join(dir, 'team-secret')}`,
    fallback: createTokenStore(dataDir),
    revocationMaxAgeMs: 0,
  });
  const server = createBuilderServer({
    builderId: id,
    version: '0.1.0-test',
    engine: stubEngine(platform),
    store,
    namespaces: createImageNamespaces(randomBytes(32)),
    tokens,
    logger: pino({ level: 'silent' }),
  });
  const address = await server.listen('127.0.0.1:0');
  const registration = await startFleetRegistration({
    registry,
    record: { id, endpoint: `tcp://${address}`, platforms: [platform], version: '0.1.0-test' },
  });
  const running = {
    id,
    registration,
    async close() {
      await registration.stop();
      await server.close();
    },
  };
  builders.set(id, running);
  return running;
}

before(async () => {
  await writeFile(join(dir, 'team-secret'), `${SECRET}\n`, { mode: 0o600 });
  await Promise.all([
    startBuilder('bld-amd-1', 'linux/amd64'),
    startBuilder('bld-amd-2', 'linux/amd64'),
    startBuilder('bld-arm-1', 'linux/arm64'),
  ]);
});
after(async () => {
  await Promise.all([...builders.values()].map((b) => b.close()));
});

test('one team token works on every builder; routing is sticky and fails over to the next builder', async () => {
  const fleet = openFleet(fleetSpec);
  const records = await fleet.list();
  assert.deepEqual(
    records.map((r) => r.id),
    ['bld-amd-1', 'bld-amd-2', 'bld-arm-1'],
  );
  const { token } = issueTeamToken(SECRET, 'web', 'alice');
  const probe = createProbe({ token, project: 'web', timeoutMs: 2_000 });
  const route = () =>
    routeBuild({
      project: 'web',
      platforms: ['linux/amd64', 'linux/arm64'],
      records,
      now: Date.now(),
      ttlMs: DEFAULT_FLEET_TTL_MS,
      probe,
    });
  const home = rendezvousOrder(
    'web',
    records.filter((r) => r.platforms.includes('linux/amd64')),
  );
  const first = await route();
  assert.deepEqual(
    first.map((r) => r.builder.id),
    [home[0]!.id, 'bld-arm-1'],
  );
  const rows = await listBuilders({
    records,
    now: Date.now(),
    ttlMs: DEFAULT_FLEET_TTL_MS,
    token,
    project: 'web',
  });
  assert.deepEqual(
    rows.map((r) => [r.id, r.health, r.version, r.stale]),
    [
      ['bld-amd-1', 'up', '0.1.0-test', false],
      ['bld-amd-2', 'up', '0.1.0-test', false],
      ['bld-arm-1', 'up', '0.1.0-test', false],
    ],
  );
  for (const r of rows) assert.ok(r.latencyMs !== null && r.latencyMs >= 0);

  // Stop the home's server but keep its (now stale-to-be) record: the client fails over and says so.
  const stopped = builders.get(home[0]!.id)!;
  const stoppedRecord = records.find((r) => r.id === stopped.id)!;
  await stopped.close();
  builders.delete(stopped.id);
  const after = await route();
  assert.equal(after[0]!.builder.id, home[1]!.id);
  assert.deepEqual(after[0]!.notes, [`builder ${home[0]!.id} unreachable, using ${home[1]!.id}`]);
  assert.deepEqual(
    (await fleet.list()).map((r) => r.id).includes(stopped.id),
    false,
    'a clean shutdown removed the record',
  );

  const downRows = await listBuilders({
    records: [stoppedRecord, ...(await fleet.list())],
    now: Date.now(),
    ttlMs: DEFAULT_FLEET_TTL_MS,
    token,
    project: 'web',
  });
  const down = downRows.find((r) => r.id === stopped.id)!;
  assert.equal(down.health, 'down');
  assert.equal(down.latencyMs, null);
  assert.match(down.error ?? '', /cannot reach builder/);
  const table = formatBuildersTable(downRows);
  assert.match(table, /^ID +PLATFORMS +ENDPOINT +HEALTH +LATENCY +VERSION +HEARTBEAT\n/);
  assert.match(
    table,
    new RegExp(`${stopped.id} +linux/amd64 +tcp://127\\.0\\.0\\.1:\\d+ +down +- +0\\.1\\.0-test +\\d+s ago`),
  );
});

test('a wrong-secret token is unauthorized (but reachable); a revoked one stops working fleet-wide', async () => {
  const fleet = openFleet(fleetSpec);
  const records = await fleet.list();
  const now = Date.now();
  const forged = issueTeamToken('not-the-team-secret-0123456789abcdef', 'web', 'mallory').token;
  const rows = await listBuilders({
    records,
    now,
    ttlMs: DEFAULT_FLEET_TTL_MS,
    token: forged,
    project: 'web',
  });
  assert.ok(rows.length >= 2);
  for (const r of rows) {
    assert.equal(r.health, 'unauthorized');
    assert.match(r.error ?? '', /builder refused the token/);
  }
  assert.equal(
    await createProbe({ token: forged })(records[0]!),
    true,
    'refused means reachable for routing',
  );

  const { token, record } = issueTeamToken(SECRET, 'web', 'bob');
  const ok = await listBuilders({ records, now, ttlMs: DEFAULT_FLEET_TTL_MS, token, project: 'web' });
  assert.ok(ok.every((r) => r.health === 'up'));
  await fleet.revokeToken(record.id);
  const revoked = await listBuilders({ records, now, ttlMs: DEFAULT_FLEET_TTL_MS, token, project: 'web' });
  assert.ok(revoked.every((r) => r.health === 'unauthorized'));
  const otherProject = await listBuilders({
    records,
    now,
    ttlMs: DEFAULT_FLEET_TTL_MS,
    token: issueTeamToken(SECRET, 'web', 'carol').token,
    project: 'api',
  });
  assert.ok(
    otherProject.every((r) => r.health === 'unauthorized' && /permission denied/.test(r.error ?? '')),
  );
});
