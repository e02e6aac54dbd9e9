// Garbage collection, fsck and crash consistency against real builder processes and the real
// builder dockerd: a builder killed with SIGKILL at precise points (DEPOT_TEST_CRASH_AT, a test-only
// hook) restarts on the same data dir with a clean fsck and builds correctly; gc never deletes what
// a running sync uses; a full disk fails a sync cleanly.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { createImageNamespaces, loadNamespaceKey } from '../../builder-host/src/server/index.js';
import {
  BUILDER_BIN,
  BUILDER_ENGINE,
  type BuilderProcess,
  buildOn,
  depot,
  docker,
  run,
  skipReason,
  startBuilder,
  tempDir,
  until,
} from '../integration/harness.js';
import { buildResult, fileEntry, rpcClient, sha } from './rpc.js';

const skip = skipReason();

const builders: BuilderProcess[] = [];
after(async () => {
  for (const b of builders) await b.stop();
});

async function start(
  dataDir?: string,
  args: string[] = [],
  crashAt?: string,
  pinIdleMs?: number,
): Promise<BuilderProcess> {
  // The child takes its environment when spawned: set the test hooks only around that.
  if (crashAt) process.env.DEPOT_TEST_CRASH_AT = crashAt;
  if (pinIdleMs) {
    process.env.DEPOT_TEST_PIN_IDLE_MS = String(pinIdleMs);
    // Each sync waits between storing its blobs and claiming them: collections run in that window.
    process.env.DEPOT_TEST_DELAY_BEFORE_CLAIM_MS = '400';
  }
  try {
    const b = await startBuilder({ dataDir, args });
    builders.push(b);
    return b;
  } finally {
    delete process.env.DEPOT_TEST_CRASH_AT;
    delete process.env.DEPOT_TEST_PIN_IDLE_MS;
    delete process.env.DEPOT_TEST_DELAY_BEFORE_CLAIM_MS;
  }
}

const builderCli = (args: string[]) => run(process.execPath, [BUILDER_BIN, ...args]);

/**
 * A context whose build checks its own files: the build fails unless every file arrived intact
 * (`sha256sum -c`), so a successful build is a correct one.
 */
function selfCheckingContext(prefix: string, files = 12, size = 2048): string {
  const dir = tempDir(prefix);
  const sums: string[] = [];
  for (let i = 0; i < files; i++) {
    const data = randomBytes(size);
    writeFileSync(join(dir, `f${i}.bin`), data);
    sums.push(`${createHash('sha256').update(data).digest('hex')}  f${i}.bin`);
  }
  writeFileSync(join(dir, 'SUMS'), `${sums.join('\n')}\n`);
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY . /ctx\nRUN cd /ctx && sha256sum -c SUMS\n');
  return dir;
}

async function waitExit(b: BuilderProcess): Promise<void> {
  if (b.child.exitCode !== null || b.child.signalCode !== null) return;
  await new Promise((r) => b.child.once('exit', r));
}

describe('crash consistency', { skip }, () => {
  for (const point of ['mid-upload', 'pack-synced', 'pack-renamed', 'before-claim', 'after-claim']) {
    test(`a builder killed at ${point} restarts with a clean fsck and builds correctly`, async () => {
      const project = `crash-${point}-${process.pid}`;
      const crashing = await start(undefined, [], point);
      const token = crashing.token(project);
      const ctx = selfCheckingContext(`crash-${point}`);
      const first = await depot([...buildOn(crashing.url, token, project), ctx]);
      assert.notEqual(first.code, 0, 'the build cannot succeed: its builder died');
      await waitExit(crashing);
      assert.equal(crashing.child.signalCode, 'SIGKILL');

      const fsck = await builderCli(['fsck', '--data', crashing.dataDir]);
      assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
      assert.match(fsck.stdout, /clean/);

      const again = await start(crashing.dataDir);
      const second = await depot([...buildOn(again.url, token, project), ctx]);
      assert.equal(second.code, 0, second.stderr);
      await again.stop();
      assert.equal((await builderCli(['fsck', '--data', crashing.dataDir])).code, 0);
    });
  }

  test('a builder killed mid-build: the build is failed at restart, not running forever', async () => {
    const project = `crash-build-${process.pid}`;
    const b = await start();
    const token = b.token(project);
    const ctx = tempDir('crash-build');
    writeFileSync(join(ctx, 'n.txt'), `${process.pid} ${Date.now()}\n`);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY n.txt /n.txt\nRUN sleep 30\n');
    const building = depot([...buildOn(b.url, token, project), ctx]);
    const db = join(b.dataDir, 'history.db');
    const running = () => {
      if (!existsSync(db)) return undefined;
      const h = new Database(db, { readonly: true, fileMustExist: true });
      try {
        return h.prepare("SELECT build_id FROM builds WHERE result = 'running'").pluck().get() as
          | string
          | undefined;
      } finally {
        h.close();
      }
    };
    const buildId = await until('the build to be recorded as running', running, 30_000);
    b.child.kill('SIGKILL');
    await waitExit(b);
    assert.notEqual((await building).code, 0);
    assert.equal(running(), buildId, 'a dead builder cannot have changed it');

    const again = await start(b.dataDir);
    const h = new Database(db, { readonly: true });
    const row = h.prepare('SELECT result, error FROM builds WHERE build_id = ?').get(buildId);
    h.close();
    assert.deepEqual(row, { result: 'failed', error: 'builder stopped' });
    await again.stop();
    assert.equal((await builderCli(['fsck', '--data', b.dataDir])).code, 0);
  });
});

