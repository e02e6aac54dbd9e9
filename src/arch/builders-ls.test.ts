import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  asDepotError,
  type FleetRecord,
  formatAge,
  formatBuildersJson,
  formatBuildersTable,
  listBuilders,
  PlatformError,
  parsePlatform,
  resolveFleetSpec,
} from './index.js';

const NOW = Date.parse('2025-03-01T12:00:00.000Z');
function rec(id: string, ageMs: number, extra: Partial<FleetRecord> = {}): FleetRecord {
  return {
    id,
    endpoint: `tcp://${id}:7000`,
    platforms: ['linux/amd64'],
    version: '0.0.9',
    startedAt: new Date(NOW - 3_600_000).toISOString(),
    heartbeat: new Date(NOW - ageMs).toISOString(),
    ...extra,
  };
}

test('builders ls: rows, table and json', async () => {
  const records = [
    rec('bld-b', 4_000, { platforms: ['linux/arm64'], emulated: ['linux/amd64'] }),
    rec('bld-a', 2_000),
    rec('bld-c', 300_000),
  ];
  const rows = await listBuilders({
    records,
    now: NOW,
    ttlMs: 60_000,
    token: 't',
    probe: async (r) =>
      r.id === 'bld-a'
        ? { health: 'up', latencyMs: 1.234, version: '0.1.0' }
        : r.id === 'bld-b'
          ? { health: 'unauthorized', latencyMs: undefined, error: 'builder refused the token' }
          : Promise.reject(new Error('connect ECONNREFUSED')),
  });
  assert.deepEqual(rows, [
    {
      id: 'bld-a',
      endpoint: 'tcp://bld-a:7000',
      platforms: ['linux/amd64'],
      emulated: [],
      version: '0.1.0',
      health: 'up',
      latencyMs: 1.2,
      heartbeatAgeMs: 2_000,
      stale: false,
      error: null,
    },
    {
      id: 'bld-b',
      endpoint: 'tcp://bld-b:7000',
      platforms: ['linux/arm64'],
      emulated: ['linux/amd64'],
      version: '0.0.9',
      health: 'unauthorized',
      latencyMs: null,
      heartbeatAgeMs: 4_000,
      stale: false,
      error: 'builder refused the token',
    },
    {
      id: 'bld-c',
      endpoint: 'tcp://bld-c:7000',
      platforms: ['linux/amd64'],
      emulated: [],
      version: '0.0.9',
      health: 'down',
      latencyMs: null,
      heartbeatAgeMs: 300_000,
      stale: true,
      error: 'connect ECONNREFUSED',
    },
  ]);
  assert.equal(
    formatBuildersTable(rows),
    [
      'ID     PLATFORMS                          ENDPOINT          HEALTH        LATENCY  VERSION  HEARTBEAT',
      'bld-a  linux/amd64                        tcp://bld-a:7000  up            1.2ms    0.1.0    2s ago',
      'bld-b  linux/arm64,linux/amd64(emulated)  tcp://bld-b:7000  unauthorized  -        0.0.9    4s ago',
      'bld-c  linux/amd64                        tcp://bld-c:7000  down          -        0.0.9    5m ago (stale)',
      '',
    ].join('\n'),
  );
  assert.equal(formatBuildersTable([], 'ssm:/depot'), 'no builders registered in ssm:/depot\n');
  assert.deepEqual(JSON.parse(formatBuildersJson(rows)), rows);
  assert.deepEqual(
    [0, 59_000, 119_999, 120_000, 7_200_000, 172_800_000, Number.POSITIVE_INFINITY].map(formatAge),
    ['0s', '59s', '119s', '2m', '2h', '2d', '?'],
  );
});

test('the fleet spec comes from the flag, DEPOT_FLEET, the config, or the default file', () => {
  const env = { XDG_DATA_HOME: '/data' };
  assert.deepEqual(resolveFleetSpec({ env }), { spec: 'file:/data/depot/fleet.json', source: 'default' });
  assert.deepEqual(resolveFleetSpec({ env, config: 'ssm:/cfg' }), { spec: 'ssm:/cfg', source: 'config' });
  assert.deepEqual(resolveFleetSpec({ env: { ...env, DEPOT_FLEET: 'ssm:/env' }, config: 'ssm:/cfg' }), {
    spec: 'ssm:/env',
    source: 'env',
  });
  assert.deepEqual(resolveFleetSpec({ env: { DEPOT_FLEET: 'ssm:/env' }, flag: 'file:/f.json' }), {
    spec: 'file:/f.json',
    source: 'flag',
  });
  assert.throws(() => resolveFleetSpec({ env, flag: 'redis://x' }), { code: 'invalid_fleet' });
});

test('fleet and platform errors become DepotErrors for the CLI', () => {
  let caught: unknown;
  try {
    parsePlatform('foo');
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof PlatformError);
  const converted = asDepotError(caught) as { code: string; message: string; name: string };
  assert.equal(converted.constructor.name, 'DepotError');
  assert.equal(converted.code, 'invalid_platform');
  assert.match(converted.message, /^unknown platform "foo"/);
  const other = new Error('x');
  assert.equal(asDepotError(other), other);
});
