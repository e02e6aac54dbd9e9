import assert from 'node:assert/strict';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type BuildEvent, parseEventLines } from '../../src/progress/index.js';
import { type BuilderProcess, buildOn, depot, ROOT, skipReason, startBuilder, tempDir } from './harness.js';

const skip = skipReason();

/** Where the recorded streams go: the progress fixtures every renderer's golden tests replay. */
const FIXTURES = join(ROOT, 'src', 'progress', 'fixtures');

/**
 * A four-stage build: two independent stages (deps, assets) that run side by side, a stage built
 * on one of them (`FROM deps`), and a final stage reading both (`COPY --from`, `RUN --mount=from`).
 * The nonce keeps the engine's cache (shared with earlier runs) from answering the first build.
 */
const dockerfile = (nonce: string) =>
  [
    'FROM busybox AS deps',
    'WORKDIR /deps',
    'COPY deps.txt .',
    `RUN sort deps.txt > /deps.lock && sleep 1 && echo "deps ${nonce}"`,
    '',
    'FROM busybox AS assets',
    'WORKDIR /assets',
    'COPY web/ ./',
    `RUN cat *.css > /site.css && sleep 1 && echo "assets ${nonce}"`,
    '',
    'FROM deps AS build',
    'COPY src/ /src/',
    `RUN cat /deps.lock /src/*.txt > /app.bin && if grep -q broken /app.bin; then echo "error: /src/main.txt says broken" >&2; exit 3; fi && echo "built ${nonce}"`,
    '',
    'FROM busybox',
    'COPY --from=build /app.bin /app/app.bin',
    'RUN --mount=from=assets,target=/assets cp /assets/site.css /app/site.css',
    'COPY config.txt /app/config.txt',
    'CMD ["cat", "/app/app.bin"]',
    '',
  ].join('\n');

type Vertex = Extract<BuildEvent, { type: 'vertex/updated' }>['vertex'];
type Cause = Extract<BuildEvent, { type: 'step/explained' }>['cause'];

/** The last report of every vertex, and the causes by vertex, of one `--progress json` stream. */
function digest(events: BuildEvent[]): { vertices: Map<string, Vertex>; causes: Map<string, Cause> } {
  const vertices = new Map<string, Vertex>();
  const causes = new Map<string, Cause>();
  for (const e of events) {
    if (e.type === 'vertex/updated')
      vertices.set(e.vertex.digest, { ...vertices.get(e.vertex.digest), ...e.vertex });
    if (e.type === 'step/explained') causes.set(e.vertex, e.cause);
  }
  return { vertices, causes };
}

const named = (vertices: Map<string, Vertex>, re: RegExp): Vertex[] =>
  [...vertices.values()].filter((v) => re.test(v.name));

