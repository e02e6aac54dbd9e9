import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTokenStore, issueTeamToken } from '../../builder-host/src/auth/index.js';
import { createFleetAuth, startFleetRegistration } from '../../builder-host/src/fleet/index.js';
import {
  defaultTeamSecretSpec,
  type FleetRecord,
  loadTeamSecret,
  openFleet,
} from '../../src/protocol/fleet/index.js';
import { type FakeSsm, startFakeSsm } from './fake-ssm.js';
import { tempDir } from './harness.js';

let ssm: FakeSsm;
const saved: Record<string, string | undefined> = {};
const env = {
  AWS_ACCESS_KEY_ID: 'AKIDTEST',
  AWS_SECRET_ACCESS_KEY: 'test-secret-key',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_PROFILE: undefined,
  AWS_SESSION_TOKEN: undefined,
};

before(async () => {
  ssm = await startFakeSsm();
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  process.env.DEPOT_SSM_ENDPOINT = ssm.endpoint;
});
after(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  delete process.env.DEPOT_SSM_ENDPOINT;
  await ssm.close();
});

const T0 = Date.parse('2025-03-01T12:00:00.000Z');
function record(id: string, extra: Partial<FleetRecord> = {}): FleetRecord {
  return {
    id,
    endpoint: `tcp://10.0.0.${id.length}:7000`,
    platforms: ['linux/amd64'],
    version: '0.1.0',
    startedAt: new Date(T0).toISOString(),
    heartbeat: new Date(T0).toISOString(),
    ...extra,
  };
}

test('register, list across pages, heartbeat and deregister through the AWS SDK', async () => {
  let clock = T0;
  const fleet = openFleet('ssm:/depot/pages', { now: () => new Date(clock) });
  assert.equal(fleet.spec, 'ssm:/depot/pages');
  const ids = Array.from({ length: 23 }, (_, i) => `bld-${String(i).padStart(2, '0')}`);
  for (const id of ids) await fleet.register(record(id, { platforms: ['aarch64'] }));
  assert.equal(ssm.parameters.get('/depot/pages/builders/bld-07')?.type, 'String');

  const before = ssm.calls.length;
  const listed = await fleet.list();
  const pageCalls = ssm.calls.slice(before).filter((c) => c.action === 'GetParametersByPath');
  assert.equal(pageCalls.length, 3, 'ten per page: 23 records take three pages');
  assert.equal(pageCalls[0]?.body.NextToken, undefined);
  assert.ok(pageCalls[1]?.body.NextToken && pageCalls[2]?.body.NextToken);
  assert.equal(pageCalls[0]?.body.Recursive, true);
  assert.equal(pageCalls[0]?.body.Path, '/depot/pages/builders');
  assert.deepEqual(
    listed.map((r) => r.id),
    ids,
  );
  assert.deepEqual(listed[0]?.platforms, ['linux/arm64'], 'platforms are normalised on the way in');
  assert.match(
    ssm.calls[0]?.authorization ?? '',
    /^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/us-east-1\/ssm\//,
  );

  clock = T0 + 20_000;
  await fleet.heartbeat('bld-03');
  const after = (await fleet.list()).find((r) => r.id === 'bld-03');
  assert.equal(after?.heartbeat, new Date(T0 + 20_000).toISOString());
  assert.equal(after?.startedAt, new Date(T0).toISOString());

  // Another process (no cached record) heartbeats by reading the parameter first.
  const other = openFleet('ssm:/depot/pages', { now: () => new Date(T0 + 30_000) });
  await other.heartbeat('bld-04');
  assert.equal(
    (await fleet.list()).find((r) => r.id === 'bld-04')?.heartbeat,
    new Date(T0 + 30_000).toISOString(),
  );
  await assert.rejects(other.heartbeat('bld-nope'), { code: 'not_registered' });

  await fleet.deregister('bld-03');
  await fleet.deregister('bld-03'); // absent: not an error
  assert.equal(ssm.parameters.has('/depot/pages/builders/bld-03'), false);
  assert.equal((await fleet.list()).length, 22);
  await assert.rejects(fleet.heartbeat('../x'), { code: 'invalid_record' });
});

test('a smaller page size and a parameter that is not a record', async () => {
  const invalid: string[] = [];
  const fleet = openFleet('ssm:/depot/small', {
    pageSize: 1,
    endpoint: ssm.endpoint,
    region: 'us-east-1',
    onInvalidRecord: (where) => invalid.push(where),
  });
  await fleet.register(record('a'));
  await fleet.register(record('b'));
  ssm.parameters.set('/depot/small/builders/junk', {
    name: '/depot/small/builders/junk',
    type: 'String',
    value: '{"id":"junk"}',
    version: 1,
    lastModified: 0,
  });
  const before = ssm.calls.length;
  assert.deepEqual(
    (await fleet.list()).map((r) => r.id),
    ['a', 'b'],
  );
  assert.equal(ssm.calls.slice(before).length, 3);
  assert.deepEqual(invalid, ['/depot/small/builders/junk']);
});