describe('garbage collection against a real builder', { skip }, () => {
  test('gc refuses while a builder serves the data dir; then collects, and the next build is correct', async () => {
    const project = `gc-cli-${process.pid}`;
    const b = await start();
    const token = b.token(project);
    const contexts = [selfCheckingContext('gc-a'), selfCheckingContext('gc-b'), selfCheckingContext('gc-c')];
    for (const ctx of contexts) assert.equal((await depot([...buildOn(b.url, token, project), ctx])).code, 0);

    const refused = await builderCli(['gc', '--data', b.dataDir, '--keep-storage', '0']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^depot-builder: a builder \(pid \d+\) is serving .*: stop it first/);
    const refusedFsck = await builderCli(['fsck', '--data', b.dataDir]);
    assert.equal(refusedFsck.code, 1);
    await b.stop();

    const blobsBefore = storedBlobs(b.dataDir).size;
    // Budget 0, no window: only each project's most recent snapshot is kept.
    const keepLatest = ['--keep-storage', '0', '--keep-window', '0', '--keep-recent', '1'];
    const dry = await builderCli(['gc', '--data', b.dataDir, '--dry-run', ...keepLatest]);
    assert.equal(dry.code, 0, dry.stderr);
    // Each context has 12 files and SUMS of its own (its Dockerfile is the same for all three):
    // keeping only the most recent snapshot, the two older contexts' own blobs go.
    const gone = 2 * 13;
    assert.match(dry.stdout, new RegExp(`store: would delete ${gone} blobs .* and 2 snapshots`));
    assert.equal(storedBlobs(b.dataDir).size, blobsBefore, 'a dry run deletes nothing');

    const real = await builderCli(['gc', '--data', b.dataDir, ...keepLatest]);
    assert.equal(real.code, 0, real.stderr);
    assert.match(
      real.stdout,
      new RegExp(
        `store: deleted ${gone} blobs .* and 2 snapshots .*; dropped 2 snapshot and ${gone} blob claims`,
      ),
    );
    assert.equal(storedBlobs(b.dataDir).size, blobsBefore - gone);
    assert.equal((await builderCli(['fsck', '--data', b.dataDir])).code, 0);

    // The collected contexts sync again (their blobs are asked for) and build correctly.
    const again = await start(b.dataDir);
    for (const ctx of contexts) {
      const r = await depot([...buildOn(again.url, token, project), ctx]);
      assert.equal(r.code, 0, r.stderr);
    }
    await again.stop();

    // Engine side: the project's result names go; other names (the base image) stay. The build
    // cache budget is far above what the shared test engine holds, so the prune is accepted by the
    // engine (API 1.41) without taking anyone's cache.
    const prefix = createImageNamespaces(await loadNamespaceKey(b.dataDir)).forProject(project).prefix;
    const ours = () =>
      docker(BUILDER_ENGINE, ['images', '--format', '{{.Repository}}:{{.Tag}}'])
        .stdout.split('\n')
        .filter((n) => n.startsWith(prefix));
    assert.ok(ours().length >= 3, 'each build named its result');
    const engineGc = await builderCli([
      'gc',
      '--data',
      b.dataDir,
      '--engine',
      BUILDER_ENGINE,
      '--keep-storage',
      '0',
      '--keep-window',
      '0',
      '--keep-build-cache',
      '100TB',
    ]);
    assert.equal(engineGc.code, 0, engineGc.stderr);
    assert.match(engineGc.stdout, /engine: removed \d+ names of \d+ images/);
    assert.deepEqual(ours(), []);
    assert.equal(docker(BUILDER_ENGINE, ['image', 'inspect', 'busybox']).code, 0);
  });

  test('background gc running constantly during syncs and builds never breaks one', async () => {
    const project = `gc-bg-${process.pid}`;
    // Pins of a call that went away unnoticed last 3 s here (10 minutes by default); a build's go
    // when it ends, so the collector gets to earlier builds' snapshots while later ones sync and build.
    const b = await start(
      undefined,
      ['--gc-keep-storage', '0', '--gc-interval', '50ms', '--gc-keep-window', '0', '--gc-keep-recent', '1'],
      undefined,
      3000,
    );
    const token = b.token(project);
    for (let i = 0; i < 3; i++) {
      const ctx = selfCheckingContext(`gc-bg-${i}`, 40, 4096);
      const r = await depot([...buildOn(b.url, token, project), ctx]);
      assert.equal(r.code, 0, r.stderr);
    }
    // It did collect: earlier contexts' blobs went while later builds ran.
    await until('a collection that deleted blobs', () => /deleted [1-9]\d* blobs/.test(b.logs()), 10_000);
    await b.stop();
    assert.equal((await builderCli(['fsck', '--data', b.dataDir])).code, 0);
  });
});

