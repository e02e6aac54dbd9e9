import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ContextEntry } from '../../../src/protocol/index.js';
import { createStepExplainer } from './explain.js';
import { createBuildFeed } from './feed.js';
import { type History, openHistory } from './history.js';
import { beginRecording, type RecordedVertex } from './recorder.js';
import { boundedLast, STEP_COSTS_MAX_INSTR } from './step-costs.js';
import type { StepExplainer } from './types.js';

const DF = 'FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\nRUN npm run build\n';

// The explainer as the builder wires it (host.ts).
const inner = createStepExplainer();
const explainer: StepExplainer = {
  explain: (i) =>
    inner.explain({
      ...i,
      step: { digest: i.step.digest, name: i.step.name, everCached: i.step.cachedBefore },
      earlierCause: i.earlierCause as Parameters<typeof inner.explain>[0]['earlierCause'],
    }),
};

const file = (path: string, content: string): ContextEntry => ({
  path,
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  size: content.length,
  mtimeMs: 0,
  digest: `sha256:${Buffer.from(content).toString('hex').padEnd(64, '0').slice(0, 64)}`,
  link: '',
});

type Files = Record<string, string>;

/** A recorded history of one project's builds, driven through the recorder as the builder does. */
async function recordedHistory() {
  const history = await openHistory(':memory:');
  const snapshots = new Map<string, ContextEntry[]>();
  let clock = 1_700_000_000_000;
  let n = 0;
  /**
   * One build of `files`: the steps the engine would report as cached are those before the first
   * one whose inputs changed (`changed`: the context changed; `fresh`: nothing was built before).
   */
  const build = async (
    files: Files,
    opts: { installMs: number; fresh?: boolean; project?: string; platform?: string; path?: string },
  ) => {
    const snap = `s${++n}`;
    const entries = Object.entries(files)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([p, c]) => file(p, c));
    snapshots.set(snap, entries);
    const project = opts.project ?? 'web';
    const platform = opts.platform ?? 'linux/amd64';
    const dockerfilePath = opts.path ?? 'Dockerfile';
    const prev = await history.previousBuild(project, platform, dockerfilePath, '');
    const prevEntries = prev ? snapshots.get(prev.snapshotId) : undefined;
    const same =
      prevEntries !== undefined &&
      JSON.stringify(prevEntries.map((e) => [e.path, e.digest])) ===
        JSON.stringify(entries.map((e) => [e.path, e.digest]));
    const rec = await beginRecording(
      {
        history,
        explainer,
        feed: createBuildFeed(),
        snapshotEntries: async (id) => snapshots.get(id),
        now: () => (clock += 1000),
      },
      {
        buildId: snap,
        project,
        user: 'ann',
        platform,
        snapshotId: snap,
        entries,
        buildArgs: {},
        dockerfilePath,
        target: '',
        dockerfileDigest: 'sha256:df',
        dockerfile: DF,
        baseImages: { 'node:20': 'sha256:node' },
        noCache: false,
        bytesUploaded: 0,
        bytesDeduplicated: 0,
      },
    );
    const ms: Record<string, number> = { copy: 150, ci: opts.installMs, build: 4000 };
    const isCached = (key: string) => key === 'from' || (!opts.fresh && (key === 'workdir' || same));
    // A step built anew has a new cache key (digest); a cached one keeps its earlier one.
    const digest = (key: string) =>
      `sha256:${key}-${project}-${dockerfilePath}${isCached(key) ? '' : `-${snap}`}`;
    const vertices: RecordedVertex[] = [
      ['from', '[1/5] FROM docker.io/library/node:20', []],
      ['workdir', '[2/5] WORKDIR /app', ['from']],
      ['ctx', '[internal] load build context', []],
      ['copy', '[3/5] COPY . .', ['workdir', 'ctx']],
      ['ci', '[4/5] RUN npm ci', ['copy']],
      ['build', '[5/5] RUN npm run build', ['ci']],
    ].map(([d, name, inputs]) => {
      const key = d as string;
      const cached = isCached(key);
      return {
        digest: digest(key),
        name: name as string,
        inputs: (inputs as string[]).map(digest),
        cached,
        startedMs: 10_000,
        completedMs: 10_000 + (cached ? 0 : (ms[key] ?? 10)),
        error: '',
      };
    });
    for (const v of vertices) await rec.vertex(v);
    await rec.flush();
    await rec.finish('ok');
  };
  return { history, build };
}

const BASE: Files = {
  'package.json': '{"name":"web","dependencies":{"left-pad":"1.3.0"}}',
  'package-lock.json': '{"lockfileVersion":3,"v":1}',
  'src/app.js': 'v1',
};

/**
 * Eight builds of one line: the first, then source-only edits and manifest edits alternating, one
 * rebuild of nothing, and a source edit too large for the recorded diff (more than 200 paths).
 */
