import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createContextTar,
  createDockerEngine,
  type Engine,
  type EngineEvent,
} from '../../builder-host/src/engine/index.js';
import { createEngineApi } from '../../src/engine-api/index.js';
import { manifestOf } from './context-helpers.js';
import { DOCKER } from './harness.js';

// The emulated arm64 builder started by scripts/with-engines.sh: an x86_64 dockerd whose
// busybox:latest is arm64 (scripts/arm64-base.sh) and whose RUN steps run through qemu binfmt.
const ARM64 = process.env.DEPOT_TEST_ARM64_ENGINE ?? '';
const skip = ARM64
  ? false
  : `DEPOT_TEST_ARM64_ENGINE unset: no arm64 engine (${
      process.env.DEPOT_TEST_ARM64_UNAVAILABLE ||
      'run through scripts/with-engines.sh, which needs qemu binfmt for aarch64'
    })`;

interface ImageJson {
  Id?: string;
  Os?: string;
  Architecture?: string;
  Variant?: string;
}

const nonce = randomBytes(6).toString('hex');
let work: string;
let engine: Engine;
const tags: string[] = [];

async function image(ref: string): Promise<ImageJson | undefined> {
  return createEngineApi(ARM64).json<ImageJson>(
    { method: 'GET', path: `/images/${encodeURIComponent(ref)}/json`, allow: [404] },
    `inspect of ${ref}`,
  );
}

async function collect(it: AsyncIterable<EngineEvent>): Promise<EngineEvent[]> {
  const out: EngineEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

describe('arm64 engine (qemu-emulated dockerd)', { skip }, () => {
  before(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'depot-arm64-test-'));
    engine = createDockerEngine({ host: ARM64, cacheDir: path.join(work, 'cache') });
  });
  after(() => {
    for (const t of tags) {
      try {
        execFileSync(DOCKER, ['image', 'rm', '-f', t], {
          env: { ...process.env, DOCKER_HOST: ARM64 },
          stdio: 'ignore',
        });
      } catch {}
    }
    rmSync(work, { recursive: true, force: true });
  });

  test('the base image busybox:latest is arm64', async () => {
    const img = await image('busybox:latest');
    assert.ok(img, 'busybox:latest present (scripts/engines.sh base builder-arm64)');
    assert.equal(img.Os, 'linux');
    assert.equal(img.Architecture, 'arm64');
    assert.equal(img.Variant, 'v8');
  });

  test('a linux/arm64 build runs its RUN steps as aarch64 and makes an arm64 image', async () => {
    const dir = mkdtempSync(path.join(work, 'ctx-'));
    writeFileSync(
      path.join(dir, 'Dockerfile'),
      `FROM busybox\nRUN echo ${nonce} && uname -m > /m && cat /m\n`,
    );
    const m = manifestOf(dir);
    const t = createContextTar(m.entries, m.openBlob);
    const tag = `depot-test/arm64:${nonce}`;
    tags.push(tag);
    const events = await collect(
      engine.build(
        {
          context: t.stream,
          dockerfile: 'Dockerfile',
          buildArgs: {},
          target: '',
          // Needed: BuildKit in dockerd 20.10 defaults to the daemon's platform (linux/amd64),
          // finds no amd64 busybox locally and goes to Docker Hub.
          platform: 'linux/arm64',
          tags: [tag],
          noCache: false,
          pull: false,
          labels: {},
          buildId: `arm64-${nonce}`,
        },
        AbortSignal.timeout(180_000),
      ),
    );
    const result = events.at(-1);
    assert.equal(result?.type, 'result');
    assert.ok(result.type === 'result' && result.ok, result.type === 'result' ? result.error : '');
    const logs = events
      .filter((e) => e.type === 'log')
      .map((e) => (e as { data: Buffer }).data.toString('utf8'))
      .join('');
    assert.match(logs, /^aarch64$/m, 'RUN saw an aarch64 machine');

    const img = await image(tag);
    assert.ok(img, `${tag} present`);
    assert.equal(img.Id, result.imageId);
    assert.equal(img.Os, 'linux');
    assert.equal(img.Architecture, 'arm64');

    const out = execFileSync(
      DOCKER,
      ['run', '--rm', '--platform', 'linux/arm64', '--network', 'none', tag, 'cat', '/m'],
      {
        encoding: 'utf8',
        env: { ...process.env, DOCKER_HOST: ARM64 },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    assert.equal(out.trim(), 'aarch64');
  });
});