describe('garbage collection and what calls still use', { skip }, () => {
  // Everything is over budget and past the window at every collection, 10 times a second; pins of
  // a call that went away unnoticed last 10 minutes (the default): far past these tests.
  const collecting = () =>
    start(undefined, [
      '--gc-keep-storage',
      '0',
      '--gc-interval',
      '100ms',
      '--gc-keep-window',
      '0',
      '--gc-keep-recent',
      '1',
    ]);

  test('a result its client will load keeps its name through collections until its Export', async () => {
    const project = `gc-hold-${process.pid}`;
    const b = await collecting();
    const c = rpcClient(b.url, b.token(project), project);
    try {
      const results = new Map<string, string>();
      for (const load of [true, false]) {
        const df = `FROM busybox\nRUN echo ${randomBytes(8).toString('hex')} > /n\n`;
        const s = await c.sync([fileEntry('Dockerfile', df)], { [sha(df)]: Buffer.from(df) });
        assert.ok(s.ok, JSON.stringify(s));
        const r = await c.build({ snapshotId: s.snapshot, dockerfilePath: 'Dockerfile', load });
        const result = buildResult(r.events);
        assert.ok(result?.ok, JSON.stringify(result ?? r));
        results.set(String(load), result.imageId);
        if (!load) continue;
        // The same build again: the builder reuses the held result, and that client loads it too.
        const again = await c.build({ snapshotId: s.snapshot, dockerfilePath: 'Dockerfile', load });
        assert.equal(buildResult(again.events)?.imageId, result.imageId);
        assert.ok(
          again.events.some((e) => e.info?.startsWith('reusing the result of an identical build')),
          'reused',
        );
      }
      const ns = createImageNamespaces(await loadNamespaceKey(b.dataDir)).forProject(project);
      const named = (id: string) => docker(BUILDER_ENGINE, ['image', 'inspect', ns.result(id)]).code === 0;
      // The build nobody loads loses its name at the first collection after it; the one to be
      // loaded has lived through that collection (built first, so older) and was reported kept.
      await until('the unloaded result collected', () => !named(results.get('false')!), 15_000);
      await until('a collection that kept a held result', () => /"keptHeld":1/.test(b.logs()), 15_000);
      assert.ok(named(results.get('true')!), "the loading client's result is still named");
      const kept = () => b.logs().match(/"keptHeld":1/g)?.length ?? 0;
      // Two clients will load it: the first Export serves one, and collections still keep it.
      for (const client of ['first', 'second']) {
        const before = kept();
        await until(`a collection keeping it before the ${client} Export`, () => kept() > before, 15_000);
        const exported = await c.exportImage(results.get('true')!);
        assert.equal(exported.code, 0, `${client}: ${exported.details}`);
        assert.ok(exported.bytes > 0);
      }
      assert.equal((await c.exportImage(results.get('false')!)).code, grpc.status.NOT_FOUND);
      // Loaded: the hold is over, and the next collections treat it like any other name.
      await until('the loaded result collected after its Export', () => !named(results.get('true')!), 15_000);
    } finally {
      c.close();
      await b.stop();
    }
  });

  test("a build's pins go when it ends: a collection takes its older snapshot at once", async () => {
    const project = `gc-pins-${process.pid}`;
    const b = await collecting();
    const c = rpcClient(b.url, b.token(project), project);
    try {
      const ctx = (n: number) => {
        const df = `FROM busybox\nCOPY f /f\n`;
        const f = `content ${n} ${randomBytes(8).toString('hex')}\n`;
        return {
          entries: [fileEntry('Dockerfile', df), fileEntry('f', f)],
          blobs: { [sha(df)]: Buffer.from(df), [sha(f)]: Buffer.from(f) },
          fDigest: sha(f),
        };
      };
      const built = ctx(1);
      const other = ctx(2);
      // Synced last, the built snapshot is the project's most recent (keep-recent 1) until the
      // other one is synced again after the build; then it is over budget and past the window,
      // with nothing but the ended build to keep it.
      const s2 = await c.sync(other.entries, other.blobs);
      const s1 = await c.sync(built.entries, built.blobs);
      assert.ok(s1.ok && s2.ok, JSON.stringify([s1, s2]));
      const r = await c.build({ snapshotId: s1.snapshot, dockerfilePath: 'Dockerfile' });
      assert.ok(buildResult(r.events)?.ok, JSON.stringify(buildResult(r.events) ?? r));
      const hex = built.fDigest.slice('sha256:'.length);
      assert.ok(storedBlobs(b.dataDir).has(hex), 'kept while it was the most recent');
      const s3 = await c.sync(other.entries, other.blobs);
      assert.ok(s3.ok, JSON.stringify(s3));
      await until(
        'the built snapshot collected after its build',
        () => !storedBlobs(b.dataDir).has(hex),
        15_000,
      );
      const rebuilt = await c.build({ snapshotId: s1.snapshot, dockerfilePath: 'Dockerfile' });
      assert.equal(rebuilt.code, grpc.status.NOT_FOUND, rebuilt.details);
    } finally {
      c.close();
      await b.stop();
    }
  });
});