async function scripted(): Promise<History> {
  const { history, build } = await recordedHistory();
  let files = { ...BASE };
  const edit = async (change: Files, installMs: number) => {
    files = { ...files, ...change };
    await build(files, { installMs });
  };
  await build(files, { installMs: 40_000, fresh: true }); // 1: first build
  await edit({ 'src/app.js': 'v2' }, 21_000); // 2: source only → reusable
  await edit({ 'package-lock.json': '{"lockfileVersion":3,"v":2}' }, 32_000); // 3: lockfile
  await edit({}, 0); // 4: nothing changed: all cached
  await edit({ 'src/app.js': 'v3', 'src/util.js': 'u1' }, 23_000); // 5: source only → reusable
  await edit({ 'package.json': '{"name":"web","v":2}', 'src/app.js': 'v4' }, 34_000); // 6: manifest + source
  const many = Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`src/gen/f${i}.js`, 'g']));
  await edit(many, 25_000); // 7: 201 new files: the diff is capped → unknown
  await edit({ 'src/app.js': 'v5' }, 27_000); // 8: source only → reusable
  return history;
}

test('the costs of a COPY . . then RUN npm ci line, from recorded builds', async () => {
  const history = await scripted();
  const res = await history.stepCosts({ project: 'web', dockerfilePath: 'Dockerfile', target: '' });
  assert.equal(res.builds, 8);
  assert.equal(res.last, 50);
  assert.equal(res.moreSteps, 0);
  const by = new Map(res.steps.map((s) => [s.instr, s]));

  const ci = by.get('RUN npm ci');
  assert.ok(ci, JSON.stringify(res.steps.map((s) => s.instr)));
  // Missed in every build but the one that changed nothing; its own change only the first time.
  assert.deepEqual([ci.runs, ci.misses, ci.rootMisses, ci.cascadedMisses], [8, 7, 1, 6]);
  const cascadeMs = 21_000 + 32_000 + 23_000 + 34_000 + 25_000 + 27_000;
  assert.equal(ci.costMs, 40_000 + cascadeMs);
  assert.equal(ci.rootCostMs, 40_000);
  assert.deepEqual(ci.causedBy, [
    {
      root: 'COPY . .',
      count: 6,
      costMs: cascadeMs,
      installReuse: {
        tool: 'npm',
        manifests: ['package.json', 'package-lock.json', 'npm-shrinkwrap.json', '.npmrc'],
        // Builds 2, 5 and 8 changed sources only; 3 and 6 changed a manifest; 7's diff was capped.
        reusable: 3,
        reusableMs: 21_000 + 23_000 + 27_000,
        unknown: 1,
      },
    },
  ]);

  const copy = by.get('COPY . .');
  assert.deepEqual(
    [copy?.runs, copy?.misses, copy?.rootMisses, copy?.cascadedMisses, copy?.causedBy.length],
    [8, 7, 7, 0, 0],
  );
  assert.equal(copy?.costMs, 7 * 150);

  // The step after the install followed the copy too, but is no install: no reuse is claimed for it.
  const after = by.get('RUN npm run build');
  assert.equal(after?.cascadedMisses, 6);
  assert.deepEqual(
    after?.causedBy.map((c) => [c.root, c.count, c.installReuse]),
    [['COPY . .', 6, null]],
  );
  // Costliest first.
  assert.deepEqual(res.steps.map((s) => s.instr).slice(0, 3), [
    'RUN npm ci',
    'RUN npm run build',
    'COPY . .',
  ]);
  await history.close();
});

test('last N reads the newest builds only, and is bounded', async () => {
  const history = await scripted();
  const res = await history.stepCosts({ project: 'web', dockerfilePath: 'Dockerfile', target: '', last: 3 });
  assert.equal(res.builds, 3);
  const ci = res.steps.find((s) => s.instr === 'RUN npm ci');
  // Builds 6, 7 and 8: a manifest edit, a capped diff, a source edit.
  assert.deepEqual(
    [
      ci?.misses,
      ci?.causedBy[0]?.count,
      ci?.causedBy[0]?.installReuse?.reusable,
      ci?.causedBy[0]?.installReuse?.unknown,
    ],
    [3, 3, 1, 1],
  );
  assert.equal(boundedLast(0), 50);
  assert.equal(boundedLast(undefined), 50);
  assert.equal(boundedLast(7), 7);
  assert.equal(boundedLast(1e9), 500);
  assert.equal(boundedLast(-3), 50);
  await history.close();
});

