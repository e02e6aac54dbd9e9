import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BUILDER_BIN,
  type BuilderProcess,
  depot,
  docker,
  LAPTOP_ENGINE,
  ROOT,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';

const ARM64_ENGINE = process.env.DEPOT_TEST_ARM64_ENGINE ?? '';
const skip =
  skipReason() ??
  (ARM64_ENGINE
    ? undefined
    : `no arm64 engine: ${process.env.DEPOT_TEST_ARM64_UNAVAILABLE || 'DEPOT_TEST_ARM64_ENGINE is unset'}`);

const INDEX = 'application/vnd.docker.distribution.manifest.list.v2+json';
const ACCEPT = [
  INDEX,
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');

async function get(url: string): Promise<{ type: string; json: Record<string, unknown> }> {
  const res = await fetch(url, { headers: { Accept: ACCEPT } });
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  return { type: res.headers.get('content-type') ?? '', json: (await res.json()) as Record<string, unknown> };
}

describe('native multi-arch through a fleet of two builders', { skip }, () => {
  const fleetDir = tempDir('fleet');
  const fleet = `file:${join(fleetDir, 'fleet.json')}`;
  const secret = `file:${join(fleetDir, 'team-secret')}`;
  const registryName = `multiarch-${process.pid}`;
  let registry = '';
  let amd64: BuilderProcess;
  let arm64: BuilderProcess;
  let token = '';

  before(async () => {
    writeFileSync(join(fleetDir, 'team-secret'), randomBytes(32).toString('hex'), { mode: 0o600 });
    const r = spawnSync(join(ROOT, 'scripts', 'registry.sh'), ['start', registryName], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    registry = r.stdout.trim();
    const common = ['--fleet', fleet, '--team-secret', secret];
    amd64 = await startBuilder({ args: [...common, '--platform', 'linux/amd64'] });
    arm64 = await startBuilder({ engine: ARM64_ENGINE, args: [...common, '--platform', 'linux/arm64'] });
    const t = spawnSync(
      process.execPath,
      [BUILDER_BIN, 'token', 'create', '--team-secret', secret, '--project', 'mp', '--user', 'ana'],
      { encoding: 'utf8' },
    );
    assert.equal(t.status, 0, t.stderr);
    token = t.stdout.trim();
  });
  after(async () => {
    await amd64?.stop();
    await arm64?.stop();
    spawnSync(join(ROOT, 'scripts', 'registry.sh'), ['stop', registryName]);
  });

  test('builders ls shows both builders, up, with their platforms', async () => {
    const r = await depot(['builders', 'ls', '--json', '--fleet', fleet, '--token', token]);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { id: string; platforms: string[]; health: string }[];
    assert.equal(rows.length, 2);
    assert.deepEqual(rows.map((x) => x.platforms.join()).sort(), ['linux/amd64', 'linux/arm64']);
    for (const row of rows) assert.equal(row.health, 'up');
  });

  test('a two-platform build with a RUN step pushes one index; each child runs natively', async () => {
    const ctx = tempDir('multiarch');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN uname -m > /arch\nCMD ["cat", "/arch"]\n');
    const repo = `${registry}/mp/app`;
    const r = await depot([
      'build',
      '--fleet',
      fleet,
      '--token',
      token,
      '--project',
      'mp',
      '--progress',
      'plain',
      '--platform',
      'linux/amd64,linux/arm64',
      '-t',
      `${repo}:1`,
      '--push',
      ctx,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\[linux\/arm64\]/);

    const index = await get(`http://${registry}/v2/mp/app/manifests/1`);
    assert.equal(index.json.mediaType, INDEX);
    const manifests = index.json.manifests as {
      digest: string;
      platform: { architecture: string; os: string };
    }[];
    assert.deepEqual(manifests.map((m) => m.platform.architecture).sort(), ['amd64', 'arm64']);
    // The registry holds the user's tag and no per-platform one.
    assert.deepEqual((await get(`http://${registry}/v2/mp/app/tags/list`)).json.tags, ['1']);
    for (const m of manifests) {
      const child = await get(`http://${registry}/v2/mp/app/manifests/${m.digest}`);
      const config = child.json.config as { digest: string };
      const blob = await get(`http://${registry}/v2/mp/app/blobs/${config.digest}`);
      assert.equal(blob.json.architecture, m.platform.architecture);
      // Run each child on the laptop engine (arm64 through its binfmt emulation).
      const platform = `linux/${m.platform.architecture}`;
      const run = docker(LAPTOP_ENGINE, ['run', '--rm', '--platform', platform, `${repo}@${m.digest}`]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim(), m.platform.architecture === 'arm64' ? 'aarch64' : 'x86_64');
    }
  });

  test('through the local agent: each platform syncs what a fresh walk sees, one channel per builder', async () => {
    const ctx = tempDir('multiarch-agent');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY . /ctx\nRUN uname -m > /arch\n');
    writeFileSync(join(ctx, 'a.txt'), 'one\n');
    const agentEnv = { DEPOT_AGENT: '1', DEPOT_AGENT_DIR: tempDir('multiarch-agent-dir') };
    const build = async () => {
      const r = await depot(
        [
          'build',
          '--fleet',
          fleet,
          '--token',
          token,
          '--project',
          'mp',
          '--progress',
          'json',
          '--platform',
          'linux/amd64,linux/arm64',
          ctx,
        ],
        agentEnv,
      );
      assert.equal(r.code, 0, r.stderr);
      const acked = r.stdout
        .split('\n')
        .filter((l) => l.includes('"type":"sync/acked"'))
        .map((l) => JSON.parse(l) as { platform: string; snapshotId: string });
      assert.deepEqual(acked.map((a) => a.platform).sort(), ['linux/amd64', 'linux/arm64']);
      return acked.map((a) => a.snapshotId);
    };
    try {
      await build();
      writeFileSync(join(ctx, 'a.txt'), 'two\n');
      const ids = await build();
      const fresh = await depot(['context', 'ls', '--id', ctx]);
      assert.equal(fresh.code, 0, fresh.stderr);
      assert.deepEqual(ids, [fresh.stdout.trim(), fresh.stdout.trim()]);
      const status = await depot(['agent', 'status', '--json'], agentEnv);
      const s = JSON.parse(status.stdout) as { builders: number; contexts: { contextDir: string }[] };
      assert.equal(s.builders, 2, status.stdout);
      assert.ok(
        s.contexts.some((c) => c.contextDir === ctx),
        status.stdout,
      );
    } finally {
      await depot(['agent', 'stop'], agentEnv);
    }
  });

  test('--smart-cache on two platforms: one plan, each native build reuses its install after a source edit', async () => {
    const ctx = tempDir('multiarch-smart');
    const nonce = `${process.pid}-${Date.now()}`;
    // A fixture npm shipped in the context: reads the manifests, writes node_modules with the arch.
    writeFileSync(
      join(ctx, 'npm'),
      '#!/bin/sh\nset -e\nmkdir -p node_modules\ncat package.json package-lock.json > node_modules/.m\nuname -m > node_modules/.arch\n',
      { mode: 0o755 },
    );
    writeFileSync(
      join(ctx, 'Dockerfile'),
      'FROM busybox\nCOPY npm /usr/local/bin/npm\nWORKDIR /app\nCOPY . .\nRUN npm ci\n',
    );
    writeFileSync(join(ctx, 'package.json'), `{"name":"mp-${nonce}"}\n`);
    writeFileSync(join(ctx, 'package-lock.json'), '{"lockfileVersion":3}\n');
    writeFileSync(join(ctx, 'index.js'), 'one\n');
    const build = async (progress = 'json') => {
      const r = await depot([
        'build',
        '--fleet',
        fleet,
        '--token',
        token,
        '--project',
        'mp',
        '--progress',
        progress,
        '--platform',
        'linux/amd64,linux/arm64',
        '--smart-cache',
        ctx,
      ]);
      assert.equal(r.code, 0, r.stderr);
      if (progress === 'json')
        return r.stdout
          .split('\n')
          .filter((l) => l.includes('"type":"step/reused"'))
          .map((l) => (JSON.parse(l) as { platform: string }).platform)
          .sort();
      assert.equal(
        (
          r.stderr.match(
            /smart cache: Dockerfile:4: npm ci \(line 5\) runs on package\.json, package-lock\.json alone/g,
          ) ?? []
        ).length,
        1,
        'the plan is said once',
      );
      return r.stdout
        .split('\n')
        .filter((l) => l.includes('"type":"step/reused"'))
        .map((l) => (JSON.parse(l) as { platform: string }).platform)
        .sort();
    };
    assert.deepEqual(await build(), [], 'the first build installs on each platform');
    writeFileSync(join(ctx, 'index.js'), `two ${nonce}\n`);
    assert.deepEqual(await build(), ['linux/amd64', 'linux/arm64']);
  });

  test('an unknown platform, and a platform no builder serves, are clear errors', async () => {
    let r = await depot(['build', '--fleet', fleet, '--token', token, '--platform', 'linux/sparc9', '.']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.trim(), /unknown platform "linux\/sparc9"/);
    const ctx = tempDir('s390x');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\n');
    r = await depot(['build', '--fleet', fleet, '--token', token, '--platform', 'linux/s390x', ctx]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no live builder for linux\/s390x/);
    assert.match(r.stderr, /linux\/amd64/);
  });
});