describe('a full data disk', {
  skip: skip ?? (process.getuid?.() === 0 ? undefined : 'needs root to mount a tmpfs'),
}, () => {
  test('a sync that does not fit fails with a clear error and leaves nothing half-written', async () => {
    const dataDir = tempDir('enospc');
    const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dataDir]);
    assert.equal(mounted.code, 0, mounted.stderr);
    try {
      const project = `enospc-${process.pid}`;
      const b = await start(dataDir);
      const token = b.token(project);
      const ctx = selfCheckingContext('enospc', 6, 512 * 1024);
      const r = await depot([...buildOn(b.url, token, project), ctx]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /no space left on the builder's data disk/);
      assert.deepEqual(readdirSync(join(dataDir, 'tmp')), [], 'no temp file is left behind');
      // The status says the builder ran out of a resource, not that it broke.
      const big = randomBytes(3 * 1024 * 1024);
      const rpc = rpcClient(b.url, token, project);
      const raw = await rpc.sync([fileEntry('big.bin', big)], { [sha(big)]: big });
      rpc.close();
      assert.equal(raw.ok, false);
      assert.equal(!raw.ok && raw.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.deepEqual(readdirSync(join(dataDir, 'tmp')), []);
      await b.stop();
      const fsck = await builderCli(['fsck', '--data', dataDir]);
      assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
    } finally {
      await run('umount', [dataDir]);
    }
  });
});

/**
 * The digests (hex) the store on disk holds: files of their own under blobs/sha256 and the blobs
 * each pack index names.
 */
function storedBlobs(dataDir: string): Set<string> {
  const out = new Set<string>();
  const loose = join(dataDir, 'blobs', 'sha256');
  for (const e of readdirSync(loose, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.add(e.name);
  const packs = join(dataDir, 'blobs', 'packs');
  for (const f of existsSync(packs) ? readdirSync(packs) : [])
    if (f.endsWith('.idx'))
      for (const line of readFileSync(join(packs, f), 'utf8').split('\n'))
        if (line) out.add(line.split(' ')[0]!);
  return out;
}
