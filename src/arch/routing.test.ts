import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFleetRecord } from '../protocol/fleet/index.js';
import { type FleetRecord, RoutingError, rendezvousOrder, routeBuild } from './index.js';

const NOW = Date.parse('2025-03-01T12:00:00.000Z');
const TTL = 60_000;
function rec(id: string, platforms: string[], extra: Partial<FleetRecord> = {}): FleetRecord {
  return {
    id,
    endpoint: `tcp://${id}:7000`,
    platforms,
    version: '0.1.0',
    startedAt: new Date(NOW - 3_600_000).toISOString(),
    heartbeat: new Date(NOW - 5_000).toISOString(),
    ...extra,
  };
}
const up = async () => true;

test('rendezvous: the same project lands on the same builder every time, in any record order', () => {
  const builders = ['bld-a', 'bld-b', 'bld-c'].map((id) => ({ id }));
  const first = rendezvousOrder('web', builders).map((b) => b.id);
  for (let i = 0; i < 100; i++) {
    const shuffled = [...builders].sort(() => Math.random() - 0.5);
    assert.deepEqual(
      rendezvousOrder('web', shuffled).map((b) => b.id),
      first,
    );
  }
  const homes = new Set(Array.from({ length: 60 }, (_, i) => rendezvousOrder(`p${i}`, builders)[0]!.id));
  assert.equal(homes.size, 3, 'projects spread over all builders');
});

test('rendezvous: adding a fourth builder moves about a quarter of the projects, all to it', () => {
  const three = ['bld-a', 'bld-b', 'bld-c'].map((id) => ({ id }));
  const four = [...three, { id: 'bld-d' }];
  let moved = 0;
  for (let i = 0; i < 1000; i++) {
    const before = rendezvousOrder(`project-${i}`, three)[0]!.id;
    const after = rendezvousOrder(`project-${i}`, four)[0]!.id;
    if (before !== after) {
      moved++;
      assert.equal(after, 'bld-d', 'a project only ever moves to the new builder');
    }
  }
  const share = moved / 1000;
  assert.ok(share >= 0.18 && share <= 0.32, `moved ${share}`);
});

test('routeBuild picks the project home among native builders, sticky across calls', async () => {
  const records = [
    rec('amd-1', ['linux/amd64']),
    rec('amd-2', ['linux/amd64']),
    rec('arm-1', ['linux/arm64']),
    rec('arm-2', ['linux/arm64']),
  ];
  const routes = await routeBuild({
    project: 'web',
    platforms: ['linux/amd64', 'aarch64'],
    records,
    now: NOW,
    ttlMs: TTL,
    probe: up,
  });
  assert.deepEqual(
    routes.map((r) => r.platform),
    ['linux/amd64', 'linux/arm64'],
  );
  const amdHome = rendezvousOrder('web', records.slice(0, 2))[0]!.id;
  const armHome = rendezvousOrder('web', records.slice(2))[0]!.id;
  assert.equal(routes[0]!.builder.id, amdHome);
  assert.equal(routes[1]!.builder.id, armHome);
  assert.deepEqual(
    routes.map((r) => [r.mode, r.notes]),
    [
      ['native', []],
      ['native', []],
    ],
  );
});

test('a stale heartbeat is excluded even when it would be the home', async () => {
  const records = [rec('bld-a', ['linux/amd64']), rec('bld-b', ['linux/amd64'])];
  const home = rendezvousOrder('api', records)[0]!;
  const other = records.find((r) => r !== home)!;
  home.heartbeat = new Date(NOW - TTL - 1).toISOString();
  const [route] = await routeBuild({
    project: 'api',
    platforms: ['linux/amd64'],
    records,
    now: NOW,
    ttlMs: TTL,
    probe: up,
  });
  assert.equal(route!.builder.id, other.id);
  assert.deepEqual(route!.notes, []);

  other.heartbeat = home.heartbeat;
  await assert.rejects(
    routeBuild({ project: 'api', platforms: ['linux/amd64'], records, now: NOW, ttlMs: TTL, probe: up }),
    (err: unknown) => {
      assert.ok(err instanceof RoutingError);
      assert.equal(err.code, 'no_builder');
      assert.equal(err.message, 'no live builder for linux/amd64; fleet has no live builders');
      assert.match(
        err.hint ?? '',
        /left out bld-a \(last heartbeat 60s ago\), bld-b .*heartbeat older than 60s/,
      );
      return true;
    },
  );
});

