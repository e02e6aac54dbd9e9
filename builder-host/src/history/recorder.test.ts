import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ContextEntry } from '../../../src/protocol/index.js';
import { createStepExplainer } from './explain.js';
import { createBuildFeed } from './feed.js';
import { openHistory } from './history.js';
import { beginRecording, type RecordedVertex, type RecordingInput } from './recorder.js';
import { readTrace } from './trace.js';
import type { StepExplainer } from './types.js';

const DF = 'FROM busybox:latest\nWORKDIR /app\nCOPY . .\nRUN make\nRUN make test\n';

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

const file = (path: string, digest: string): ContextEntry => ({
  path,
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  size: 1,
  mtimeMs: 0,
  digest,
  link: '',
});

function input(snapshotId: string, entries: ContextEntry[]): RecordingInput {
  return {
    buildId: snapshotId,
    project: 'web',
    user: 'ann',
    platform: 'linux/amd64',
    snapshotId,
    entries,
    buildArgs: {},
    dockerfilePath: 'Dockerfile',
    target: '',
    dockerfileDigest: 'sha256:df',
    dockerfile: DF,
    baseImages: { 'busybox:latest': 'sha256:bb' },
    noCache: false,
    bytesUploaded: 0,
    bytesDeduplicated: 0,
  };
}

// The graph BuildKit reports: the COPY also reads the context, which is no Dockerfile step.
const graph = (cached: Record<string, boolean>): RecordedVertex[] =>
  [
    ['from', '[1/5] FROM docker.io/library/busybox:latest', []],
    ['workdir', '[2/5] WORKDIR /app', ['from']],
    ['ctx', '[internal] load build context', []],
    ['copy', '[3/5] COPY . .', ['workdir', 'ctx']],
    ['make', '[4/5] RUN make', ['copy']],
    ['test', '[5/5] RUN make test', ['make']],
  ].map(([d, name, inputs]) => ({
    digest: `sha256:${d}`,
    name: name as string,
    inputs: (inputs as string[]).map((i) => `sha256:${i}`),
    cached: cached[d as string] ?? false,
    startedMs: 1,
    completedMs: 2,
    error: '',
  }));

test('misses that only follow a missed step say so, are no busters, and evicted needs evidence', async () => {
  const history = await openHistory(':memory:');
  const snapshots = new Map<string, ContextEntry[]>();
  const run = async (snap: string, entries: ContextEntry[], cached: Record<string, boolean>) => {
    snapshots.set(snap, entries);
    const rec = await beginRecording(
      { history, explainer, feed: createBuildFeed(), snapshotEntries: async (id) => snapshots.get(id) },
      input(snap, entries),
    );
    const causes = new Map<string, string>();
    const note = (e: { vertex: string; cause: { text: string; rootVertex?: string } }) => {
      causes.set(e.vertex.slice(7), e.cause.text);
      if (e.cause.rootVertex) roots.set(e.vertex.slice(7), e.cause.rootVertex.slice(7));
    };
    for (const v of graph(cached)) for (const e of await rec.vertex(v)) note(e);
    for (const e of await rec.flush()) note(e);
    await rec.finish('ok');
    return causes;
  };
  const roots = new Map<string, string>();
  const first = await run('s1', [file('src/a.txt', 'a1')], { from: true });
  assert.deepEqual([...first.values()], Array(4).fill('first build of Dockerfile'));

  const edited = await run('s2', [file('src/a.txt', 'a2')], { from: true, workdir: true });
  assert.deepEqual(Object.fromEntries(edited), {
    copy: 'src/a.txt changed under COPY . .',
    make: 'follows from COPY . .: src/a.txt changed under COPY . .',
    test: 'follows from COPY . .: src/a.txt changed under COPY . .',
  });
  // Each cascaded miss names its root's vertex (through the RUN between them too); the root names none.
  assert.deepEqual(Object.fromEntries(roots), { make: 'copy', test: 'copy' });
  const busters = (await history.stats({ window: '24h', groupBy: 'project', now: Date.now() + 1000 }))
    .busters;
  assert.deepEqual(
    busters.filter((b) => b.causes.some((c) => c.kind === 'changed_files')).map((b) => b.step),
    ['COPY . .'],
  );

  // Same inputs, the previous build ran the same digests, and only the last step missed: evicted.
  const gone = await run('s3', [file('src/a.txt', 'a2')], {
    from: true,
    workdir: true,
    copy: true,
    make: true,
  });
  assert.match(gone.get('test') ?? '', /^evicted: /);
  await history.close();
});

