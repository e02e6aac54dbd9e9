import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  createFileFleetRegistry,
  FleetError,
  type FleetRecord,
  type FleetRegistry,
} from '../../../src/protocol/fleet/index.js';
import { startFleetRegistration } from './index.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const base = { endpoint: 'tcp://127.0.0.1:7000', platforms: ['linux/amd64'], version: '0.1.0' };

function recorder() {
  const lines: string[] = [];
  return {
    lines,
    logger: {
      info: (_: object, msg: string) => lines.push(`info ${msg}`),
      warn: (_: object, msg: string) => lines.push(`warn ${msg}`),
    },
  };
}

test('registers, heartbeats on a timer, and deregisters on stop', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'depot-reg-'));
  dirs.push(dir);
  const file = join(dir, 'fleet.json');
  let clock = Date.parse('2025-03-01T12:00:00.000Z');
  const registry = createFileFleetRegistry(file, { now: () => new Date(clock) });
  const reader = createFileFleetRegistry(file);
  const reg = await startFleetRegistration({
    registry,
    record: { id: 'bld-1', ...base },
    intervalMs: 20,
    ttlMs: 1_000,
    now: () => new Date(clock),
  });
  assert.equal(reg.record.startedAt, '2025-03-01T12:00:00.000Z');
  assert.deepEqual(
    (await reader.list()).map((r) => r.id),
    ['bld-1'],
  );
  clock += 5_000;
  // The timer beats on its own; wait for the record to show it (a predicate, not a fixed sleep).
  for (let i = 0; i < 200; i++) {
    if ((await reader.list())[0]?.heartbeat === '2025-03-01T12:00:05.000Z') break;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal((await reader.list())[0]?.heartbeat, '2025-03-01T12:00:05.000Z');
  await reg.stop();
  await reg.stop();
  assert.deepEqual(await reader.list(), []);
});

test('failures are logged and retried; a vanished record is written again', async () => {
  const records = new Map<string, FleetRecord>();
  let down = false;
  const registry: FleetRegistry = {
    spec: 'fake:',
    async register(r) {
      if (down) throw new FleetError('fleet_unavailable', 'down');
      records.set(r.id, r);
    },
    async heartbeat(id) {
      if (down) throw new FleetError('fleet_unavailable', 'down');
      if (!records.has(id)) throw new FleetError('not_registered', 'gone');
    },
    async deregister(id) {
      records.delete(id);
    },
    list: async () => [...records.values()],
    revokeToken: async () => {},
    revokedTokens: async () => [],
  };
  const { lines, logger } = recorder();
  const reg = await startFleetRegistration({
    registry,
    record: { id: 'bld-2', ...base },
    intervalMs: 30_000,
    logger,
  });
  down = true;
  await reg.beat();
  down = false;
  records.clear();
  await reg.beat();
  assert.ok(records.has('bld-2'));
  await reg.stop();
  assert.equal(records.size, 0);
  assert.deepEqual(lines, [
    'info registered in fleet',
    'warn fleet heartbeat failed',
    'warn fleet record vanished; registering again',
    'info fleet heartbeat recovered',
    'info deregistered from fleet',
  ]);
});

test('a first registration that fails, or a bad interval, is an error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'depot-reg-'));
  dirs.push(dir);
  await writeFile(join(dir, 'not-a-dir'), '');
  const registry = createFileFleetRegistry(join(dir, 'not-a-dir', 'fleet.json'));
  await assert.rejects(startFleetRegistration({ registry, record: { id: 'x', ...base } }), {
    code: 'io_error',
  });
  await assert.rejects(
    startFleetRegistration({ registry, record: { id: 'x', ...base }, intervalMs: 60_000, ttlMs: 60_000 }),
    RangeError,
  );
  await assert.rejects(
    startFleetRegistration({ registry, record: { id: 'x', ...base, platforms: ['bogus'] } }),
    { code: 'invalid_record' },
  );
});
