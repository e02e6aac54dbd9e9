import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { stepCause } from './explainer.js';
import { type History, MIGRATIONS, openHistory } from './history.js';
import { createTraceRecorder, readTrace } from './trace.js';
import type { BuildStart, StepRecord } from './types.js';

const H = 3_600_000;
const NOW = Date.UTC(2025, 0, 10, 12, 0, 0);

function start(over: Partial<BuildStart> = {}): BuildStart {
  return {
    buildId: `b-${Math.random()}`,
    project: 'web',
    user: 'ann',
    platform: 'linux/amd64',
    startedMs: NOW - H,
    snapshotId: 'sha256:s1',
    buildArgs: {},
    dockerfilePath: 'Dockerfile',
    target: '',
    dockerfileDigest: 'sha256:df1',
    dockerfile: 'FROM busybox\n',
    baseImages: { busybox: 'sha256:bb' },
    noCache: false,
    bytesUploaded: 0,
    bytesDeduplicated: 0,
    ...over,
  };
}

const step = (
  name: string,
  cached: boolean,
  durationMs: number,
  over: Partial<StepRecord> = {},
): StepRecord => ({
  digest: `sha256:${name}`,
  name,
  cached,
  durationMs,
  bytes: 0,
  ...over,
});

async function record(
  h: History,
  s: Partial<BuildStart>,
  steps: StepRecord[],
  result: 'ok' | 'failed' = 'ok',
  ms = 1000,
) {
  const b = start(s);
  const { id } = await h.recordBuildStart(b);
  return h.recordBuildFinish({ id, finishedMs: b.startedMs + ms, result, steps });
}

