import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildStreamEvents } from '../../builder-host/src/engine/build-stream.js';
import { buildQuery } from '../../builder-host/src/engine/docker-engine.js';
import {
  createContextTar,
  createDockerEngine,
  type Engine,
  type EngineBuildRequest,
  type EngineEvent,
} from '../../builder-host/src/engine/index.js';
import { createLocalEngine } from '../../src/docker/index.js';
import { createEngineApi, lines } from '../../src/engine-api/index.js';
import { manifestOf } from './context-helpers.js';

const BUILDER = 'unix:///tmp/depot-engines/builder/docker.sock';
const LAPTOP = 'unix:///tmp/depot-engines/laptop/docker.sock';
const DOCKER_CLI = '/usr/bin/docker';
const TRACES = path.join(import.meta.dirname, '..', 'fixtures', 'traces');
const missing = [BUILDER, LAPTOP].filter((h) => !existsSync(h.slice('unix://'.length)));
const skip = missing.length
  ? `engine sockets absent (${missing.join(', ')}): run scripts/engines.sh start`
  : false;

const nonce = randomBytes(6).toString('hex');
let work: string;
let engine: Engine;

function context(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(work, 'ctx-'));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    writeFileSync(path.join(dir, p), text);
  }
  return dir;
}

function request(dir: string, over: Partial<EngineBuildRequest> = {}): EngineBuildRequest {
  const m = manifestOf(dir);
  const t = createContextTar(m.entries, m.openBlob);
  return {
    context: t.stream,
    dockerfile: 'Dockerfile',
    buildArgs: {},
    target: '',
    platform: '',
    tags: [],
    noCache: false,
    pull: false,
    labels: {},
    buildId: `test-${nonce}-${randomBytes(4).toString('hex')}`,
    ...over,
  };
}

async function collect(it: AsyncIterable<EngineEvent>): Promise<EngineEvent[]> {
  const out: EngineEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

function result(events: EngineEvent[]): Extract<EngineEvent, { type: 'result' }> {
  const results = events.filter((e) => e.type === 'result');
  assert.equal(results.length, 1, 'exactly one result');
  assert.equal(events.at(-1)?.type, 'result', 'result comes last');
  return results[0] as Extract<EngineEvent, { type: 'result' }>;
}

/** Last state of every vertex by name. */
function vertices(
  events: EngineEvent[],
): Map<string, { cached: boolean; completedMs: number; error: string }> {
  const m = new Map<string, { cached: boolean; completedMs: number; error: string }>();
  for (const e of events) if (e.type === 'vertex') m.set(e.vertex.name, e.vertex);
  return m;
}

function logText(events: EngineEvent[]): string {
  return events
    .filter((e) => e.type === 'log')
    .map((e) => (e as { data: Buffer }).data.toString('utf8'))
    .join('');
}

async function waitUntil(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function processesWith(text: string): string[] {
  return execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(text));
}

function docker(host: string, ...args: string[]): string {
  return execFileSync(DOCKER_CLI, args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: host } });
}

/** Records the raw dockerd lines of a build and the events decoded from them, as golden fixtures. */
async function record(name: string, dir: string, over: Partial<EngineBuildRequest>): Promise<EngineEvent[]> {
  const req = request(dir, over);
  const res = await createEngineApi(BUILDER).request({
    method: 'POST',
    path: `/build?${buildQuery(req)}`,
    headers: { 'Content-Type': 'application/x-tar' },
    body: req.context,
  });
  const raw: string[] = [];
  for await (const l of lines(res)) raw.push(l);
  const events: EngineEvent[] = [];
  for await (const ev of buildStreamEvents(raw)) events.push(ev);
  if (process.env.DEPOT_RECORD_TRACES === '1' || !existsSync(path.join(TRACES, `${name}.raw.jsonl`))) {
    mkdirSync(TRACES, { recursive: true });
    writeFileSync(path.join(TRACES, `${name}.raw.jsonl`), `${raw.join('\n')}\n`);
    writeFileSync(
      path.join(TRACES, `${name}.events.jsonl`),
      `${events.map((e) => JSON.stringify(e.type === 'log' ? { ...e, data: e.data.toString('utf8') } : e)).join('\n')}\n`,
    );
  }
  return events;
}