describe('recorded multi-stage builds on a real builder (the graph fixtures)', { skip }, () => {
  let builder: BuilderProcess;
  const project = `graph-${process.pid}`;
  const nonce = Date.now().toString(36);
  let token: string;
  let dir: string;
  const streams: Record<string, BuildEvent[]> = {};

  before(async () => {
    builder = await startBuilder();
    token = builder.token(project, 'ann');
    dir = tempDir('graph');
    mkdirSync(join(dir, 'src'));
    mkdirSync(join(dir, 'web'));
    writeFileSync(join(dir, 'Dockerfile'), dockerfile(nonce));
    writeFileSync(join(dir, 'deps.txt'), `zlib ${nonce}\nopenssl\n`);
    writeFileSync(join(dir, 'web', 'site.css'), `body { color: #${nonce.slice(-6)}; }\n`);
    writeFileSync(join(dir, 'src', 'main.txt'), 'main v1\n');
    writeFileSync(join(dir, 'src', 'util.txt'), 'util v1\n');
    writeFileSync(join(dir, 'config.txt'), 'port=8080\n');
  });
  after(async () => {
    await builder?.stop();
  });

  /** Runs `depot build --progress json --load` and keeps its stream under `name`. */
  const build = async (name: string, ok: boolean) => {
    const r = await depot([
      ...buildOn(builder.url, token, project, 'json'),
      '--load',
      '-t',
      `depot-it/graph:${process.pid}`,
      dir,
    ]);
    assert.equal(r.code, ok ? 0 : 1, r.stderr);
    const events = parseEventLines(r.stdout);
    streams[name] = events;
    const file = join(FIXTURES, `graph-${name}.jsonl`);
    if (process.env.DEPOT_RECORD_TRACES === '1' || !existsSync(file)) writeFileSync(file, r.stdout);
    return events;
  };

  test('cold: every stage runs; deps and assets overlap; the Dockerfile comes with the stream', async () => {
    const events = await build('cold', true);
    const defined = events.find((e) => e.type === 'build/defined');
    assert.equal(defined?.type === 'build/defined' && defined.dockerfile, dockerfile(nonce));
    const { vertices, causes } = digest(events);
    const [deps] = named(vertices, /^\[deps 4\/4\] RUN/);
    const [assets] = named(vertices, /^\[assets 4\/4\] RUN/);
    assert.ok(deps && assets, [...vertices.values()].map((v) => v.name).join('\n'));
    // Independent stages run at the same time: each starts before the other ends.
    assert.ok(deps.startedMs < assets.completedMs && assets.startedMs < deps.completedMs);
    for (const c of causes.values()) assert.equal(c.kind, 'first_build');
  });

  test('identical rebuild: every step a hit, the FROM included, and nothing to explain', async () => {
    // A new mtime: a new snapshot, so BuildKit runs the build again over the same content.
    const t = new Date(Date.now() + 60_000);
    utimesSync(join(dir, 'config.txt'), t, t);
    const { vertices, causes } = digest(await build('rebuild', true));
    const froms = named(vertices, /^\[[^\]]*\d+\/\d+\] FROM /);
    assert.ok(froms.length >= 1);
    for (const v of froms) assert.equal(v.cached, true, v.name);
    for (const v of named(vertices, /^\[[^\]]*\d+\/\d+\]/)) assert.equal(v.cached, true, v.name);
    assert.deepEqual([...causes.values()], []);
  });

  test('one-file edit: the COPY that reads it is the root, every later miss names it', async () => {
    writeFileSync(join(dir, 'src', 'main.txt'), 'main v2\n');
    const { vertices, causes } = digest(await build('edit', true));
    for (const v of named(vertices, / FROM /)) assert.equal(v.cached, true, `${v.name} is a hit`);
    const [copy] = named(vertices, /^\[build 1\/2\] COPY src\//);
    assert.ok(copy);
    const root = causes.get(copy.digest);
    assert.equal(root?.kind, 'changed_files');
    assert.deepEqual(root?.paths, ['src/main.txt']);
    assert.equal(root?.rootVertex, undefined);
    const missed = [...vertices.values()].filter((v) => !v.cached && /^\[[^\]]*\d+\/\d+\]/.test(v.name));
    assert.deepEqual(
      missed.map((v) => v.name.replace(/ .*/, '')),
      ['[build', '[build', '[stage-3', '[stage-3', '[stage-3'],
    );
    for (const v of missed.filter((m) => m.digest !== copy.digest)) {
      const c = causes.get(v.digest);
      assert.equal(c?.rootVertex, copy.digest, v.name);
      assert.notEqual(c?.kind, 'evicted');
    }
  });

  test('failed step: the RUN fails with its output, the build fails', async () => {
    writeFileSync(join(dir, 'src', 'main.txt'), 'main broken\n');
    const events = await build('failed', false);
    const { vertices } = digest(events);
    const [run] = named(vertices, /^\[build 2\/2\] RUN/);
    assert.match(run?.error ?? '', /exit code: 3/);
    assert.ok(
      events.some((e) => e.type === 'log/appended' && e.data.includes('/src/main.txt says broken')),
      'the failed step logged its error',
    );
    const finished = events.find((e) => e.type === 'build/finished');
    assert.equal(finished?.type === 'build/finished' && finished.ok, false);
  });
});