describe('history database', () => {
  test('migrations run once and reopening is idempotent', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'depot-history-')), 'history.db');
    const h1 = await openHistory(file);
    assert.equal(await h1.schemaVersion(), MIGRATIONS.length);
    await record(h1, {}, [step('[1/2] FROM busybox', true, 0)]);
    await h1.close();
    const h2 = await openHistory(file);
    assert.equal(await h2.schemaVersion(), MIGRATIONS.length);
    assert.equal((await h2.stats({ window: '24h', groupBy: 'project', now: NOW })).totals?.builds, 1);
    await h2.close();
    const db = new Database(file);
    assert.equal(
      db.prepare('SELECT count(*) FROM schema_version').pluck().get() as number,
      MIGRATIONS.length,
    );
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });

  test('a build is running until finished, then carries its steps and savings', async () => {
    const h = await openHistory(':memory:');
    const { id, summary } = await h.recordBuildStart(start({ buildId: 'one' }));
    assert.equal(summary.result, 'running');
    assert.equal(summary.finishedMs, 0);
    assert.equal((await h.stats({ window: '24h', groupBy: 'project', now: NOW })).totals?.builds, 0);
    assert.equal(await h.previousBuild('web', 'linux/amd64', 'Dockerfile', ''), undefined);
    const done = await h.recordBuildFinish({
      id,
      finishedMs: NOW - H + 5000,
      result: 'ok',
      steps: [
        step('[1/2] COPY . .', false, 1200, { cause: stepCause('first_build', 'first') }),
        step('[2/2] RUN x', false, 3000),
      ],
    });
    assert.deepEqual(
      { result: done.result, steps: done.steps, cached: done.cachedSteps, saved: done.savedMs },
      { result: 'ok', steps: 2, cached: 0, saved: 0 },
    );
    const prev = await h.previousBuild('web', 'linux/amd64', 'Dockerfile', '');
    assert.equal(prev?.buildId, 'one');
    assert.equal(prev?.dockerfile, 'FROM busybox\n');
    assert.deepEqual(prev?.baseImages, { busybox: 'sha256:bb' });
    assert.deepEqual(
      prev?.steps.map((s) => [s.name, s.cached, s.durationMs]),
      [
        ['[1/2] COPY . .', false, 1200],
        ['[2/2] RUN x', false, 3000],
      ],
    );
    assert.equal(await h.previousBuild('web', 'linux/arm64', 'Dockerfile', ''), undefined);
    assert.equal(await h.hasStep('sha256:[2/2] RUN x'), true);
    assert.equal(await h.hasStep('sha256:nope'), false);
    // An identical rebuild: both cached, each saving its last uncached run.
    const again = await record(h, { startedMs: NOW - H / 2 }, [
      step('[1/2] COPY . .', true, 0),
      step('[2/2] RUN x', true, 0),
    ]);
    assert.equal(again.savedMs, 4200);
    assert.equal(again.cachedSteps, 2);
    await h.close();
  });

  test('timeSaved: last uncached run by digest, else median for the instruction, else 0', async () => {
    const h = await openHistory(':memory:');
    await record(h, {}, [step('[1/3] RUN a', false, 100, { digest: 'd1' })]);
    await record(h, {}, [step('[1/3] RUN a', false, 300, { digest: 'd2' })]);
    await record(h, {}, [step('[2/4] RUN a', false, 900, { digest: 'd3' })]);
    await record(h, {}, [step('[1/3] RUN a', false, 50, { digest: 'd1' })]);
    assert.equal(await h.timeSaved({ project: 'web', digest: 'd1', name: '[1/3] RUN a' }), 50);
    assert.equal(await h.timeSaved({ project: 'web', digest: 'd2', name: '[1/3] RUN a' }), 300);
    // Unknown digest: median of 100, 300, 900, 50 → (100 + 300) / 2, across stage prefixes.
    assert.equal(await h.timeSaved({ project: 'web', digest: 'dx', name: '[7/9] RUN a' }), 200);
    assert.equal(await h.timeSaved({ project: 'api', digest: 'dx', name: '[1/3] RUN a' }), 0);
    assert.equal(await h.timeSaved({ project: 'web', digest: 'dx', name: '[1/3] RUN b' }), 0);
    await h.close();
  });

  test('stats: exact totals, ratios, groups and series over a scripted dataset', async () => {
    const h = await openHistory(':memory:');
    const s = (cached: boolean, ms: number, name = 'RUN x') =>
      step(`[1/1] ${name}`, cached, ms, { digest: `${name}-${cached}-${ms}` });
    // In the last hour: web/ann 2 builds, api/bob 1 failed build.
    await record(
      h,
      { startedMs: NOW - 10 * 60_000, bytesUploaded: 100, bytesDeduplicated: 900 },
      [s(false, 1000), s(true, 0)],
      'ok',
      2000,
    );
    await record(
      h,
      { startedMs: NOW - 50 * 60_000, user: 'bob', bytesUploaded: 10 },
      [s(true, 0), s(true, 0)],
      'ok',
      500,
    );
    await record(
      h,
      { startedMs: NOW - 30 * 60_000, project: 'api', user: 'bob', platform: 'linux/arm64' },
      [s(false, 4000)],
      'failed',
      4000,
    );
    // 5 h ago and 3 days ago.
    await record(
      h,
      { startedMs: NOW - 5 * H - 1 },
      [s(false, 10), s(false, 10), s(true, 0), s(true, 0)],
      'ok',
      100,
    );
    await record(h, { startedMs: NOW - 72 * H }, [s(true, 0)], 'ok', 100);
    // Outside every window, and one still running.
    await record(h, { startedMs: NOW - 8 * 24 * H }, [s(false, 1)]);
    await h.recordBuildStart(start({ startedMs: NOW - 60_000 }));

    const hour = await h.stats({ window: '1h', groupBy: 'project', now: NOW });
    assert.deepEqual(hour.totals, {
      builds: 3,
      steps: 5,
      cachedSteps: 3,
      hitRatio: 3 / 5,
      // bob's two cached "RUN x" steps each save the median uncached "RUN x" run so far (1000 ms).
      savedMs: 2000,
      buildMs: 6500,
      bytesDeduplicated: 900,
      bytesUploaded: 110,
      failedBuilds: 1,
    });
    assert.deepEqual(
      hour.groups.map((g) => [
        g.key,
        g.totals?.builds,
        g.totals?.steps,
        g.totals?.cachedSteps,
        g.totals?.failedBuilds,
      ]),
      [
        ['web', 2, 4, 3, 0],
        ['api', 1, 1, 0, 1],
      ],
    );
    assert.equal(hour.series.length, 12);
    assert.deepEqual(
      hour.series
        .filter((b) => b.steps > 0)
        .map((b) => [(b.startMs - (NOW - H)) / 60_000, b.steps, b.cachedSteps]),
      [
        [10, 2, 2],
        [30, 1, 0],
        [50, 2, 1],
      ],
    );

    const day = await h.stats({ window: '24h', groupBy: 'user', now: NOW });
    assert.equal(day.totals?.builds, 4);
    assert.equal(day.totals?.steps, 9);
    assert.equal(day.totals?.cachedSteps, 5);
    assert.deepEqual(
      day.groups.map((g) => [g.key, g.totals?.builds]),
      [
        ['ann', 2],
        ['bob', 2],
      ],
    );
    assert.equal(day.series.length, 24);
    assert.deepEqual(day.series[18], { startMs: NOW - 6 * H, steps: 4, cachedSteps: 2 });
    assert.deepEqual(day.series[23], { startMs: NOW - H, steps: 5, cachedSteps: 3 });

    const week = await h.stats({ window: '7d', groupBy: 'platform', now: NOW });
    assert.equal(week.totals?.builds, 5);
    assert.equal(week.series.length, 7);
    assert.deepEqual(
      week.series.map((b) => b.steps),
      [0, 0, 0, 0, 1, 0, 9],
    );
    assert.deepEqual(
      week.groups.map((g) => [g.key, g.totals?.builds]),
      [
        ['linux/amd64', 4],
        ['linux/arm64', 1],
      ],
    );
    // Scoped to one project.
    const api = await h.stats({ window: '7d', groupBy: 'project', project: 'api', now: NOW });
    assert.deepEqual([api.totals?.builds, api.totals?.steps, api.groups.length], [1, 1, 1]);
    const none = await h.stats({ window: '7d', groupBy: 'project', project: 'nobody', now: NOW });
    assert.deepEqual([none.totals?.builds, none.totals?.hitRatio, none.busters.length], [0, 0, 0]);
    await h.close();
  });

  test('busters: top steps by cost of misses, cause counts and suggestions', async () => {
    const h = await openHistory(':memory:');
    const files = stepCause('changed_files', 'src/a.js changed');
    const arg = (name: string) => stepCause('build_arg', `${name} changed`, { name });
    // web: the ARG sits right above its only user (nothing to move); api: RUN make sits between
    // ARG COMMIT and the step that uses it.
    const web = {
      dockerfileDigest: 'sha256:web',
      dockerfile: 'FROM node\nCOPY . .\nRUN npm ci\nARG VERSION\nRUN echo $VERSION\n',
    };
    const api = {
      project: 'api',
      dockerfileDigest: 'sha256:api',
      dockerfile:
        'FROM python\nARG COMMIT\nCOPY . /app\nRUN pip install -r requirements.txt\nRUN make\nRUN echo $COMMIT > /v\n',
    };
    for (let i = 0; i < 3; i++)
      await record(h, { ...web, startedMs: NOW - H - i }, [
        step('[1/4] FROM node', true, 0),
        step('[2/4] COPY . .', false, 100, { cause: files }),
        step('[3/4] RUN npm ci', false, 20_000, {
          cause: i === 0 ? stepCause('first_build', 'first') : files,
        }),
        step('[4/4] RUN echo $VERSION', false, 10, { cause: arg('VERSION') }),
      ]);
    await record(h, { ...api, startedMs: NOW - H }, [
      step('[1/3] COPY . /app', false, 50, { cause: files }),
      step('[2/3] RUN pip install -r requirements.txt', false, 5000, { cause: files }),
      step('[3/3] RUN make', false, 7000, { cause: arg('COMMIT') }),
    ]);
    await record(h, { ...api, startedMs: NOW - H }, [step('[3/3] RUN make', false, 1000, { cause: files })]);
    await record(h, { ...api, startedMs: NOW - H }, [
      step('[3/3] RUN make', false, 1000, { cause: arg('COMMIT') }),
    ]);

    const { busters } = await h.stats({ window: '24h', groupBy: 'project', now: NOW });
    assert.deepEqual(
      busters.map((b) => [b.project, b.step, b.misses, b.costMs]),
      [
        ['web', 'RUN npm ci', 3, 60_000],
        ['api', 'RUN make', 3, 9000],
        ['api', 'RUN pip install -r requirements.txt', 1, 5000],
        ['web', 'COPY . .', 3, 300],
        ['api', 'COPY . /app', 1, 50],
        ['web', 'RUN echo $VERSION', 3, 30],
      ],
    );
    assert.deepEqual(busters[0]?.causes, [
      { kind: 'changed_files', count: 2 },
      { kind: 'first_build', count: 1 },
    ]);
    // The Dockerfile advisor's finding about each step (advice.ts): its rule id, fix and message.
    const npm =
      'copy package.json, package-lock.json first (`COPY package.json package-lock.json ./`), install, then copy the rest';
    const pip = 'copy requirements.txt first (`COPY requirements.txt /app/`), install, then copy the rest';
    assert.deepEqual(
      busters.map((b) => [b.step, b.rule, b.suggestion]),
      [
        // The install after a whole-context copy, and the copy itself (the finding's instruction).
        ['RUN npm ci', 'copy-before-install', npm],
        // Build-arg changes caused most of its misses, and ARG COMMIT sits above steps that don't use it.
        ['RUN make', 'arg-placement', 'move `ARG COMMIT` down to just above line 6'],
        // Also below ARG COMMIT, but its misses came from changed files: the copy is what to fix.
        ['RUN pip install -r requirements.txt', 'copy-before-install', pip],
        ['COPY . .', 'copy-before-install', npm],
        ['COPY . /app', 'copy-before-install', pip],
        // ARG VERSION is already right above the step that uses it: no rule applies.
        ['RUN echo $VERSION', '', ''],
      ],
    );
    assert.match(busters[0]?.finding ?? '', /^`COPY \. \.` copies the whole context before `RUN npm ci`/);
    assert.equal(busters[5]?.finding, '');
    await h.close();
  });

  test('a build is compared with the last one of the same Dockerfile path and target', async () => {
    const h = await openHistory(':memory:');
    await record(h, { buildId: 'a1', startedMs: NOW - 3 * H }, [step('[1/1] RUN a', false, 10)]);
    await record(h, { buildId: 'b1', startedMs: NOW - 2 * H, dockerfilePath: 'b.Dockerfile' }, []);
    await record(h, { buildId: 'a-app', startedMs: NOW - H, target: 'app' }, []);
    assert.equal((await h.previousBuild('web', 'linux/amd64', 'Dockerfile', ''))?.buildId, 'a1');
    assert.equal((await h.previousBuild('web', 'linux/amd64', 'b.Dockerfile', ''))?.buildId, 'b1');
    assert.equal((await h.previousBuild('web', 'linux/amd64', 'Dockerfile', 'app'))?.buildId, 'a-app');
    assert.equal(await h.previousBuild('web', 'linux/amd64', 'b.Dockerfile', 'app'), undefined);
    await h.close();
  });

  test('busters are root causes charged with the rebuilds of the steps they invalidated', async () => {
    const h = await openHistory(':memory:');
    const files = stepCause('changed_files', 'src/a.js changed under COPY src/ .', { paths: ['src/a.js'] });
    const follows = (root: string) => ({
      ...files,
      text: `follows from COPY src/ .: ${files.text}`,
      rootVertex: root,
    });
    // COPY src/ . missed 4 times, each time invalidating the 3 steps after it; RUN apt-get missed
    // twice for a build arg, costlier than the copy alone but far less than the copy's rebuilds.
    for (let i = 0; i < 4; i++) {
      const copy = `sha256:copy-${i}`;
      await record(h, { startedMs: NOW - H - i }, [
        step('[1/5] FROM busybox', true, 0),
        step('[2/5] COPY src/ .', false, 200, { digest: copy, cause: files }),
        step('[3/5] RUN npm ci', false, 5000, { cause: follows(copy), cascade: true }),
        step('[4/5] RUN npm run build', false, 3000, { cause: follows(copy), cascade: true }),
        step('[5/5] RUN npm test', false, 1000, { cause: follows(copy), cascade: true }),
      ]);
    }
    for (let i = 0; i < 2; i++)
      await record(h, { startedMs: NOW - H - 10 - i }, [
        step('[1/2] RUN apt-get install -y git', false, 6000, {
          cause: stepCause('build_arg', 'V changed', { name: 'V' }),
        }),
      ]);
    const s = await h.stats({ window: '24h', groupBy: 'project', now: NOW });
    assert.deepEqual(
      s.busters.map((b) => [b.step, b.misses, b.costMs, b.cascadedMisses, b.cascadeCostMs, b.invalidated]),
      [
        ['COPY src/ .', 4, 800, 12, 4 * 9000, ['RUN npm ci', 'RUN npm run build', 'RUN npm test']],
        ['RUN apt-get install -y git', 2, 12_000, 0, 0, []],
      ],
      'the RUNs that only followed the copy are no busters of their own',
    );
    assert.deepEqual(s.busters[0]?.causes, [{ kind: 'changed_files', count: 4 }]);
    // The cascaded misses are still misses in the counts.
    assert.deepEqual([s.totals?.steps, s.totals?.cachedSteps], [22, 4]);
    assert.deepEqual(s, await h.statsFromRaw({ window: '24h', groupBy: 'project', now: NOW }));
    await h.close();
  });

  test('a cascade is charged to the root its cause names by vertex, else by text, else to none', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'depot-history-')), 'history.db');
    const h = await openHistory(file);
    const arg = stepCause('build_arg', 'V changed', { name: 'V' });
    const files = stepCause('changed_files', 'a changed');
    await record(h, { startedMs: NOW - H }, [
      step('[1/5] RUN apt-get install -y git', false, 100, { digest: 'apt', cause: arg }),
      step('[2/5] COPY . .', false, 10, { digest: 'copy', cause: files }),
      // Named by vertex: the apt-get step, whatever the text says.
      step('[3/5] RUN a', false, 1000, {
        cause: { ...arg, text: 'follows from COPY . .: V changed', rootVertex: 'apt' },
        cascade: true,
      }),
      // Named by text only.
      step('[4/5] RUN b', false, 2000, {
        cause: { ...arg, text: 'follows from RUN apt-get install -y git: V changed' },
        cascade: true,
      }),
      // Named by neither, with two roots before it: not guessed.
      step('[5/5] RUN c', false, 4000, { cause: { ...arg, text: 'after an earlier step' }, cascade: true }),
    ]);
    const db = new Database(file, { readonly: true });
    assert.deepEqual(db.prepare('SELECT idx, root_idx FROM steps ORDER BY idx').all(), [
      { idx: 0, root_idx: 0 },
      { idx: 1, root_idx: 1 },
      { idx: 2, root_idx: 0 },
      { idx: 3, root_idx: 0 },
      { idx: 4, root_idx: null },
    ]);
    db.close();
    const s = await h.stats({ window: '24h', groupBy: 'project', now: NOW });
    assert.deepEqual(
      s.busters.map((b) => [b.step, b.costMs, b.cascadedMisses, b.cascadeCostMs]),
      [
        ['RUN apt-get install -y git', 100, 2, 3000],
        ['COPY . .', 10, 0, 0],
      ],
    );
    await h.close();
  });

  test('the migration that keeps roots back-fills them from the stored causes, and the roll-ups with them', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'depot-history-')), 'history.db');
    // Version 6 keeps the roots: the schema as it was at version 5, then the builds it back-fills.
    const before = 5;
    const db = new Database(file);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL, applied_ms INTEGER NOT NULL)');
    for (let v = 0; v < before; v++) {
      await MIGRATIONS[v]!(db);
      db.prepare('INSERT INTO schema_version VALUES (?, 0)').run(v + 1);
    }
    db.prepare(
      `INSERT INTO builds (id, started_ms, finished_ms, project, user, platform, result, steps, build_id,
        snapshot_id, dockerfile_digest, build_args, base_images) VALUES (?, ?, ?, 'web', 'ann', 'linux/amd64',
        'ok', 4, ?, 's', 'd', '{}', '{}')`,
    ).run(1, NOW - H, NOW - H + 10, 'old');
    const ins = db.prepare(
      `INSERT INTO steps (build, idx, started_ms, project, digest, name, instr, cached, duration_ms, bytes,
        saved_ms, cause_kind, cause, cascade) VALUES (1, ?, ?, 'web', ?, ?, ?, 0, ?, 0, 0, 'changed_files', ?, ?)`,
    );
    const text = (t: string, rootVertex?: string) =>
      JSON.stringify({ kind: 'changed_files', text: t, rootVertex });
    ins.run(0, NOW - H, 'sha256:c', '[1/4] COPY . .', 'COPY . .', 100, text('a changed'), 0);
    ins.run(
      1,
      NOW - H,
      'sha256:i',
      '[2/4] RUN npm ci',
      'RUN npm ci',
      5000,
      text('follows from COPY . .: a', 'sha256:c'),
      1,
    );
    ins.run(2, NOW - H, 'sha256:b', '[3/4] RUN make', 'RUN make', 3000, text('follows from COPY . .: a'), 1);
    // Recorded before causes named their root: the build's only earlier root.
    ins.run(3, NOW - H, 'sha256:t', '[4/4] RUN test', 'RUN test', 700, text('after COPY . .: a'), 1);
    // The roll-ups as the earlier schema wrote them: the copy's own miss only.
    db.exec(`
      INSERT INTO build_hours SELECT d, a, CASE a WHEN 1 THEN '' ELSE 'web' END, ${Math.floor((NOW - H) / H)},
        CASE d WHEN 'project' THEN 'web' WHEN 'user' THEN 'ann' ELSE 'linux/amd64' END, 1, 0, 4, 0, 0, 10, 0, 0
        FROM (SELECT 'project' AS d UNION SELECT 'user' UNION SELECT 'platform'), (SELECT 0 AS a UNION SELECT 1);
      INSERT INTO miss_hours VALUES (${Math.floor((NOW - H) / H)}, 'web', 'COPY . .', 'changed_files', 1, 100);
      INSERT INTO miss_days VALUES (${Math.floor((NOW - H) / (24 * H))}, 'web', 'COPY . .', 'changed_files', 1, 100);
    `);
    db.close();

    const h = await openHistory(file);
    assert.equal(await h.schemaVersion(), MIGRATIONS.length);
    const check = new Database(file, { readonly: true });
    assert.deepEqual(check.prepare('SELECT root_idx FROM steps ORDER BY idx').pluck().all(), [0, 0, 0, 0]);
    check.close();
    for (const window of ['24h', '7d'] as const) {
      const q = { window, groupBy: 'project' as const, now: NOW };
      const s = await h.stats(q);
      assert.deepEqual(
        s.busters.map((b) => [b.step, b.misses, b.costMs, b.cascadedMisses, b.cascadeCostMs, b.invalidated]),
        [['COPY . .', 1, 100, 3, 8700, ['RUN npm ci', 'RUN make', 'RUN test']]],
      );
      assert.deepEqual(s, await h.statsFromRaw(q));
    }
    await h.close();
  });

  test('migration 2 keeps older builds, which then match no Dockerfile path, and marks old cascades', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'depot-history-')), 'history.db');
    const db = new Database(file);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL, applied_ms INTEGER NOT NULL)');
    MIGRATIONS[0]!(db);
    db.prepare('INSERT INTO schema_version VALUES (1, 0)').run();
    db.prepare(
      `INSERT INTO builds (id, started_ms, finished_ms, project, user, platform, result, steps, build_id,
        snapshot_id, dockerfile_digest, build_args, base_images) VALUES (1, ?, ?, 'web', 'ann', 'linux/amd64',
        'ok', 2, 'old', 's', 'd', '{}', '{}')`,
    ).run(NOW - H, NOW - H + 10);
    const ins = db.prepare(
      `INSERT INTO steps (build, idx, started_ms, project, digest, name, instr, cached, duration_ms, bytes,
        saved_ms, cause_kind, cause) VALUES (1, ?, ?, 'web', ?, ?, ?, 0, 10, 0, 0, 'changed_files', ?)`,
    );
    ins.run(0, NOW - H, 'sha256:c', '[1/2] COPY . .', 'COPY . .', JSON.stringify({ text: 'a changed' }));
    ins.run(
      1,
      NOW - H,
      'sha256:r',
      '[2/2] RUN x',
      'RUN x',
      JSON.stringify({ text: 'after COPY . .: a changed' }),
    );
    db.close();
    const h = await openHistory(file);
    assert.equal(await h.schemaVersion(), MIGRATIONS.length);
    assert.equal(await h.previousBuild('web', 'linux/amd64', 'Dockerfile', ''), undefined);
    assert.deepEqual(
      (await h.stats({ window: '24h', groupBy: 'project', now: NOW })).busters.map((b) => b.step),
      ['COPY . .'],
    );
    await h.close();
  });

  test('busters: at most ten, and no suggestion without a rule', async () => {
    const h = await openHistory(':memory:');
    await record(
      h,
      {},
      Array.from({ length: 12 }, (_, i) => step(`[${i + 1}/12] RUN step${i}`, false, 100 * (i + 1))),
    );
    const { busters } = await h.stats({ window: '24h', groupBy: 'project', now: NOW });
    assert.equal(busters.length, 10);
    assert.equal(busters[0]?.step, 'RUN step11');
    assert.deepEqual(busters[0]?.causes, [{ kind: 'unknown', count: 1 }]);
    assert.ok(busters.every((b) => b.suggestion === '' && b.rule === '' && b.finding === ''));
    await h.close();
  });

  test("busters: a rule of the advisor's beyond the copy and ARG ones gives its fix and rule id", async () => {
    const h = await openHistory(':memory:');
    // apt-get install without its update; the base image without a tag (its FROM step missed for
    // a new base image). Built for target `app`: the findings of that build's stages.
    const dockerfile =
      'FROM debian AS app\nRUN apt-get install -y curl\nFROM app AS test\nRUN apt-get install -y jq\n';
    await record(h, { dockerfileDigest: 'sha256:apt', dockerfile, target: 'app' }, [
      step('[app 1/2] FROM docker.io/library/debian', false, 300, {
        cause: stepCause('base_image', 'debian changed'),
      }),
      step('[app 2/2] RUN apt-get install -y curl', false, 4000, {
        cause: stepCause('changed_files', 'x'),
      }),
    ]);
    const { busters } = await h.stats({ window: '24h', groupBy: 'project', now: NOW });
    assert.deepEqual(
      busters.map((b) => [b.step, b.rule]),
      [
        ['RUN apt-get install -y curl', 'apt-get-update'],
        ['FROM docker.io/library/debian', 'unpinned-base-image'],
      ],
    );
    assert.match(
      busters[0]?.suggestion ?? '',
      /^update in the same RUN: `RUN apt-get update && apt-get install/,
    );
    assert.match(busters[0]?.finding ?? '', /apt-get install runs without apt-get update/);
    assert.match(busters[1]?.suggestion ?? '', /^pin a version: `FROM debian:<version>`/);
    await h.close();
  });

  test('prune drops builds past the age limit and beyond the count limit, with their steps', async () => {
    const h = await openHistory(':memory:', { maxAgeDays: 2, maxBuilds: 3 });
    for (let i = 0; i < 6; i++)
      await record(h, { startedMs: NOW - (5 - i) * 12 * H, dockerfileDigest: `sha256:df${i}` }, [
        step('[1/1] RUN x', false, 10),
      ]);
    // Ages 60, 48, 36, 24, 12, 0 h: the first is too old, then only the newest 3 stay.
    assert.equal(await h.prune(NOW), 3);
    const week = await h.stats({ window: '7d', groupBy: 'project', now: NOW });
    assert.equal(week.totals?.builds, 3);
    assert.equal(week.totals?.steps, 3);
    assert.equal(await h.prune(NOW), 0);
    assert.equal(await h.prune(NOW + 48 * H + 1), 3);
    assert.equal(await h.previousBuild('web', 'linux/amd64', 'Dockerfile', ''), undefined);
    await h.close();
  });
});

describe('interrupted builds and build-arg values', () => {
  test('builds left running by a dead builder process are failed at start; a live one keeps its own', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'depot-hist-')), 'history.db');
    const h = await openHistory(file);
    const dead = await h.recordBuildStart(start({ buildId: 'dead' }));
    await h.recordBuildStart(start({ buildId: 'live' }));
    const raw = new Database(file);
    // A pid above the kernel's maximum: a process that cannot be alive.
    raw.prepare('UPDATE builds SET owner_pid = 4194305 WHERE id = ?').run(dead.id);
    raw.close();
    assert.equal(await h.failAbandoned(NOW), 1);
    assert.equal(await h.errorOf('dead'), 'builder stopped');
    assert.equal(await h.errorOf('live'), undefined);
    const check = new Database(file, { readonly: true });
    const rows = check.prepare('SELECT build_id, result FROM builds ORDER BY id').all();
    check.close();
    assert.deepEqual(rows, [
      { build_id: 'dead', result: 'failed' },
      { build_id: 'live', result: 'running' },
    ]);
    assert.equal(await h.failAbandoned(NOW), 0);
    await h.close();
  });

  test('build-arg values are stored as fingerprints unless plain is asked for', async () => {
    const hashed = await openHistory(':memory:');
    await record(hashed, { buildArgs: { TOKEN: 'hunter2' } }, []);
    const prev = await hashed.previousBuild('web', 'linux/amd64', 'Dockerfile', '');
    assert.equal(prev?.buildArgsHashed, true);
    assert.match(prev?.buildArgs.TOKEN ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(prev).includes('hunter2'));
    const plain = await openHistory(':memory:', { buildArgs: 'plain' });
    await record(plain, { buildArgs: { TOKEN: 'hunter2' } }, []);
    const p = await plain.previousBuild('web', 'linux/amd64', 'Dockerfile', '');
    assert.deepEqual([p?.buildArgs, p?.buildArgsHashed], [{ TOKEN: 'hunter2' }, false]);
  });
});

describe('recorded builds and their traces', () => {
  /** A build of `project` with a trace of one vertex and a result, recorded through the recorder's parts. */
  async function traced(
    h: History,
    buildId: string,
    over: Partial<BuildStart> = {},
    result: 'ok' | 'failed' = 'ok',
  ) {
    const b = start({ buildId, ...over });
    const { id } = await h.recordBuildStart(b);
    const t = createTraceRecorder({ maxBytes: h.traceMaxBytes });
    t.add(
      {
        vertex: {
          digest: 'sha256:v',
          name: '[1/1] RUN make',
          inputs: [],
          cached: false,
          startedMs: 1,
          completedMs: 2,
          error: '',
        },
      },
      b.startedMs + 1,
    );
    t.add({ result: { ok: result === 'ok', error: result === 'ok' ? '' : 'exit code 2' } }, b.startedMs + 2);
    const trace = await t.seal();
    return h.recordBuildFinish({
      id,
      finishedMs: b.startedMs + 10,
      result,
      steps: [step('[1/1] RUN make', false, 1)],
      ...(result === 'ok' ? {} : { error: `exit code 2\n${'x'.repeat(5000)}` }),
      ...(trace ? { trace } : {}),
    });
  }

  const ids = (r: { builds: { summary: { buildId: string } }[] }) => r.builds.map((b) => b.summary.buildId);

  test("listBuilds: the project's builds newest first, filtered, limited, with their trace facts", async () => {
    const h = await openHistory(':memory:', { builder: 'bld-1' });
    await traced(h, 'aaaa-1', { startedMs: NOW - 3 * H });
    await traced(h, 'bbbb-2', { startedMs: NOW - 2 * H, platform: 'linux/arm64', target: 'app' }, 'failed');
    await traced(h, 'cccc-3', { startedMs: NOW - H });
    await traced(h, 'other-1', { startedMs: NOW, project: 'api' });
    const running = await h.recordBuildStart(start({ buildId: 'dddd-4', startedMs: NOW - 30_000 }));
    assert.ok(running.id);
    const all = await h.listBuilds({ project: 'web', limit: 20 });
    assert.deepEqual(ids(all), ['dddd-4', 'cccc-3', 'bbbb-2', 'aaaa-1']);
    assert.equal(all.more, false);
    const failed = all.builds[2]!;
    assert.equal(failed.target, 'app');
    assert.equal(failed.dockerfilePath, 'Dockerfile');
    assert.equal(failed.summary.builder, 'bld-1');
    assert.equal(failed.summary.platform, 'linux/arm64');
    assert.equal(failed.error.length, 1024, 'the error is kept cut');
    assert.ok(failed.error.startsWith('exit code 2\n'));
    assert.equal(failed.hasTrace, true);
    assert.ok(failed.traceBytes > 0);
    assert.equal(failed.traceCut, false);
    assert.equal(all.builds[0]!.hasTrace, false, 'a running build has no trace yet');
    const two = await h.listBuilds({ project: 'web', limit: 2 });
    assert.deepEqual([ids(two), two.more], [['dddd-4', 'cccc-3'], true]);
    assert.deepEqual(ids(await h.listBuilds({ project: 'web', limit: 20, result: 'failed' })), ['bbbb-2']);
    assert.deepEqual(ids(await h.listBuilds({ project: 'web', limit: 20, platform: 'linux/arm64' })), [
      'bbbb-2',
    ]);
    assert.deepEqual(ids(await h.listBuilds({ project: 'api', limit: 20 })), ['other-1']);
    assert.deepEqual(ids(await h.listBuilds({ project: 'nobody', limit: 20 })), []);
    await h.close();
  });

  test('listBuilds with missedStep: the builds where that instruction missed as a root cause, not after another miss', async () => {
    const h = await openHistory(':memory:', { builder: 'bld-1' });
    const files = stepCause('changed_files', 'src/a.txt changed', { paths: ['src/a.txt'] });
    const copy = (digest: string) => ({ digest, cause: files });
    const follows = (root: string) => ({
      cascade: true,
      cause: { ...files, text: `follows from COPY src/ .: ${files.text}`, rootVertex: root },
    });
    // edit-1: the COPY missed (a root), the RUN after it only followed.
    await record(h, { buildId: 'edit-1', startedMs: NOW - 3 * H }, [
      step('[1/3] FROM busybox', true, 0),
      step('[2/3] COPY src/ .', false, 200, copy('sha256:c1')),
      step('[3/3] RUN make', false, 900, follows('sha256:c1')),
    ]);
    // arg-2: the COPY hit; the RUN missed on its own.
    await record(h, { buildId: 'arg-2', startedMs: NOW - 2 * H }, [
      step('[1/3] FROM busybox', true, 0),
      step('[2/3] COPY src/ .', true, 0),
      step('[3/3] RUN make', false, 900, {
        cause: stepCause('build_arg', 'build arg V changed', { name: 'V' }),
      }),
    ]);
    // same-3: all cached.
    await record(h, { buildId: 'same-3', startedMs: NOW - H }, [
      step('[1/3] FROM busybox', true, 0),
      step('[2/3] COPY src/ .', true, 0),
      step('[3/3] RUN make', true, 0),
    ]);
    // Another project's root miss of the same instruction is not listed.
    await record(h, { buildId: 'other-4', project: 'api', startedMs: NOW }, [
      step('[1/1] COPY src/ .', false, 200, copy('sha256:c4')),
    ]);
    const missed = (missedStep: string, project = 'web') => h.listBuilds({ project, limit: 20, missedStep });
    assert.deepEqual(ids(await missed('COPY src/ .')), ['edit-1']);
    assert.deepEqual(ids(await missed('RUN make')), ['arg-2'], 'the cascaded RUN of edit-1 is no root miss');
    assert.deepEqual(ids(await missed('RUN nothing')), []);
    assert.deepEqual(ids(await missed('COPY src/ .', 'api')), ['other-4']);
    assert.deepEqual(ids(await h.listBuilds({ project: 'web', limit: 20 })), ['same-3', 'arg-2', 'edit-1']);
    await h.close();
  });

  test("findBuild: by id or a prefix naming one of the project's ids; another project's build is not found", async () => {
    const h = await openHistory(':memory:');
    await traced(h, 'abcd-1111');
    await traced(h, 'abcd-2222');
    await traced(h, 'abce-3333');
    await traced(h, 'zzzz-9999', {
      project: 'api',
      dockerfile: 'FROM api\n',
      dockerfileDigest: 'sha256:api',
    });
    const found = await h.findBuild('web', 'abcd-2222');
    assert.equal(found.kind, 'found');
    if (found.kind !== 'found') return;
    assert.equal(found.record.summary.buildId, 'abcd-2222');
    assert.equal(found.dockerfile, 'FROM busybox\n');
    assert.ok(found.trace);
    assert.equal(found.trace.events, 2);
    assert.equal(found.trace.maxBytes, h.traceMaxBytes);
    const events = [];
    for await (const e of readTrace(found.trace.data, found.trace.codec)) events.push(e);
    assert.equal(events[0]!.event.vertex?.name, '[1/1] RUN make');
    assert.equal(events[1]!.event.result?.ok, true);
    const prefix = await h.findBuild('web', 'abce');
    assert.equal(prefix.kind === 'found' && prefix.record.summary.buildId, 'abce-3333');
    assert.deepEqual(await h.findBuild('web', 'abcd'), {
      kind: 'ambiguous',
      ids: ['abcd-2222', 'abcd-1111'],
    });
    assert.deepEqual(await h.findBuild('web', 'abce', false), { kind: 'none' }, 'exact only');
    // Case counts (SQLite's LIKE would not), and the other project's builds are never found.
    assert.deepEqual(await h.findBuild('web', 'ABCE'), { kind: 'none' });
    assert.deepEqual(await h.findBuild('web', 'zzzz-9999'), { kind: 'none' });
    assert.deepEqual(await h.findBuild('web', 'zzzz'), { kind: 'none' });
    assert.equal((await h.findBuild('api', 'zzzz')).kind, 'found');
    await h.close();
  });

  test('a build recorded twice under one id: the newest is the one found; traces go with pruned builds', async () => {
    const h = await openHistory(':memory:', { maxBuilds: 2 });
    await traced(h, 'same-id', { startedMs: NOW - 2 * H });
    await traced(h, 'same-id', { startedMs: NOW - H }, 'failed');
    const found = await h.findBuild('web', 'same-id');
    assert.equal(found.kind === 'found' && found.record.summary.result, 'failed');
    await traced(h, 'third', { startedMs: NOW });
    assert.equal(await h.prune(NOW), 1);
    assert.deepEqual(ids(await h.listBuilds({ project: 'web', limit: 20 })), ['third', 'same-id']);
    await h.close();
    const file = join(mkdtempSync(join(tmpdir(), 'depot-history-')), 'history.db');
    const f = await openHistory(file, { maxBuilds: 1 });
    await traced(f, 'one', { startedMs: NOW - H });
    await traced(f, 'two', { startedMs: NOW });
    await f.prune(NOW);
    await f.close();
    const db = new Database(file, { readonly: true });
    assert.equal(db.prepare('SELECT count(*) FROM build_traces').pluck().get(), 1);
    assert.equal(
      db.prepare('SELECT count(*) FROM build_traces t JOIN builds b ON b.id = t.build').pluck().get(),
      1,
    );
    db.close();
  });

  test('traceMaxBytes 0: builds are recorded without traces', async () => {
    const h = await openHistory(':memory:', { traceMaxBytes: 0 });
    await traced(h, 'untraced');
    const [b] = (await h.listBuilds({ project: 'web', limit: 1 })).builds;
    assert.equal(b?.hasTrace, false);
    const found = await h.findBuild('web', 'untraced');
    assert.equal(found.kind === 'found' && found.trace, undefined);
    await h.close();
  });

  test('the traces migration (7) keeps the builds recorded before it: listed, found, without a trace', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'depot-history-')), 'history.db');
    const db = new Database(file);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL, applied_ms INTEGER NOT NULL)');
    for (let v = 0; v < 5; v++) {
      MIGRATIONS[v]!(db);
      db.prepare('INSERT INTO schema_version VALUES (?, 0)').run(v + 1);
    }
    db.prepare(
      `INSERT INTO builds (started_ms, finished_ms, project, user, platform, result, steps, build_id,
        snapshot_id, dockerfile_digest, build_args, base_images, dockerfile_path, target, builder)
        VALUES (?, ?, 'web', 'ann', 'linux/amd64', 'ok', 2, 'before-traces', 's', 'd', '{}', '{}', 'Dockerfile', '', 'b1')`,
    ).run(NOW - H, NOW - H + 10);
    db.close();
    const h = await openHistory(file);
    assert.equal(await h.schemaVersion(), MIGRATIONS.length);
    const [b] = (await h.listBuilds({ project: 'web', limit: 5 })).builds;
    assert.deepEqual([b?.summary.buildId, b?.hasTrace, b?.summary.builder], ['before-traces', false, 'b1']);
    assert.equal((await h.findBuild('web', 'befo')).kind, 'found');
    await h.close();
  });
});
