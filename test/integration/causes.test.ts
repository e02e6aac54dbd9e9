import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { parseEventLines } from '../../src/progress/json.js';
import type { StatsResponse__Output } from '../../src/protocol/generated/depot/builder/v1/StatsResponse.js';
import { AUTH_METADATA_KEY, loadBuilderProto, PROJECT_METADATA_KEY } from '../../src/protocol/index.js';
import {
  type BuilderProcess,
  buildOn,
  DEPOT_BIN,
  depot,
  isolatedEnv,
  LAPTOP_ENGINE,
  readMetadata,
  skipReason,
  startBuilder,
  tempDir,
  until,
} from './harness.js';

const skip = skipReason();

// Six Dockerfile steps ([1/6] … [6/6]); the ARG makes none. The RUN lines carry a per-run nonce
// so the engine's cache (shared with earlier test runs) never answers the first build.
const dockerfile = (nonce: string) =>
  [
    'FROM busybox:latest',
    'WORKDIR /app',
    'COPY . .',
    `RUN cat src/a.txt > /out.txt && echo ${nonce}`,
    'RUN wc -c /out.txt > /size.txt',
    'ARG FLAVOR=plain',
    'RUN echo "$FLAVOR" > /flavor.txt',
    '',
  ].join('\n');

interface Cause {
  kind: string;
  text: string;
  paths: string[];
}

/** Step instruction → its cause, and whether each step was cached, from `--progress json` output. */
function causesOf(json: string): { causes: Map<string, Cause>; cached: Map<string, boolean> } {
  const names = new Map<string, string>();
  const cached = new Map<string, boolean>();
  const causes = new Map<string, Cause>();
  const events = parseEventLines(json);
  for (const ev of events)
    if (ev.type === 'vertex/updated' && /^\[[^\]]*\d+\/\d+\]/.test(ev.vertex.name)) {
      const instr = ev.vertex.name.replace(/^\[[^\]]*\] /, '');
      names.set(ev.vertex.digest, instr);
      cached.set(instr, ev.vertex.cached);
    }
  for (const ev of events)
    if (ev.type === 'step/explained') causes.set(names.get(ev.vertex) ?? ev.vertex, ev.cause);
  return { causes, cached };
}

