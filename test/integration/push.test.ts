import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type BuilderProcess,
  buildOn,
  DOCKER,
  depot,
  filesContaining,
  LAPTOP_ENGINE,
  registry,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';

const skip = skipReason();
const ARM64_ENGINE = process.env.DEPOT_TEST_ARM64_ENGINE ?? '';
const PASSWORD = `pw-${process.pid}-Zq8x`;

const ACCEPT = [
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');

async function registryGet(
  url: string,
  auth?: string,
): Promise<{ status: number; type: string; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    headers: {
      Accept: ACCEPT,
      ...(auth ? { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}),
    },
  });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    json: res.ok ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

/** Architecture recorded in the config of a pushed child manifest. */
async function childArchitecture(reg: string, path: string, digest: string, auth?: string): Promise<string> {
  const m = await registryGet(`http://${reg}/v2/${path}/manifests/${digest}`, auth);
  const config = (m.json.config as { digest: string }).digest;
  const c = await registryGet(`http://${reg}/v2/${path}/blobs/${config}`, auth);
  return String(c.json.architecture);
}

describe('depot build --push', { skip }, () => {
  let amd: BuilderProcess;
  let second: BuilderProcess;
  let reg = '';
  let authReg = '';
  const names = { anon: `push-anon-${process.pid}`, auth: `push-auth-${process.pid}` };
  const project = `push-${process.pid}`;
  let amdToken = '';
  let secondToken = '';
  const ctx = tempDir('push-ctx');
  const scratchCtx = tempDir('push-scratch');
  const dockerConfig = tempDir('push-dockercfg');
  const secondPlatform = 'linux/arm64';

  before(async () => {
    reg = registry('start', names.anon);
    authReg = registry('start', names.auth, ['--htpasswd', `alice:${PASSWORD}`]);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt\n');
    writeFileSync(join(ctx, 'hello.txt'), `hello ${process.pid} ${Date.now()}\n`);
    // FROM scratch with no RUN builds for any platform on any engine, without emulation.
    writeFileSync(join(scratchCtx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    writeFileSync(join(scratchCtx, 'hello.txt'), `multi ${process.pid} ${Date.now()}\n`);
    mkdirSync(dockerConfig, { recursive: true });
    writeFileSync(
      join(dockerConfig, 'config.json'),
      JSON.stringify({ auths: { [authReg]: { auth: Buffer.from(`alice:${PASSWORD}`).toString('base64') } } }),
    );
    amd = await startBuilder();
    // The second builder announces linux/arm64 (clients refuse a platform a builder does not announce).
    second = await startBuilder({
      args: [...(ARM64_ENGINE ? ['--engine', ARM64_ENGINE] : []), '--platform', secondPlatform],
    });
    amdToken = amd.token(project);
    secondToken = second.token(project);
    // Per-builder tokens for DEPOT_BUILDERS_BY_PLATFORM come from `depot login`.
    for (const [b, t] of [
      [second, secondToken],
      [amd, amdToken],
    ] as const) {
      const r = await depot(['login', '--builder', b.url, '--token', t, '--project', project]);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    await amd?.stop();
    await second?.stop();
    for (const n of Object.values(names)) {
      try {
        registry('stop', n);
      } catch {
        // already gone
      }
    }
  });

  const build = (args: string[], env: Record<string, string> = {}) =>
    depot([...buildOn(amd.url, amdToken, project), ...args], env);
  const byPlatform = () => `linux/amd64=${amd.url},${secondPlatform}=${second.url}`;

  test('single platform: the builder pushes the tag; the registry serves its manifest', async () => {
    const r = await build(['-t', `${reg}/push/app:1`, '--push', ctx]);
    assert.equal(r.code, 0, r.stderr);
    const m = /pushed (\S+):1@(sha256:[0-9a-f]{64})/.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.equal(m[1], `${reg}/push/app`);
    const got = await registryGet(`http://${reg}/v2/push/app/manifests/1`);
    assert.equal(got.status, 200);
    assert.equal(got.type, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(await childArchitecture(reg, 'push/app', m[2]!), 'amd64');
  });

  test('two platforms on two builders: one manifest list, each child of its architecture; --load takes the host one', async () => {
    const tag = `${reg}/push/multi:1`;
    const r = await build(
      ['--platform', `linux/amd64,${secondPlatform}`, '-t', tag, '--push', '--load', scratchCtx],
      {
        DEPOT_BUILDERS_BY_PLATFORM: byPlatform(),
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^\[linux\/amd64\] #\d/m);
    assert.match(r.stderr, /^\[linux\/arm64\] #\d/m);
    assert.match(
      r.stderr,
      /pushed \S+\/push\/multi:1@sha256:[0-9a-f]{64} \(manifest list: linux\/amd64, linux\/arm64\)/,
    );
    assert.match(r.stderr, /loads only this machine's platform: linux\/amd64/);
    const idx = await registryGet(`http://${reg}/v2/push/multi/manifests/1`);
    assert.equal(idx.status, 200);
    assert.equal(idx.type, 'application/vnd.docker.distribution.manifest.list.v2+json');
    assert.equal(idx.json.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
    const manifests = idx.json.manifests as Array<{
      digest: string;
      platform: { os: string; architecture: string };
    }>;
    assert.equal(manifests.length, 2);
    assert.deepEqual(
      manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`),
      ['linux/amd64', 'linux/arm64'],
    );
    for (const m of manifests)
      assert.equal(await childArchitecture(reg, 'push/multi', m.digest), m.platform.architecture);
    // Only the user's tag remains: the children are reachable through the index, by digest.
    assert.deepEqual((await registryGet(`http://${reg}/v2/push/multi/tags/list`)).json.tags, ['1']);
    const inspect = spawnSync(DOCKER, ['image', 'inspect', '-f', '{{.Architecture}}', tag], {
      env: { ...process.env, DOCKER_HOST: LAPTOP_ENGINE },
      encoding: 'utf8',
    });
    assert.equal(inspect.stdout.trim(), 'amd64', inspect.stderr);
  });

  test('two platforms on one builder engine: each child is its own platform; only the user tag remains', async () => {
    // Both platforms' images are tagged with the final tag on the same engine: each is pushed in turn.
    const both = await startBuilder({ args: ['--platform', 'linux/amd64,linux/arm64'] });
    try {
      const token = both.token(project);
      const r = await depot(
        [
          ...buildOn(both.url, token, project),
          '--platform',
          'linux/amd64,linux/arm64',
          '-t',
          `${reg}/push/one-engine:1`,
          '-t',
          `${reg}/push/one-engine:latest`,
          '--push',
          scratchCtx,
        ],
        { DEPOT_BUILDERS_BY_PLATFORM: `linux/amd64=${both.url},linux/arm64=${both.url}` },
      );
      assert.equal(r.code, 0, r.stderr);
      for (const tag of ['1', 'latest']) {
        const idx = await registryGet(`http://${reg}/v2/push/one-engine/manifests/${tag}`);
        const manifests = idx.json.manifests as Array<{ digest: string; platform: { architecture: string } }>;
        assert.deepEqual(manifests.map((m) => m.platform.architecture).sort(), ['amd64', 'arm64']);
        for (const m of manifests)
          assert.equal(await childArchitecture(reg, 'push/one-engine', m.digest), m.platform.architecture);
      }
      const tags = (await registryGet(`http://${reg}/v2/push/one-engine/tags/list`)).json.tags as string[];
      assert.deepEqual(tags.sort(), ['1', 'latest']);
    } finally {
      await both.stop();
    }
  });

  test('two platforms with a RUN step on a native arm64 engine', {
    skip: !ARM64_ENGINE && 'DEPOT_TEST_ARM64_ENGINE not set',
  }, async () => {
    const runCtx = tempDir('push-run');
    // A per-run marker: engines (and their BuildKit cache) outlive one test run, and a cached RUN prints nothing.
    writeFileSync(
      join(runCtx, 'Dockerfile'),
      `FROM busybox\nRUN echo run-${process.pid}-${Date.now()} >/dev/null && uname -m > /arch.txt && cat /arch.txt\n`,
    );
    const r = await build(
      ['--platform', 'linux/amd64,linux/arm64', '-t', `${reg}/push/run:1`, '--push', runCtx],
      {
        DEPOT_BUILDERS_BY_PLATFORM: byPlatform(),
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^\[linux\/amd64\] #\d+ [\d.]+ x86_64$/m);
    assert.match(r.stderr, /^\[linux\/arm64\] #\d+ [\d.]+ aarch64$/m);
    const idx = await registryGet(`http://${reg}/v2/push/run/manifests/1`);
    const manifests = idx.json.manifests as Array<{ digest: string; platform: { architecture: string } }>;
    for (const m of manifests)
      assert.equal(await childArchitecture(reg, 'push/run', m.digest), m.platform.architecture);
  });

  test('registry with htpasswd: no credentials → denied, non-zero exit', async () => {
    const r = await build(['-t', `${authReg}/priv/app:1`, '--push', ctx], {
      DOCKER_CONFIG: tempDir('push-emptycfg'),
    });
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      new RegExp(`depot: push to ${authReg}/priv/app:1 denied: authentication required`),
    );
  });

  test('registry with htpasswd: credentials from DOCKER_CONFIG push one and several platforms; the secret stays off the builder', async () => {
    const single = await build(['-t', `${authReg}/priv/app:1`, '--push', ctx], {
      DOCKER_CONFIG: dockerConfig,
    });
    assert.equal(single.code, 0, single.stderr);
    const got = await registryGet(`http://${authReg}/v2/priv/app/manifests/1`, `alice:${PASSWORD}`);
    assert.equal(got.status, 200);
    const multi = await build(
      ['--platform', `linux/amd64,${secondPlatform}`, '-t', `${authReg}/priv/multi:1`, '--push', scratchCtx],
      { DOCKER_CONFIG: dockerConfig, DEPOT_BUILDERS_BY_PLATFORM: byPlatform() },
    );
    assert.equal(multi.code, 0, multi.stderr);
    const idx = await registryGet(`http://${authReg}/v2/priv/multi/manifests/1`, `alice:${PASSWORD}`);
    assert.equal((idx.json.manifests as unknown[]).length, 2);
    for (const b of [amd, second]) {
      assert.deepEqual(filesContaining(b.dataDir, PASSWORD), []);
      assert.ok(!b.logs().includes(PASSWORD), 'password in builder logs');
      assert.ok(!b.logs().includes(Buffer.from(`alice:${PASSWORD}`).toString('base64')));
    }
    assert.ok(!single.stderr.includes(PASSWORD) && !multi.stderr.includes(PASSWORD));
  });

  test('unreachable registry: a clear message, non-zero exit', async () => {
    const r = await build(['-t', '127.0.0.1:1/nowhere/app:1', '--push', ctx]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /depot: push to 127\.0\.0\.1:1\/nowhere\/app:1 failed: registry unreachable: .*connection refused/,
    );
  });

  test('--push without a tag is refused', async () => {
    const r = await build(['--push', ctx]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--push needs at least one -t/);
  });
});