test('errors from SSM are FleetErrors with a code', async () => {
  const fleet = openFleet('ssm:/depot/errors');
  ssm.failNext(
    'GetParametersByPath',
    'AccessDeniedException',
    'User: x is not authorized to perform: ssm:GetParametersByPath',
  );
  await assert.rejects(fleet.list(), (err: Error & { code?: string; hint?: string }) => {
    assert.equal(err.code, 'fleet_access_denied');
    assert.match(
      err.message,
      /^ssm GetParametersByPath \/depot\/errors\/builders was denied: User: x is not authorized/,
    );
    assert.ok(err.hint);
    return true;
  });
  const unreachable = openFleet('ssm:/depot/errors', { endpoint: 'http://127.0.0.1:1' });
  await assert.rejects(unreachable.list(), { code: 'fleet_unavailable' });
  assert.throws(() => openFleet('ssm:/aws/reserved'), { code: 'invalid_fleet' });
  assert.throws(() => openFleet('ssm:depot'), { code: 'invalid_fleet' });
});

test('the team secret is a SecureString read with decryption', async () => {
  const secret = 'team-secret-0123456789abcdef0123456789abcdef';
  ssm.parameters.set('/depot/team/team-secret', {
    name: '/depot/team/team-secret',
    type: 'SecureString',
    value: secret,
    version: 1,
    lastModified: 0,
  });
  const spec = defaultTeamSecretSpec('ssm:/depot/team');
  assert.equal(spec, 'ssm:/depot/team/team-secret');
  assert.equal(await loadTeamSecret(spec!), secret);
  const call = ssm.calls.filter((c) => c.action === 'GetParameter').at(-1);
  assert.deepEqual(call?.body, { Name: '/depot/team/team-secret', WithDecryption: true });
  await assert.rejects(loadTeamSecret('ssm:/depot/team/missing'), { code: 'team_secret_invalid' });
  ssm.parameters.set('/depot/team/short', {
    name: '/depot/team/short',
    type: 'SecureString',
    value: 'short',
    version: 1,
    lastModified: 0,
  });
  await assert.rejects(loadTeamSecret('ssm:/depot/team/short'), /too short/);
});

test('a team token works on every builder of an SSM fleet until it is revoked', async () => {
  const secret = 'fleet-secret-abcdefghijklmnopqrstuvwxyz012345';
  ssm.parameters.set('/depot/auth/team-secret', {
    name: '/depot/auth/team-secret',
    type: 'SecureString',
    value: secret,
    version: 1,
    lastModified: 0,
  });
  const registryA = openFleet('ssm:/depot/auth');
  const registryB = openFleet('ssm:/depot/auth');
  const storeDir = tempDir('fleet-auth');
  const local = createTokenStore(storeDir);
  const builderA = await createFleetAuth({
    registry: registryA,
    teamSecret: 'ssm:/depot/auth/team-secret',
    fallback: local,
    revocationMaxAgeMs: 0,
  });
  const builderB = await createFleetAuth({
    registry: registryB,
    teamSecret: 'ssm:/depot/auth/team-secret',
    revocationMaxAgeMs: 0,
  });
  const { token, record: issued } = issueTeamToken(secret, 'web', 'alice');
  assert.equal((await builderA.verify(token))?.project, 'web');
  assert.equal((await builderB.verify(token))?.user, 'alice');
  const perBuilder = await local.create('api', 'bob');
  assert.equal((await builderA.verify(perBuilder.token))?.project, 'api', 'per-builder tokens keep working');
  assert.equal(await builderB.verify(perBuilder.token), undefined);

  await registryA.revokeToken(issued.id);
  assert.ok(ssm.parameters.has(`/depot/auth/revoked/${issued.id}`));
  assert.deepEqual(await registryB.revokedTokens(), [issued.id]);
  assert.equal(await builderA.verify(token), undefined);
  assert.equal(await builderB.verify(token), undefined);
});

test('a builder registers in SSM, heartbeats and removes itself on stop', async () => {
  const fleet = openFleet('ssm:/depot/reg');
  const reg = await startFleetRegistration({
    registry: fleet,
    record: { id: 'bld-arm', endpoint: 'tcp://10.1.1.1:7000', platforms: ['linux/arm64'], version: '0.1.0' },
    intervalMs: 60_000,
    ttlMs: 120_000,
  });
  assert.deepEqual(
    (await fleet.list()).map((r) => r.id),
    ['bld-arm'],
  );
  const puts = () =>
    ssm.calls.filter((c) => c.action === 'PutParameter' && c.body.Name === '/depot/reg/builders/bld-arm')
      .length;
  const n = puts();
  await reg.beat();
  assert.equal(puts(), n + 1);
  ssm.parameters.delete('/depot/reg/builders/bld-arm'); // someone removed it: the next beat writes it back
  const fresh = openFleet('ssm:/depot/reg');
  await reg.beat();
  assert.deepEqual(
    (await fresh.list()).map((r) => r.id),
    ['bld-arm'],
  );
  await reg.stop();
  assert.deepEqual(await fresh.list(), []);
});