test('a cached step is told its cold duration once, from this project’s own runs only', async () => {
  const history = await openHistory(':memory:');
  const record = async (project: string, cached: Record<string, boolean>, took = 1) => {
    const rec = await beginRecording(
      { history, explainer, feed: createBuildFeed(), snapshotEntries: async () => [] },
      { ...input(`${project}-${Math.random()}`, []), project },
    );
    const cold = new Map<string, number>();
    for (const v of graph(cached)) {
      const timed = v.cached ? v : { ...v, startedMs: 1000, completedMs: 1000 + took };
      await rec.vertex(timed);
      const ms = await rec.coldMs(timed);
      if (ms) cold.set(v.digest.slice(7), ms);
      // BuildKit may report a cached vertex twice: told once.
      assert.equal(await rec.coldMs(timed), 0);
    }
    await rec.finish('ok');
    return cold;
  };
  // First build: nothing cached, nothing to tell.
  assert.deepEqual([...(await record('web', {}, 3000)).keys()], []);
  // Rebuild with everything up to the COPY cached: each is told what it ran the first time.
  const told = await record('web', { from: true, workdir: true, copy: true });
  assert.deepEqual(Object.fromEntries(told), { from: 3000, workdir: 3000, copy: 3000 });
  // Another project's identical steps (the same digests) learn nothing of web's runs.
  assert.deepEqual([...(await record('api', { from: true, workdir: true, copy: true })).keys()], []);
  await history.close();
});

test('what the Build stream sent is kept with the build: its trace, and why it failed', async () => {
  let clock = 5000;
  const history = await openHistory(':memory:');
  const rec = await beginRecording(
    { history, explainer, feed: createBuildFeed(), snapshotEntries: async () => [], now: () => clock++ },
    input('traced', [file('src/a.txt', 'a1')]),
  );
  for (const v of graph({})) {
    rec.event({ vertex: { ...v, inputs: [...(v.inputs ?? [])] } });
    for (const explained of await rec.vertex(v)) rec.event({ explained });
  }
  rec.event({
    log: { vertex: 'sha256:make', stream: 2, data: Buffer.from('make: *** [all] Error 2\n'), timestampMs: 2 },
  });
  rec.event({ output: { data: Buffer.from('never kept') } });
  rec.event({ result: { ok: false, error: 'step failed', errorCode: 'step_failed' } });
  await rec.finish('failed', 'step failed');
  // Events after the end are not the build's.
  rec.event({ message: 'late' });
  const found = await history.findBuild('web', 'traced');
  assert.equal(found.kind, 'found');
  if (found.kind !== 'found') return;
  assert.equal(found.record.error, 'step failed');
  assert.equal(found.record.summary.result, 'failed');
  assert.equal(found.dockerfile, DF);
  const events = [];
  for await (const e of readTrace(found.trace!.data)) events.push(e);
  const kinds = events.map((e) => Object.keys(e.event)[0]);
  // Every vertex, the causes of the five missed steps (a FROM's waits for the next vertex), the
  // log, the result; not the output, not what came after the end.
  assert.equal(kinds.filter((k) => k === 'vertex').length, 6);
  assert.equal(kinds.filter((k) => k === 'explained').length, 5);
  assert.deepEqual(kinds.slice(-2), ['log', 'result']);
  assert.equal(events.length, 13);
  // Stamped with the recording's clock, in order.
  const times = events.map((e) => e.timeMs);
  assert.deepEqual(
    times,
    [...times].sort((a, b) => a - b),
  );
  assert.ok(times[0]! >= 5000);
  assert.equal(events.at(-2)?.event.log?.data, 'make: *** [all] Error 2\n');
  await history.close();
});
