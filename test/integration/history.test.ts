import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { parseEventLines } from '../../src/progress/json.js';
import type { BuildSummary__Output } from '../../src/protocol/generated/depot/builder/v1/BuildSummary.js';
import type { StatsResponse__Output } from '../../src/protocol/generated/depot/builder/v1/StatsResponse.js';
import { AUTH_METADATA_KEY, loadBuilderProto, PROJECT_METADATA_KEY } from '../../src/protocol/index.js';
import {
  BUILDER_BIN,
  type BuilderProcess,
  buildOn,
  depot,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';

const skip = skipReason();

type Client = InstanceType<ReturnType<typeof loadBuilderProto>['depot']['builder']['v1']['Builder']>;

function metadata(token: string, project?: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(AUTH_METADATA_KEY, `Bearer ${token}`);
  if (project) md.set(PROJECT_METADATA_KEY, project);
  return md;
}

function stats(
  client: Client,
  md: grpc.Metadata,
  window: string,
  groupBy: string,
): Promise<StatsResponse__Output> {
  return new Promise((resolve, reject) =>
    client.Stats({ window, groupBy }, md, { deadline: Date.now() + 10_000 }, (err, res) =>
      err ? reject(err) : resolve(res!),
    ),
  );
}

/** The Dockerfile steps ("[n/m] …" vertices) of a `--progress json` run and which were cached. */
function stepsOf(json: string): { steps: number; cached: number; causes: Map<string, string> } {
  const last = new Map<string, { name: string; cached: boolean; completed: boolean }>();
  const causes = new Map<string, string>();
  for (const ev of parseEventLines(json)) {
    if (ev.type === 'vertex/updated')
      last.set(ev.vertex.digest, {
        name: ev.vertex.name,
        cached: ev.vertex.cached,
        completed: ev.vertex.completedMs > 0,
      });
    if (ev.type === 'step/explained') causes.set(ev.vertex, ev.cause.kind);
  }
  const steps = [...last.values()].filter(
    (v) => /^\[[^\]]*\d+\/\d+\]/.test(v.name) && (v.cached || v.completed),
  );
  return { steps: steps.length, cached: steps.filter((s) => s.cached).length, causes };
}

