import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  createFileFleetRegistry,
  type FleetRecord,
  liveRecords,
  openFleet,
  parseFleetRecord,
} from './index.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'depot-fleet-'));
  dirs.push(dir);
  return dir;
}

const T0 = Date.parse('2025-03-01T12:00:00.000Z');
function record(id: string, extra: Partial<FleetRecord> = {}): FleetRecord {
  return {
    id,
    endpoint: `tcp://127.0.0.1:${7000 + id.length}`,
    platforms: ['linux/amd64'],
    version: '0.1.0',
    startedAt: new Date(T0).toISOString(),
    heartbeat: new Date(T0).toISOString(),
    ...extra,
  };
}

test('two builders register in one file; a reader sees both; heartbeat and deregister', async () => {
  const file = join(await freshDir(), 'sub', 'fleet.json');
  let clock = T0;
  const a = openFleet(`file:${file}`, { now: () => new Date(clock) });
  const b = createFileFleetRegistry(file, { now: () => new Date(clock) });
  const reader = openFleet(`file:${file}`);
  assert.equal(a.spec, `file:${file}`);
  assert.deepEqual(await reader.list(), [], 'no file yet: an empty fleet');

  await Promise.all([
    a.register(record('bld-amd', { platforms: ['x86_64'] })),
    b.register(record('bld-arm', { platforms: ['linux/arm64/v8'], emulated: ['amd64'] })),
  ]);
  const listed = await reader.list();
  assert.deepEqual(
    listed.map((r) => [r.id, r.platforms, r.emulated]),
    [
      ['bld-amd', ['linux/amd64'], undefined],
      ['bld-arm', ['linux/arm64'], ['linux/amd64']],
    ],
  );

  clock = T0 + 45_000;
  await a.heartbeat('bld-amd');
  const now = T0 + 70_000;
  assert.deepEqual(
    liveRecords(await reader.list(), now, 60_000).map((r) => r.id),
    ['bld-amd'],
    'bld-arm has not beaten for 70 s',
  );
  await assert.rejects(a.heartbeat('bld-gone'), { code: 'not_registered' });

  await b.deregister('bld-arm');
  await b.deregister('bld-arm');
  assert.deepEqual(
    (await reader.list()).map((r) => r.id),
    ['bld-amd'],
  );
  // Only the fleet file is left: no temp or lock files.
  assert.deepEqual(await readdir(join(file, '..')), ['fleet.json']);
});

test('concurrent writers from many registries lose nothing', async () => {
  const file = join(await freshDir(), 'fleet.json');
  const registries = Array.from({ length: 6 }, () => createFileFleetRegistry(file));
  await Promise.all(
    registries.flatMap((r, i) => [
      r.register(record(`bld-${i}`)),
      r.register(record(`bld-${i}-x`)),
      r.revokeToken(`0123456789abcde${i}`),
    ]),
  );
  assert.equal((await registries[0]!.list()).length, 12);
  assert.equal((await registries[0]!.revokedTokens()).length, 6);
});

test('revoked token ids live in the file', async () => {
  const file = join(await freshDir(), 'fleet.json');
  const fleet = createFileFleetRegistry(file);
  assert.deepEqual(await fleet.revokedTokens(), []);
  await fleet.revokeToken('00000000000000aa');
  await fleet.revokeToken('00000000000000aa');
  assert.deepEqual(await createFileFleetRegistry(file).revokedTokens(), ['00000000000000aa']);
  await assert.rejects(fleet.revokeToken('../etc'), { code: 'invalid_record' });
});

test('invalid records are skipped and reported; a corrupt file is an error', async () => {
  const dir = await freshDir();
  const file = join(dir, 'fleet.json');
  await writeFile(
    file,
    JSON.stringify({
      version: 1,
      builders: {
        ok: record('ok'),
        bad: { id: 'bad', platforms: ['linux/amd64'] },
        other: record('mismatch'),
      },
      revoked: {},
    }),
  );
  const invalid: string[] = [];
  const fleet = createFileFleetRegistry(file, { onInvalidRecord: (where) => invalid.push(where) });
  assert.deepEqual(
    (await fleet.list()).map((r) => r.id),
    ['ok'],
  );
  assert.deepEqual(invalid, [`${file}#bad`, `${file}#other`]);

  await writeFile(file, 'not json');
  await assert.rejects(fleet.list(), { code: 'fleet_corrupt' });
  await assert.rejects(fleet.register(record('x')), { code: 'fleet_corrupt' });
  assert.equal(await readFile(file, 'utf8'), 'not json', 'a corrupt file is never overwritten');
});

test('a held lock times out with a clear error', async () => {
  const file = join(await freshDir(), 'fleet.json');
  await writeFile(`${file}.lock`, '');
  const fleet = createFileFleetRegistry(file, { lockTimeoutMs: 50 });
  await assert.rejects(fleet.register(record('x')), (err: Error & { code?: string; hint?: string }) => {
    assert.equal(err.code, 'fleet_locked');
    assert.match(err.hint ?? '', /remove .*fleet\.json\.lock/);
    return true;
  });
});

test('records are validated and normalised', () => {
  assert.deepEqual(
    parseFleetRecord(record('a', { platforms: ['armhf', 'linux/arm/v7', 'aarch64'] })).platforms,
    ['linux/arm/v7', 'linux/arm64'],
  );
  assert.throws(() => parseFleetRecord(record('a', { platforms: ['foo'] })), {
    code: 'invalid_record',
    message: /platforms: unknown platform "foo"/,
  });
  assert.throws(() => parseFleetRecord(record('a', { platforms: [] })), /at least one platform/);
  assert.throws(() => parseFleetRecord(record('a/b')), /fleet record is not valid: id/);
  assert.throws(() => parseFleetRecord(record('a', { heartbeat: 'yesterday' })), /heartbeat/);
  assert.throws(() => openFleet('consul:/x'), { code: 'invalid_fleet' });
  assert.throws(() => openFleet('file:'), { code: 'invalid_fleet' });
});

test('liveRecords keeps records within the TTL', () => {
  const recs = [
    record('fresh', { heartbeat: new Date(T0 - 1_000).toISOString() }),
    record('edge', { heartbeat: new Date(T0 - 60_000).toISOString() }),
    record('stale', { heartbeat: new Date(T0 - 60_001).toISOString() }),
  ];
  assert.deepEqual(
    liveRecords(recs, T0, 60_000).map((r) => r.id),
    ['fresh', 'edge'],
  );
});