test('fail-over follows the rendezvous order and says so; each builder is probed once', async () => {
  const records = ['b1', 'b2', 'b3', 'b4'].map((id) => rec(id, ['linux/amd64', 'linux/arm64']));
  const order = rendezvousOrder('shop', records).map((r) => r.id);
  const down = new Set(order.slice(0, 2));
  const probed: string[] = [];
  const routes = await routeBuild({
    project: 'shop',
    platforms: ['linux/amd64', 'linux/arm64'],
    records,
    now: NOW,
    ttlMs: TTL,
    probe: async (r) => {
      probed.push(r.id);
      if (r.id === order[1]) throw new Error('boom'); // a throwing probe counts as down
      return !down.has(r.id);
    },
  });
  for (const route of routes) {
    assert.equal(route.builder.id, order[2]);
    assert.deepEqual(route.notes, [`builders ${order[0]}, ${order[1]} unreachable, using ${order[2]}`]);
  }
  assert.deepEqual([...probed].sort(), order.slice(0, 3).sort());

  await assert.rejects(
    routeBuild({
      project: 'shop',
      platforms: ['linux/amd64'],
      records,
      now: NOW,
      ttlMs: TTL,
      probe: async () => false,
    }),
    (err: unknown) => {
      assert.ok(err instanceof RoutingError);
      assert.equal(err.code, 'no_reachable_builder');
      assert.equal(
        err.message,
        `no reachable builder for linux/amd64: ${order.map((id) => `${id} (tcp://${id}:7000)`).join(', ')} unreachable`,
      );
      return true;
    },
  );
});

test('no builder for a platform lists the fleet; emulation only when allowed and after native ones', async () => {
  const records = [
    rec('bld-a', ['linux/amd64']),
    rec('bld-b', ['linux/arm64']),
    rec('bld-q', ['linux/amd64'], { emulated: ['linux/s390x', 'linux/arm64'] }),
  ];
  await assert.rejects(
    routeBuild({ project: 'x', platforms: ['linux/riscv64'], records, now: NOW, ttlMs: TTL, probe: up }),
    {
      message:
        'no live builder for linux/riscv64; fleet has: bld-a (linux/amd64), bld-b (linux/arm64), bld-q (linux/amd64, emulates linux/s390x linux/arm64)',
    },
  );
  await assert.rejects(
    routeBuild({ project: 'x', platforms: ['linux/s390x'], records, now: NOW, ttlMs: TTL, probe: up }),
    {
      code: 'no_builder',
      message:
        'no live builder for linux/s390x; fleet has: bld-a (linux/amd64), bld-b (linux/arm64), bld-q (linux/amd64, emulates linux/s390x linux/arm64); pass --allow-emulation to use an emulating builder',
    },
  );
  const [s390] = await routeBuild({
    project: 'x',
    platforms: ['s390x'],
    records,
    now: NOW,
    ttlMs: TTL,
    probe: up,
    allowEmulation: true,
  });
  assert.equal(s390!.builder.id, 'bld-q');
  assert.equal(s390!.mode, 'emulated');
  assert.deepEqual(s390!.notes, [
    'no native builder for linux/s390x available; bld-q emulates it, which is slower',
  ]);

  // A native arm64 builder wins over the emulating one; when it is down, emulation takes over.
  const opts = {
    project: 'x',
    platforms: ['linux/arm64'],
    records,
    now: NOW,
    ttlMs: TTL,
    allowEmulation: true,
  };
  assert.equal((await routeBuild({ ...opts, probe: up }))[0]!.builder.id, 'bld-b');
  const [fallback] = await routeBuild({ ...opts, probe: async (r) => r.id !== 'bld-b' });
  assert.equal(fallback!.builder.id, 'bld-q');
  assert.deepEqual(fallback!.notes, [
    'builder bld-b unreachable, using bld-q',
    'no native builder for linux/arm64 available; bld-q emulates it, which is slower',
  ]);
  await assert.rejects(routeBuild({ ...opts, allowEmulation: false, probe: async (r) => r.id !== 'bld-b' }), {
    code: 'no_reachable_builder',
    hint: 'pass --allow-emulation to use an emulating builder',
  });
});

test('--build-platform sends every target to builders of that platform', async () => {
  const records = [rec('bld-a', ['linux/amd64']), rec('bld-b', ['linux/arm64'])];
  const routes = await routeBuild({
    project: 'x',
    platforms: ['linux/amd64', 'linux/arm64'],
    buildPlatform: 'x86_64',
    records,
    now: NOW,
    ttlMs: TTL,
    probe: up,
  });
  assert.deepEqual(
    routes.map((r) => [r.platform, r.builder.id, r.mode]),
    [
      ['linux/amd64', 'bld-a', 'native'],
      ['linux/arm64', 'bld-a', 'build-platform'],
    ],
  );
  await assert.rejects(
    routeBuild({
      project: 'x',
      platforms: ['linux/amd64'],
      buildPlatform: 'linux/s390x',
      records,
      now: NOW,
      ttlMs: TTL,
      probe: up,
    }),
    { message: /^no live builder for build platform linux\/s390x; fleet has: bld-a/ },
  );
  await assert.rejects(
    routeBuild({ project: 'x', platforms: ['sparc'], records, now: NOW, ttlMs: TTL, probe: up }),
    { code: 'invalid_platform' },
  );
});

test('a probe error the caller calls fatal ends routing instead of failing over', async () => {
  const records = ['b1', 'b2'].map((id) => rec(id, ['linux/amd64']));
  const refused = Object.assign(new Error('refusing to send a token in plaintext'), { fatal: true });
  await assert.rejects(
    routeBuild({
      project: 'shop',
      platforms: ['linux/amd64'],
      records,
      now: NOW,
      ttlMs: TTL,
      probe: async () => {
        throw refused;
      },
      isFatal: (err) => (err as { fatal?: boolean }).fatal === true,
    }),
    (err) => err === refused,
  );
});

test('a builder kept for some projects (serve --projects) is routed to by those projects only', async () => {
  const records = [
    rec('shared', ['linux/amd64']),
    rec('kept', ['linux/amd64'], { projects: ['payments', 'ledger'] }),
  ];
  const probed: string[] = [];
  const probe = async (r: FleetRecord) => {
    probed.push(r.id);
    return true;
  };
  // Among many projects, those not listed never land on "kept", even when it would be their home.
  const homes = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const [route] = await routeBuild({
      project: `p${i}`,
      platforms: ['linux/amd64'],
      records,
      now: NOW,
      ttlMs: TTL,
      probe,
    });
    homes.add(route!.builder.id);
  }
  assert.deepEqual([...homes], ['shared']);
  assert.ok(!probed.includes('kept'), 'a builder that refuses the project is not even probed');
  // A listed project may use it (both builders are candidates).
  for (const project of ['payments', 'ledger']) {
    const order = rendezvousOrder(project, records).map((r) => r.id);
    const [route] = await routeBuild({
      project,
      platforms: ['linux/amd64'],
      records,
      now: NOW,
      ttlMs: TTL,
      probe: up,
    });
    assert.equal(route!.builder.id, order[0]);
  }
  // Only the kept builder left: other projects get a clear refusal naming it.
  await assert.rejects(
    routeBuild({
      project: 'web',
      platforms: ['linux/amd64'],
      records: [records[1]!],
      now: NOW,
      ttlMs: TTL,
      probe: up,
    }),
    (err: unknown) => {
      assert.ok(err instanceof RoutingError);
      assert.equal(err.code, 'no_builder');
      assert.match(err.message, /kept serves only other projects than web/);
      return true;
    },
  );
});

test('fleet records carry the projects a builder serves', () => {
  const parsed = parseFleetRecord(rec('kept', ['linux/amd64'], { projects: ['payments'] }));
  assert.deepEqual(parsed.projects, ['payments']);
  assert.equal(parseFleetRecord(rec('any', ['linux/amd64'])).projects, undefined);
});