describe('build history: Stats and WatchBuilds on a real builder', { skip }, () => {
  let builder: BuilderProcess;
  let client: Client;
  const project = `hist-${process.pid}`;
  const ctx = tempDir('hist-ctx');
  const tokens: Record<string, string> = {};
  let admin = '';
  const watched: BuildSummary__Output[] = [];
  let watch: grpc.ClientReadableStream<BuildSummary__Output> | undefined;

  before(async () => {
    mkdirSync(join(ctx, 'src'));
    writeFileSync(join(ctx, 'src', 'app.txt'), `app v1 ${process.pid} ${Date.now()}\n`);
    writeFileSync(
      join(ctx, 'Dockerfile'),
      'FROM busybox:latest\nCOPY src/app.txt /app.txt\nRUN cat /app.txt > /out.txt\n',
    );
    builder = await startBuilder();
    tokens.ann = builder.token(project, 'ann');
    tokens.bob = builder.token(project, 'bob');
    const r = spawnSync(
      process.execPath,
      [BUILDER_BIN, 'token', 'create', '--admin', '--user', 'root', '--data', builder.dataDir],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    admin = r.stdout.trim();
    const proto = loadBuilderProto();
    client = new proto.depot.builder.v1.Builder(
      builder.url.replace(/^tcp:\/\//, ''),
      grpc.credentials.createInsecure(),
    );
    watch = client.WatchBuilds({}, metadata(tokens.ann!));
    watch.on('data', (s: BuildSummary__Output) => watched.push(s));
    watch.on('error', () => {});
    // The watch is live once the server answered its metadata.
    await new Promise<void>((resolve) => watch!.once('metadata', () => resolve()));
  });
  after(async () => {
    watch?.cancel();
    client?.close();
    await builder?.stop();
  });

  const build = async (user: string, extra: string[] = []) => {
    const r = await depot([...buildOn(builder.url, tokens[user]!, project, 'json'), ...extra, ctx]);
    assert.equal(r.code, 0, r.stderr);
    return stepsOf(r.stdout);
  };

  test('a scripted sequence by two users gives exact counts from Stats', async () => {
    const first = await build('ann');
    const again = await build('bob');
    writeFileSync(join(ctx, 'src', 'app.txt'), `app v2 ${process.pid} ${Date.now()}\n`);
    const changed = await build('ann');
    const noCache = await build('bob', ['--no-cache']);

    // What the builds themselves showed: FROM (cached: the engine has busybox), COPY, RUN.
    assert.deepEqual([first.steps, first.cached], [3, 1]);
    assert.deepEqual([again.steps, again.cached], [3, 3], 'the identical rebuild is fully cached');
    assert.equal(changed.steps, 3);
    assert.equal(changed.cached, 1, 'only FROM stays cached after a source change');
    // --no-cache re-runs COPY and RUN; BuildKit still reports the local base image as cached.
    assert.deepEqual([noCache.steps, noCache.cached], [3, 1]);
    assert.ok(
      [...first.causes.values()].every((k) => k === 'first_build'),
      JSON.stringify([...first.causes]),
    );
    assert.equal(first.causes.size, first.steps - first.cached);
    assert.deepEqual([...new Set(noCache.causes.values())], ['no_cache']);
    assert.equal(noCache.causes.size, 2);
    assert.equal(changed.causes.size, 2);

    const all = [first, again, changed, noCache];
    const steps = all.reduce((n, b) => n + b.steps, 0);
    const cached = all.reduce((n, b) => n + b.cached, 0);
    const s = await stats(client, metadata(tokens.ann!, project), '1h', 'user');
    assert.equal(s.window, '1h');
    assert.equal(s.totals?.builds, 4);
    assert.equal(s.totals?.failedBuilds, 0);
    assert.equal(s.totals?.steps, steps);
    assert.equal(s.totals?.cachedSteps, cached);
    assert.equal(s.totals?.hitRatio, cached / steps);
    assert.deepEqual(
      s.groups.map((g) => [g.key, g.totals?.builds, g.totals?.steps, g.totals?.cachedSteps]),
      [
        ['ann', 2, first.steps + changed.steps, first.cached + changed.cached],
        ['bob', 2, again.steps + noCache.steps, again.cached + noCache.cached],
      ],
    );
    assert.ok((s.totals?.savedMs ?? 0) > 0, 'the cached rebuild saved time');
    assert.ok((s.totals?.bytesUploaded ?? 0) > 0);
    assert.equal(
      s.series.reduce((n, b) => n + b.steps, 0),
      steps,
    );
    assert.deepEqual(s.running, []);
    assert.ok(s.busters.length > 0);
    assert.ok(s.busters.every((b) => b.project === project));

    // An admin token sees the same builds, grouped by project.
    const a = await stats(client, metadata(admin), '24h', 'project');
    assert.deepEqual(
      a.groups.map((g) => [g.key, g.totals?.builds]),
      [[project, 4]],
    );

    // WatchBuilds saw every build start and finish, in order, with the recorded counts.
    const ends = watched.filter((w) => w.result !== 'running');
    assert.equal(watched.filter((w) => w.result === 'running').length, 4);
    assert.deepEqual(
      ends.map((w) => [w.user, w.result, w.steps, w.cachedSteps]),
      all.map((b, i) => [i % 2 ? 'bob' : 'ann', 'ok', b.steps, b.cached]),
    );
    for (const e of ends) {
      const startedAt = watched.findIndex((w) => w.buildId === e.buildId && w.result === 'running');
      assert.ok(startedAt >= 0 && startedAt < watched.indexOf(e), `start of ${e.buildId} came first`);
    }
  });

  test("each miss's cause matches the scripted change", async () => {
    const proj = `why-${process.pid}`;
    const token = builder.token(proj, 'ann');
    const dir = tempDir('why');
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'app.txt'), `why v1 ${process.pid} ${Date.now()}\n`);
    const dockerfile = (run: string) =>
      `FROM busybox:latest\nARG FLAVOR=plain\nCOPY src/app.txt /app.txt\n${run}\n`;
    writeFileSync(join(dir, 'Dockerfile'), dockerfile('RUN echo "$FLAVOR" > /f && cat /app.txt > /out.txt'));
    /** Runs a build; returns step keyword → its cause. */
    const why = async (extra: string[] = []) => {
      const r = await depot([...buildOn(builder.url, token, proj, 'json'), ...extra, dir]);
      assert.equal(r.code, 0, r.stderr);
      const names = new Map<string, string>();
      const out = new Map<
        string,
        { kind: string; text: string; paths: string[]; name: string; line: number }
      >();
      const events = parseEventLines(r.stdout);
      for (const ev of events) if (ev.type === 'vertex/updated') names.set(ev.vertex.digest, ev.vertex.name);
      for (const ev of events)
        if (ev.type === 'step/explained')
          out.set((names.get(ev.vertex) ?? ev.vertex).replace(/^\[[^\]]*\] /, '').split(' ')[0]!, ev.cause);
      return out;
    };
    const first = await why();
    assert.equal(first.get('COPY')?.kind, 'first_build');
    assert.equal(first.get('RUN')?.kind, 'first_build');

    writeFileSync(join(dir, 'src', 'app.txt'), `why v2 ${Date.now()}\n`);
    const files = await why();
    assert.equal(files.get('COPY')?.kind, 'changed_files');
    assert.deepEqual(files.get('COPY')?.paths, ['src/app.txt']);
    // The RUN missed because the COPY before it did, and says so.
    assert.equal(files.get('RUN')?.kind, 'changed_files');
    assert.match(files.get('RUN')!.text, /^follows from COPY/);

    const arg = await why(['--build-arg', 'FLAVOR=spicy']);
    assert.equal(arg.has('COPY'), false, 'COPY stays cached');
    assert.equal(arg.get('RUN')?.kind, 'build_arg');
    assert.equal(arg.get('RUN')?.name, 'FLAVOR');

    writeFileSync(join(dir, 'Dockerfile'), dockerfile('RUN echo "$FLAVOR!" > /f && cat /app.txt > /out.txt'));
    const edit = await why(['--build-arg', 'FLAVOR=spicy']);
    assert.equal(edit.has('COPY'), false);
    assert.equal(edit.get('RUN')?.kind, 'dockerfile_changed');
    assert.equal(edit.get('RUN')?.line, 4);

    const nc = await why(['--build-arg', 'FLAVOR=spicy', '--no-cache']);
    assert.equal(nc.get('COPY')?.kind, 'no_cache');
    assert.equal(nc.get('RUN')?.kind, 'no_cache');
  });

  test("depot stats shows the Dockerfile advisor's fix and rule for a buster, in --json too", async () => {
    const proj = `advise-${process.pid}`;
    const token = builder.token(proj, 'ann');
    const dir = tempDir('advise');
    // ARG FLAVOR above a RUN that does not use it: a new value reruns that step (arg-placement).
    writeFileSync(
      join(dir, 'Dockerfile'),
      `FROM busybox:latest\nARG FLAVOR=plain\nRUN echo ${process.pid} > /base.txt\nRUN echo "$FLAVOR" > /f\n`,
    );
    for (const flavor of ['plain', 'spicy', 'sweet']) {
      const r = await depot([
        ...buildOn(builder.url, token, proj, 'quiet'),
        '--build-arg',
        `FLAVOR=${flavor}`,
        dir,
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    const remote = ['--builder', builder.url, '--token', token, '--project', proj];
    const json = await depot(['stats', '--json', ...remote]);
    assert.equal(json.code, 0, json.stderr);
    const busters = (JSON.parse(json.stdout) as StatsResponse__Output).busters;
    const base = busters.find((b) => b.step === `RUN echo ${process.pid} > /base.txt`);
    assert.deepEqual(
      [base?.rule, base?.suggestion],
      ['arg-placement', 'move `ARG FLAVOR` down to just above line 4'],
      JSON.stringify(busters),
    );
    assert.match(base?.finding ?? '', /^ARG FLAVOR is declared 1 RUN step before its first use \(line 4\)/);
    // The step that uses the ARG (BuildKit names it with the value) is where it belongs: no rule.
    const users = busters.filter((b) => b.step.startsWith('RUN echo "'));
    assert.ok(users.length > 0, JSON.stringify(busters));
    assert.ok(
      users.every((b) => b.rule === '' && b.suggestion === ''),
      JSON.stringify(busters),
    );

    const table = await depot(['stats', ...remote]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /→ fix \(arg-placement\): move `ARG FLAVOR` down to just above line 4/);
  });

  test('an edit to a copied file: the COPY is the top buster, charged with the RUNs it invalidated; an identical rebuild saves their recorded cold time', async () => {
    const proj = `roots-${process.pid}`;
    const token = builder.token(proj, 'ann');
    const dir = tempDir('roots');
    mkdirSync(join(dir, 'src'));
    const nonce = `${process.pid}-${Date.now()}`;
    writeFileSync(
      join(dir, 'Dockerfile'),
      'FROM busybox:latest\nCOPY src/ /src/\nRUN sleep 1 && cat /src/app.txt > /a.txt\nRUN sleep 1 && wc -c /a.txt > /b.txt\n',
    );
    const build = async (version: string, project = proj, as = token) => {
      writeFileSync(join(dir, 'src', 'app.txt'), `${version} ${nonce}\n`);
      const r = await depot([...buildOn(builder.url, as, project, 'quiet'), dir]);
      assert.equal(r.code, 0, r.stderr);
    };
    // Another project's build warms the engine's cache, so this project's first build is answered
    // by it: no step of this project misses for a first build (each such miss is a root of its own).
    await build('v1', `roots-warm-${process.pid}`, builder.token(`roots-warm-${process.pid}`, 'bob'));
    await build('v1');
    await build('v2'); // the COPY misses for src/app.txt; both RUNs only follow it
    await build('v3');
    await build('v3'); // identical: every step a cache hit

    const remote = ['--builder', builder.url, '--token', token, '--project', proj, '--window', '1h'];
    const json = await depot(['stats', '--json', ...remote]);
    assert.equal(json.code, 0, json.stderr);
    const res = JSON.parse(json.stdout) as StatsResponse__Output;
    const copy = 'COPY src/ /src/';
    const runs = ['RUN sleep 1 && cat /src/app.txt > /a.txt', 'RUN sleep 1 && wc -c /a.txt > /b.txt'];
    assert.deepEqual(
      res.busters.map((b) => [b.step, b.misses, b.cascadedMisses, b.causes, b.invalidated]),
      [[copy, 2, 4, [{ kind: 'changed_files', count: 2 }], runs]],
      'the RUNs are no busters of their own',
    );

    // The numbers are the recorded ones: the COPY's own runs, and the RUNs' runs charged to it.
    const db = new Database(join(builder.dataDir, 'history.db'), { readonly: true });
    const rows = db
      .prepare(
        `SELECT s.build, s.instr, s.cached, s.duration_ms, s.saved_ms, s.cascade, r.instr AS root
         FROM steps s JOIN builds b ON b.id = s.build LEFT JOIN steps r ON r.build = s.build AND r.idx = s.root_idx
         WHERE b.project = ? ORDER BY s.build, s.idx`,
      )
      .all(proj) as {
      build: number;
      instr: string;
      cached: number;
      duration_ms: number;
      saved_ms: number;
      cascade: number;
      root: string | null;
    }[];
    db.close();
    const missed = rows.filter((r) => r.cached === 0);
    assert.deepEqual(
      missed.map((r) => [r.instr, r.cascade, r.root]),
      [
        [copy, 0, copy],
        [runs[0], 1, copy],
        [runs[1], 1, copy],
        [copy, 0, copy],
        [runs[0], 1, copy],
        [runs[1], 1, copy],
      ],
    );
    const sum = (xs: { duration_ms: number }[]) => xs.reduce((n, r) => n + r.duration_ms, 0);
    const top = res.busters[0]!;
    assert.equal(top.costMs, sum(missed.filter((r) => r.cascade === 0)));
    assert.equal(top.cascadeCostMs, sum(missed.filter((r) => r.cascade === 1)));
    assert.ok(top.cascadeCostMs >= 4000, `four RUNs of sleep 1: ${top.cascadeCostMs} ms`);

    // Time saved: the identical rebuild saves what its steps took when this project last built them
    // (the median uncached run of each instruction); the first build, answered by the other
    // project's cache, saves nothing (its run times are not this project's).
    const builds = [...new Set(rows.map((r) => r.build))];
    assert.equal(builds.length, 4);
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      const m = s.length >> 1;
      return s.length % 2 ? s[m]! : Math.round((s[m - 1]! + s[m]!) / 2);
    };
    const last = rows.filter((r) => r.build === builds[3]);
    assert.ok(last.every((r) => r.cached === 1));
    const cold = (instr: string) => median(missed.filter((r) => r.instr === instr).map((r) => r.duration_ms));
    assert.deepEqual(
      last.map((r) => r.saved_ms),
      last.map((r) => (r.instr.startsWith('FROM') ? 0 : cold(r.instr))),
    );
    const rebuild = res.recent[0]!;
    assert.deepEqual([rebuild.steps, rebuild.cachedSteps], [4, 4]);
    assert.equal(
      rebuild.savedMs,
      last.reduce((n, r) => n + r.saved_ms, 0),
    );
    assert.ok(rebuild.savedMs >= 2000, `two RUNs of sleep 1 saved: ${rebuild.savedMs} ms`);
    const first = res.recent.at(-1)!;
    assert.deepEqual([first.cachedSteps, first.savedMs], [4, 0]);
    assert.equal(res.totals?.savedMs, rebuild.savedMs);

    const table = await depot(['stats', ...remote]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout,
      /^ {2}COPY src\/ \/src\/ {2}\(roots-\d+\) {2}2 misses → 4 steps rebuilt, cost \d/m,
    );
    assert.match(
      table.stdout,
      /^ {4}invalidated: RUN sleep 1 && cat \/src\/app\.txt > \/a\.txt, RUN sleep 1/m,
    );
    assert.doesNotMatch(table.stdout, /^ {2}RUN sleep/m);
  });

  test("a project token cannot read another project's stats", async () => {
    await assert.rejects(stats(client, metadata(tokens.ann!, 'someone-else'), '24h', 'project'), {
      code: grpc.status.PERMISSION_DENIED,
    });
    const other = await new Promise<grpc.ServiceError>((resolve) => {
      const w = client.WatchBuilds({}, metadata(tokens.bob!, 'someone-else'));
      w.on('data', () => {});
      w.on('error', resolve);
    });
    assert.equal(other.code, grpc.status.PERMISSION_DENIED);
    await assert.rejects(stats(client, metadata(tokens.ann!), '2d', 'project'), {
      code: grpc.status.INVALID_ARGUMENT,
    });
  });
});