describe('docker engine (real dockerd)', { skip }, () => {
  before(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'depot-engine-test-'));
    engine = createDockerEngine({ host: BUILDER, cacheDir: path.join(work, 'cache') });
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('info reports version, platform and image store', async () => {
    const info = await engine.info();
    assert.match(info.apiVersion, /^1\.\d+$/);
    assert.equal(info.platform, `${info.os}/${info.arch}`);
    assert.equal(info.imageStore, 'graphdriver');
    assert.ok(info.id.length > 0);
  });

  test('two-stage build: vertices, logs, args, cache on the second run', async () => {
    const dockerfile = [
      'FROM busybox AS base',
      'ARG GREETING=hello',
      `RUN echo "$GREETING ${nonce}" > /greeting && echo to-stderr >&2`,
      'FROM busybox',
      'COPY --from=base /greeting /greeting',
      'COPY app/ /app/',
      'RUN cat /greeting /app/data.txt',
    ].join('\n');
    const dir = context({ Dockerfile: dockerfile, 'app/data.txt': 'data one\n' });
    const first = await collect(
      engine.build(
        request(dir, { buildArgs: { GREETING: 'hi' }, tags: [`depot-test/two:${nonce}`] }),
        AbortSignal.timeout(120_000),
      ),
    );
    const r1 = result(first);
    assert.equal(r1.ok, true, r1.error);
    assert.match(r1.imageId, /^sha256:[0-9a-f]{64}$/);
    const v1 = vertices(first);
    const run = [...v1.keys()].find((n) => n.includes('RUN echo'))!;
    assert.ok(run, 'RUN vertex reported');
    assert.equal(v1.get(run)?.cached, false);
    assert.ok((v1.get(run)?.completedMs ?? 0) > 0);
    assert.match(logText(first), new RegExp(`hi ${nonce}\\ndata one`));
    const stderr = first.find(
      (e) => e.type === 'log' && e.stream === 2 && e.data.toString().includes('to-stderr'),
    );
    assert.ok(stderr, 'stderr log with stream 2');

    writeFileSync(path.join(dir, 'app/data.txt'), 'data two\n');
    const second = await record('success-cached', dir, { buildArgs: { GREETING: 'hi' } });
    assert.equal(result(second).ok, true);
    const v2 = vertices(second);
    assert.equal(v2.get(run)?.cached, true, 'base stage RUN cached');
    assert.equal(v2.get('[stage-1 4/4] RUN cat /greeting /app/data.txt')?.cached, false);
    assert.match(logText(second), /data two/);

    const third = await collect(
      engine.build(request(dir, { buildArgs: { GREETING: 'hi' } }), AbortSignal.timeout(60_000)),
    );
    assert.equal(result(third).ok, true);
    for (const [name, v] of vertices(third))
      if (name.includes(' RUN ') || name.includes(' COPY ')) assert.equal(v.cached, true, `${name} cached`);
  });

  test('failures carry stable codes and the engine message', async () => {
    const cases: Array<[string, Partial<EngineBuildRequest>, string, RegExp]> = [
      [
        'FROM busybox\nRUN echo a\nFOOBAR x\n',
        {},
        'dockerfile_syntax',
        /line 3: unknown instruction: FOOBAR/i,
      ],
      ['', {}, 'dockerfile_syntax', /cannot be empty/],
      [
        'FROM busybox AS a\nRUN true\n',
        { target: 'nope' },
        'unknown_target',
        /target stage nope could not be found/,
      ],
      [
        'FROM busybox\n',
        { dockerfile: 'sub/Dockerfile.missing' },
        'dockerfile_not_found',
        /failed to read dockerfile/,
      ],
      ['FROM busybox\n', { buildArgs: {}, tags: ['UPPER:x'] }, 'build_failed', /lowercase/],
    ];
    for (const [df, over, code, msg] of cases) {
      const events = await collect(
        engine.build(request(context({ Dockerfile: df }), over), AbortSignal.timeout(60_000)),
      );
      const r = result(events);
      assert.equal(r.ok, false);
      assert.equal(r.errorCode, code, `${JSON.stringify(df)}: ${r.error}`);
      assert.match(r.error, msg);
    }
    const failing = await record(
      'run-failure',
      context({ Dockerfile: `FROM busybox\nRUN echo about to fail ${nonce} && exit 3\n` }),
      {},
    );
    const r = result(failing);
    assert.equal(r.errorCode, 'step_failed');
    assert.match(r.error, /exit code: 3/);
    assert.ok(
      failing.some((e) => e.type === 'vertex' && e.vertex.error !== ''),
      'the failed vertex carries its error',
    );
  });

  for (const how of ['signal', 'cancel'] as const) {
    test(`a running RUN stops when the build is cancelled by ${how}`, async () => {
      const mark = `sleeper-${how}-${nonce}`;
      const req = request(context({ Dockerfile: `FROM busybox\nRUN sleep 30 && echo ${mark}\n` }), {
        noCache: true,
      });
      const ac = new AbortController();
      const events: EngineEvent[] = [];
      const started = Date.now();
      const done = (async () => {
        for await (const ev of engine.build(req, ac.signal)) events.push(ev);
      })();
      await waitUntil(() => processesWith(mark).length > 0, 30_000, 'the RUN process to start');
      if (how === 'signal') ac.abort();
      else await engine.cancel(req.buildId);
      await done;
      const r = result(events);
      assert.equal(r.ok, false);
      assert.equal(r.errorCode, 'cancelled');
      await waitUntil(() => processesWith(mark).length === 0, 10_000, 'the RUN process to go away');
      assert.ok(Date.now() - started < 25_000, 'stopped well before the sleep ended');
    });
  }

  test('export sends only the layers the laptop lacks, and the result runs there', async (t) => {
    const laptop = createLocalEngine({ host: LAPTOP });
    await laptop.ping();
    assert.equal(await laptop.imageStore(), 'graphdriver');
    const df = (last: string) =>
      `FROM busybox\nRUN head -c 1048576 /dev/urandom > /big && echo ${nonce} > /id\nRUN echo ${last} > /last\nCMD ["cat", "/last"]\n`;
    const build = async (last: string) => {
      const events = await collect(
        engine.build(request(context({ Dockerfile: df(last) })), AbortSignal.timeout(120_000)),
      );
      const r = result(events);
      assert.equal(r.ok, true, r.error);
      return r.imageId;
    };
    const a = await build(`first-${nonce}`);
    const full = engine.exportImage(a, new Set(), true, AbortSignal.timeout(60_000));
    const loadedA = await laptop.load(full.stream);
    const sa = await full.summary;
    assert.equal(sa.layersSent, sa.layersTotal);
    assert.equal(loadedA.bytes, sa.archiveBytes);
    assert.ok(sa.archiveBytes > 1_048_576);
    await laptop.tag(a, [`depot-test/export:a-${nonce}`]);
    assert.equal(docker(LAPTOP, 'run', '--rm', `depot-test/export:a-${nonce}`).trim(), `first-${nonce}`);

    const b = await build(`second-${nonce}`);
    const infoB = await engine.inspectImage(b);
    assert.ok(infoB);
    const have = await laptop.chainIds();
    const part = engine.exportImage(b, have, false, AbortSignal.timeout(60_000));
    const loadedB = await laptop.load(part.stream);
    const sb = await part.summary;
    assert.equal(sb.layersTotal, infoB.diffIds.length);
    assert.equal(sb.layersSent, 1);
    assert.equal(sb.imageSize, infoB.size);
    assert.equal(loadedB.bytes, sb.archiveBytes);
    // One small layer (a 1.5 KiB tar) plus config, v1 json and the manifest: far below the 1 MiB layer.
    assert.ok(sb.archiveBytes < 64 * 1024, `archive ${sb.archiveBytes} bytes`);
    assert.ok(await laptop.hasImage(b));
    t.diagnostic(`full export ${JSON.stringify(sa)}; partial export ${JSON.stringify(sb)}`);
    await laptop.tag(b, [`depot-test/export:b-${nonce}`]);
    assert.equal(docker(LAPTOP, 'run', '--rm', `depot-test/export:b-${nonce}`).trim(), `second-${nonce}`);

    // A second export of the same image uses the v1id cache and sends the same.
    const again = engine.exportImage(b, have, false, AbortSignal.timeout(60_000));
    await laptop.load(again.stream);
    assert.equal((await again.summary).layersSent, 1);
  });
});