test("another project, Dockerfile path or platform shares none of the line's builds", async () => {
  const { history, build } = await recordedHistory();
  await build(BASE, { installMs: 5000, fresh: true });
  await build({ ...BASE, 'src/app.js': 'v2' }, { installMs: 6000 });
  await build(BASE, { installMs: 7000, fresh: true, project: 'other' });
  await build(BASE, { installMs: 7000, fresh: true, path: 'api/Dockerfile' });
  await build(BASE, { installMs: 7000, fresh: true, platform: 'linux/arm64' });
  const ask = (over: { project?: string; dockerfilePath?: string; platform?: string }) =>
    history.stepCosts({ project: 'web', dockerfilePath: 'Dockerfile', target: '', ...over });
  assert.equal((await ask({})).builds, 3, 'every platform of the line');
  assert.equal((await ask({ platform: 'linux/amd64' })).builds, 2);
  assert.equal((await ask({ platform: 'linux/arm64' })).builds, 1);
  assert.equal((await ask({ project: 'other' })).builds, 1);
  assert.equal((await ask({ project: 'nobody' })).builds, 0);
  assert.deepEqual((await ask({ project: 'nobody' })).steps, []);
  assert.equal((await ask({ dockerfilePath: 'api/Dockerfile' })).builds, 1);
  const own = (await ask({ platform: 'linux/amd64' })).steps.find((s) => s.instr === 'RUN npm ci');
  assert.equal(own?.costMs, 11_000, "the other lines' installs are not counted");
  await history.close();
});

test('an instruction too long for the answer is cut', async () => {
  const { history } = await recordedHistory();
  const long = `RUN echo ${'x'.repeat(5000)}`;
  const { id } = await history.recordBuildStart({
    buildId: 'b1',
    project: 'web',
    user: 'ann',
    platform: 'linux/amd64',
    startedMs: 1,
    snapshotId: 's',
    buildArgs: {},
    dockerfilePath: 'Dockerfile',
    target: '',
    dockerfileDigest: 'sha256:x',
    dockerfile: `FROM a\n${long}\n`,
    baseImages: {},
    noCache: false,
    bytesUploaded: 0,
    bytesDeduplicated: 0,
  });
  await history.recordBuildFinish({
    id,
    finishedMs: 2,
    result: 'ok',
    steps: [{ digest: 'd', name: `[2/2] ${long}`, cached: false, durationMs: 5, bytes: 0 }],
  });
  const [step] = (await history.stepCosts({ project: 'web', dockerfilePath: 'Dockerfile', target: '' }))
    .steps;
  assert.equal(step?.instr.length, STEP_COSTS_MAX_INSTR);
  assert.ok(step?.instr.endsWith('…'));
  await history.close();
});

test('a cascaded miss is charged to the root its cause names, not the nearest miss before it', async () => {
  const history = await openHistory(':memory:');
  const cause = (kind: string, text: string) => ({
    kind,
    paths: [],
    morePaths: 0,
    name: '',
    line: 0,
    digest: '',
    text,
  });
  const record = async (buildId: string, installText: string) => {
    const { id } = await history.recordBuildStart({
      buildId,
      project: 'web',
      user: 'ann',
      platform: 'linux/amd64',
      startedMs: 1,
      snapshotId: buildId,
      buildArgs: {},
      dockerfilePath: 'Dockerfile',
      target: '',
      dockerfileDigest: 'sha256:x',
      dockerfile: DF,
      baseImages: {},
      noCache: false,
      bytesUploaded: 0,
      bytesDeduplicated: 0,
    });
    await history.recordBuildFinish({
      id,
      finishedMs: 2,
      result: 'ok',
      steps: [
        { digest: 'f', name: '[1/4] FROM docker.io/library/node:20', cached: true, durationMs: 0, bytes: 0 },
        {
          digest: `a${buildId}`,
          name: '[2/4] RUN apt-get install -y git',
          cached: false,
          durationMs: 9000,
          bytes: 0,
          cause: cause('build_arg', 'build arg V changed'),
        },
        {
          digest: `c${buildId}`,
          name: '[3/4] COPY . .',
          cached: false,
          durationMs: 100,
          bytes: 0,
          cause: cause('changed_files', 'src/a.js changed under COPY . .'),
        },
        {
          digest: `i${buildId}`,
          name: '[4/4] RUN npm ci',
          cached: false,
          durationMs: 5000,
          bytes: 0,
          cause: cause('build_arg', installText),
          cascade: true,
        },
      ],
    });
  };
  await record('b1', 'follows from RUN apt-get install -y git: build arg V changed');
  // A text that names no step (older records) with two roots before it: not guessed.
  await record('b2', 'after an earlier step: build arg V changed');
  const ci = (
    await history.stepCosts({ project: 'web', dockerfilePath: 'Dockerfile', target: '' })
  ).steps.find((s) => s.instr === 'RUN npm ci');
  assert.deepEqual(
    ci?.causedBy.map((c) => [c.root, c.count, c.costMs, c.installReuse]),
    [
      ['', 1, 5000, null],
      ['RUN apt-get install -y git', 1, 5000, null],
    ],
  );
  await history.close();
});