describe('why steps missed, and how steps are counted, on a real builder', { skip }, () => {
  let builder: BuilderProcess;
  let client: InstanceType<ReturnType<typeof loadBuilderProto>['depot']['builder']['v1']['Builder']>;
  const nonce = `${process.pid}-${Date.now()}`;

  before(async () => {
    builder = await startBuilder();
    const proto = loadBuilderProto();
    client = new proto.depot.builder.v1.Builder(
      builder.url.replace(/^tcp:\/\//, ''),
      grpc.credentials.createInsecure(),
    );
  });
  after(async () => {
    client?.close();
    await builder?.stop();
  });

  /** A project with its own context; `build` runs `depot build` on it and fails on a non-zero exit. */
  const project = (name: string) => {
    const proj = `${name}-${process.pid}`;
    const token = builder.token(proj, 'ann');
    const dir = tempDir(name);
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'a.txt'), `a v1 ${nonce}\n`);
    writeFileSync(join(dir, 'Dockerfile'), dockerfile(`${name}-${nonce}`));
    const build = async (progress: 'plain' | 'json', extra: string[] = []) => {
      const r = await depot([...buildOn(builder.url, token, proj, progress), ...extra, dir]);
      assert.equal(r.code, 0, r.stderr);
      return { out: `${r.stdout}${r.stderr}`, json: r.stdout };
    };
    // A new mtime: a new snapshot, so the builder cannot reuse its last result and BuildKit runs
    // the build again, with the same content.
    const touch = () => {
      const t = new Date(Date.now() + Math.floor(Math.random() * 1e6));
      utimesSync(join(dir, 'src', 'a.txt'), t, t);
    };
    return { proj, token, dir, build, touch };
  };

  test('an identical rebuild prints no MISS and counts the Dockerfile steps, all cached', async () => {
    const p = project('same');
    const first = await p.build('plain');
    assert.match(first.out, /^steps: 6 total, \d cached/m);
    p.touch();
    const again = await p.build('plain');
    assert.doesNotMatch(again.out, /MISS/, again.out);
    assert.match(again.out, /^steps: 6 total, 6 cached/m);
    // The result reused whole (same snapshot) says the same.
    const reused = await p.build('plain');
    assert.doesNotMatch(reused.out, /MISS/);
    assert.match(reused.out, /^steps: 6 total, 6 cached/m);
    // The FROM of an image the engine has is cached, in the json stream too.
    p.touch();
    const json = causesOf((await p.build('json')).json);
    assert.equal(json.cached.get('FROM docker.io/library/busybox:latest'), true);
    assert.deepEqual([...json.causes], []);
  });

  test('an edited file blames the COPY that brought it in; later steps follow from it', async () => {
    const p = project('edit');
    await p.build('json');
    writeFileSync(join(p.dir, 'src', 'a.txt'), `a v2 ${nonce}\n`);
    const { causes, cached } = causesOf((await p.build('json')).json);
    assert.equal(cached.get('FROM docker.io/library/busybox:latest'), true);
    assert.equal(cached.get('WORKDIR /app'), true);
    const copy = causes.get('COPY . .');
    assert.equal(copy?.kind, 'changed_files');
    assert.deepEqual(copy?.paths, ['src/a.txt']);
    assert.equal(copy?.text, 'src/a.txt changed under COPY . .');
    const later = [...causes].filter(([instr]) => instr.startsWith('RUN '));
    assert.equal(later.length, 3, JSON.stringify([...causes]));
    for (const [instr, c] of later) {
      assert.equal(c.kind, 'changed_files', instr);
      assert.match(c.text, /^follows from COPY \. \.: src\/a\.txt changed/, instr);
    }
    assert.ok(
      [...causes.values()].every((c) => c.kind !== 'evicted' && !/FROM|evicted/.test(c.text)),
      JSON.stringify([...causes]),
    );

    // Only the root cause is a cache buster: the RUNs that followed are not.
    const md = new grpc.Metadata();
    md.set(AUTH_METADATA_KEY, `Bearer ${p.token}`);
    md.set(PROJECT_METADATA_KEY, p.proj);
    const stats = await new Promise<StatsResponse__Output>((resolve, reject) =>
      client.Stats({ window: '1h', groupBy: 'project' }, md, { deadline: Date.now() + 10_000 }, (err, res) =>
        err ? reject(err) : resolve(res!),
      ),
    );
    const busters = stats.busters.filter((b) => b.project === p.proj);
    assert.ok(
      busters.some((b) => b.step === 'COPY . .'),
      JSON.stringify(busters),
    );
    // Their first-build misses are root causes; the misses that followed the edit add nothing.
    const runs = busters.filter((b) => b.step.startsWith('RUN '));
    assert.equal(runs.length, 3, JSON.stringify(busters));
    for (const r of runs) {
      assert.equal(r.misses, 1, r.step);
      assert.deepEqual(r.causes, [{ kind: 'first_build', count: 1 }], r.step);
    }
    // Two builds of 6 steps each, in the counts of the dashboard too.
    assert.deepEqual([stats.totals?.builds, stats.totals?.steps], [2, 12]);
  });

  test('--metadata-file counts the Dockerfile steps, the same on identical runs', async () => {
    const p = project('meta');
    const file = join(p.dir, '..', `meta-${process.pid}.json`);
    const counts = async () => {
      await p.build('plain', ['--metadata-file', file]);
      const md = readMetadata(file);
      return [md['depot.steps.total'], md['depot.steps.cached']];
    };
    const first = await counts();
    assert.equal(first[0], 6);
    p.touch();
    const second = await counts();
    p.touch();
    const third = await counts();
    assert.deepEqual(second, [6, 6]);
    assert.deepEqual(third, second);
  });

  test('builds compare with the last build of the same Dockerfile path and target', async () => {
    const p = project('lines');
    writeFileSync(
      join(p.dir, 'B.Dockerfile'),
      `FROM busybox:latest\nCOPY src/ /src/\nRUN ls /src && echo ${nonce}\n`,
    );
    await p.build('json');
    const b = causesOf((await p.build('json', ['-f', join(p.dir, 'B.Dockerfile')])).json);
    for (const c of b.causes.values()) assert.equal(c.text, 'first build of B.Dockerfile');
    assert.ok(b.causes.size > 0);
    // Back to the Dockerfile, after an edit: compared with its own last build, not with B's.
    writeFileSync(join(p.dir, 'src', 'a.txt'), `a v3 ${nonce}\n`);
    const a = causesOf((await p.build('json')).json);
    assert.deepEqual(
      [a.causes.get('COPY . .')?.kind, a.causes.get('COPY . .')?.paths],
      ['changed_files', ['src/a.txt']],
    );
    // A target is a line of its own: B with --target app is B's first build for it. Its RUN
    // makes the image differ from B's, so BuildKit has one step to run.
    writeFileSync(
      join(p.dir, 'B.Dockerfile'),
      `FROM busybox:latest AS app\nCOPY src/ /src/\nRUN ls /src && echo ${nonce}-app\n`,
    );
    const t = causesOf((await p.build('json', ['-f', join(p.dir, 'B.Dockerfile'), '--target', 'app'])).json);
    assert.ok(t.causes.size > 0);
    for (const c of t.causes.values()) assert.equal(c.text, 'first build of B.Dockerfile (target app)');
  });

  test('a build running beside another one on the engine shows its own step labels', async () => {
    // BuildKit runs the FROM both builds share once, named after the build that loaded it first:
    // without relabelling, the two-step build below shows `[1/4] FROM …`.
    const long = project('beside-long');
    writeFileSync(
      join(long.dir, 'Dockerfile'),
      `FROM busybox:latest\nRUN sleep 4 && echo ${nonce}-long\nRUN echo a1\nRUN echo a2\n`,
    );
    const short = project('beside-short');
    writeFileSync(join(short.dir, 'Dockerfile'), `FROM busybox:latest\nRUN echo ${nonce}-short\n`);
    const first = spawn(
      process.execPath,
      [DEPOT_BIN, ...buildOn(builder.url, long.token, long.proj, 'json'), long.dir],
      {
        env: { ...process.env, ...isolatedEnv(), DOCKER_HOST: LAPTOP_ENGINE },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let firstOut = '';
    const firstDone = new Promise<number | null>((res) => first.on('close', res));
    first.stdout.on('data', (d: Buffer) => {
      firstOut += d.toString();
    });
    first.stderr.resume();
    // The long build is inside its sleep: its FROM vertex is active on the engine.
    await until('the long build to start its sleep', () =>
      parseEventLines(firstOut.slice(0, firstOut.lastIndexOf('\n') + 1)).some(
        (ev) =>
          ev.type === 'vertex/updated' &&
          ev.vertex.name.startsWith('[2/4] RUN sleep') &&
          ev.vertex.startedMs > 0,
      ),
    );
    const { json } = await short.build('json');
    assert.equal(await firstDone, 0, firstOut.slice(-2000));
    const names = new Set<string>();
    for (const ev of parseEventLines(json))
      if (ev.type === 'vertex/updated' && /^\[[^\]]*\d+\/\d+\]/.test(ev.vertex.name))
        names.add(ev.vertex.name);
    assert.deepEqual([...names].sort(), [
      '[1/2] FROM docker.io/library/busybox:latest',
      `[2/2] RUN echo ${nonce}-short`,
    ]);
    const longNames = new Set<string>();
    for (const ev of parseEventLines(firstOut))
      if (ev.type === 'vertex/updated' && ev.vertex.name.startsWith('[1/')) longNames.add(ev.vertex.name);
    assert.deepEqual([...longNames], ['[1/4] FROM docker.io/library/busybox:latest']);
  });
});
