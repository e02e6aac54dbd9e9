/**
 * `depot build` through the session driver, end to end: `--secret` (and where the value must not
 * end up), private base images with credentials from the Docker config, the Dockerfile kept out
 * of the context, and a builder on the tar driver refusing what it cannot do.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BUILDER_ENGINE,
  type BuilderProcess,
  buildOn,
  DOCKER,
  depot,
  filesContaining,
  imageLayers,
  LAPTOP_ENGINE,
  registry,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';

const skip = skipReason();
const PASSWORD = `pw-${process.pid}-Kx3v`;
const nonce = `${process.pid}-${Date.now()}`;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function dockerOn(engine: string, args: string[]): ReturnType<typeof spawnSync> {
  return spawnSync(DOCKER, args, { env: { ...process.env, DOCKER_HOST: engine }, encoding: 'utf8' });
}

describe('depot build with the session driver', { skip }, () => {
  let builder: BuilderProcess;
  let tarBuilder: BuilderProcess;
  let token = '';
  let tarToken = '';
  const project = `session-${process.pid}`;
  const regName = `session-auth-${process.pid}`;
  let authReg = '';
  const dockerConfig = tempDir('session-dockercfg');
  const emptyDockerConfig = tempDir('session-nocfg');

  before(async () => {
    builder = await startBuilder();
    tarBuilder = await startBuilder({ args: ['--driver', 'tar'] });
    token = builder.token(project);
    tarToken = tarBuilder.token(project);
    authReg = registry('start', regName, ['--htpasswd', `alice:${PASSWORD}`]);
    mkdirSync(dockerConfig, { recursive: true });
    writeFileSync(
      join(dockerConfig, 'config.json'),
      JSON.stringify({ auths: { [authReg]: { auth: Buffer.from(`alice:${PASSWORD}`).toString('base64') } } }),
    );
    writeFileSync(join(emptyDockerConfig, 'config.json'), '{}');
  });
  after(async () => {
    await builder?.stop();
    await tarBuilder?.stop();
    try {
      registry('stop', regName);
    } catch {
      // already gone
    }
  });

  const build = (b: BuilderProcess, tok: string, args: string[], env: Record<string, string> = {}) =>
    depot([...buildOn(b.url, tok, project), ...args], {
      DOCKER_CONFIG: emptyDockerConfig,
      ...env,
    });

  test('--secret: the step reads it; it is in no layer, no builder file, no log line, no output', async () => {
    const value = `npm-token-${nonce}`;
    const ctx = tempDir('secret-ctx');
    const secretFile = join(tempDir('secret-src'), 'npmrc');
    writeFileSync(secretFile, value);
    writeFileSync(
      join(ctx, 'Dockerfile'),
      [
        'FROM busybox',
        // The Dockerfile names only the value's digest: it is stored and logged like any Dockerfile.
        `RUN --mount=type=secret,id=npm cat /run/secrets/npm > /dev/null && test "$(sha256sum < /run/secrets/npm | cut -d' ' -f1)" = ${sha256(value)} && echo secret-ok-${nonce}`,
        `RUN --mount=type=secret,id=env test "$(cat /run/secrets/env)" = from-env-${nonce}`,
        '',
      ].join('\n'),
    );
    const tag = `depot-secret:${process.pid}`;
    const r = await build(
      builder,
      token,
      [
        '--secret',
        `id=npm,src=${secretFile}`,
        '--secret',
        'id=env,env=DEPOT_TEST_SECRET_ENV',
        '-t',
        tag,
        '--load',
        ctx,
      ],
      { DEPOT_TEST_SECRET_ENV: `from-env-${nonce}` },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`secret-ok-${nonce}`));
    for (const layer of await imageLayers(LAPTOP_ENGINE, tag))
      assert.equal(layer.includes(Buffer.from(value)), false, 'the secret is in no layer');
    assert.deepEqual(filesContaining(builder.dataDir, value), [], 'no file under the builder data dir');
    assert.equal(builder.logs().includes(value), false, 'no builder log line');
    assert.equal(r.stderr.includes(value) || r.stdout.includes(value), false, 'not in the client output');
    dockerOn(LAPTOP_ENGINE, ['rmi', '-f', tag]);
  });

  test('--secret with a bad source: one clear line, non-zero exit, nothing built', async () => {
    const ctx = tempDir('secret-bad');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\n');
    const r = await build(builder, token, ['--secret', `id=npm,src=${join(ctx, 'missing')}`, ctx]);
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /secret.*npm/i);
  });

  test('a builder on the tar driver refuses --secret with a clear message', async () => {
    const ctx = tempDir('secret-tar');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\n');
    const r = await build(tarBuilder, tarToken, ['--secret', 'id=x,env=HOME', ctx]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /cannot serve --secret/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  test('FROM a private image: builds with Docker config credentials, fails clearly without', async () => {
    const base = `${authReg}/private/base:${process.pid}`;
    const baseCtx = tempDir('private-base');
    writeFileSync(join(baseCtx, 'Dockerfile'), 'FROM busybox\nCOPY hello.txt /hello.txt\n');
    writeFileSync(join(baseCtx, 'hello.txt'), `private base ${nonce}\n`);
    const pushed = await build(builder, token, ['-t', base, '--push', baseCtx], {
      DOCKER_CONFIG: dockerConfig,
    });
    assert.equal(pushed.code, 0, pushed.stderr);
    // The builder's engine must fetch it from the registry, not find it locally.
    dockerOn(BUILDER_ENGINE, ['rmi', '-f', base]);

    const ctx = tempDir('private-from');
    writeFileSync(
      join(ctx, 'Dockerfile'),
      `FROM ${base}\nRUN cat /hello.txt && echo from-private-${nonce}\n`,
    );
    const denied = await build(builder, token, ['--pull', ctx], { DOCKER_CONFIG: emptyDockerConfig });
    assert.notEqual(denied.code, 0);
    assert.match(
      denied.stderr,
      /^depot: .*401 Unauthorized \(the registry refused the base image: run docker login 127\.0\.0\.1:\d+;/m,
    );
    dockerOn(BUILDER_ENGINE, ['rmi', '-f', base]);

    const ok = await build(builder, token, ['--pull', ctx], { DOCKER_CONFIG: dockerConfig });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, new RegExp(`from-private-${nonce}`));
  });

  test('the Dockerfile stays out of the context: outside it, or excluded by .dockerignore', async () => {
    const ctx = tempDir('df-ctx');
    writeFileSync(join(ctx, 'a.txt'), 'a\n');
    writeFileSync(join(ctx, '.dockerignore'), 'Dockerfile\n.dockerignore\n');
    writeFileSync(
      join(ctx, 'Dockerfile'),
      `FROM busybox\nCOPY . /ctx\nRUN ls -A /ctx && echo listed-${nonce}\n`,
    );
    const outside = join(tempDir('df-outside'), 'Build.dockerfile');
    writeFileSync(outside, `FROM busybox\nCOPY . /ctx\nRUN ls -A /ctx && echo outside-${nonce}\n`);
    for (const [args, marker] of [
      [[ctx], `listed-${nonce}`],
      [['-f', outside, ctx], `outside-${nonce}`],
    ] as const) {
      const r = await build(builder, token, [...args]);
      assert.equal(r.code, 0, r.stderr);
      const listing = r.stderr
        .split('\n')
        .map(
          (l) => /^#\d+ \d+\.\d+ (a\.txt|\.depot|Dockerfile|\.dockerignore|Build\.dockerfile)$/.exec(l)?.[1],
        )
        .filter(Boolean);
      assert.deepEqual(listing, ['a.txt'], `${marker}: ${r.stderr}`);
    }
  });

  test("--ssh default: a RUN step uses the client's real ssh-agent through the builder", async () => {
    const dir = tempDir('ssh-agent');
    const sock = join(dir, 'agent.sock');
    const agent = spawnSync('ssh-agent', ['-a', sock], { encoding: 'utf8' });
    assert.equal(agent.status, 0, agent.stderr);
    const pid = /SSH_AGENT_PID=(\d+)/.exec(agent.stdout)?.[1];
    try {
      const key = join(dir, 'id_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `depot-${nonce}`, '-f', key]);
      execFileSync('ssh-add', [key], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      const fingerprint = execFileSync('ssh-keygen', ['-lf', `${key}.pub`], { encoding: 'utf8' }).split(
        ' ',
      )[1]!;

      // ssh-add and the libraries it links, at their own paths, on top of busybox.
      const ctx = tempDir('ssh-ctx');
      const bin = execFileSync('sh', ['-c', 'command -v ssh-add'], { encoding: 'utf8' }).trim();
      const libs = [...execFileSync('ldd', [bin], { encoding: 'utf8' }).matchAll(/(\/\S+\.so[^\s]*)/g)].map(
        (m) => m[1]!,
      );
      for (const f of [bin, ...libs]) {
        mkdirSync(join(ctx, 'tools', f, '..'), { recursive: true });
        writeFileSync(join(ctx, 'tools', f), readFileSync(f), { mode: 0o755 });
      }
      writeFileSync(
        join(ctx, 'Dockerfile'),
        `FROM busybox\nCOPY tools/ /\nRUN --mount=type=ssh ssh-add -l && echo ssh-ok-${nonce}\n`,
      );
      const r = await build(builder, token, ['--ssh', 'default', ctx], { SSH_AUTH_SOCK: sock });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stderr.includes(fingerprint), r.stderr);
      assert.match(r.stderr, new RegExp(`ssh-ok-${nonce}`));

      const missing = await build(builder, token, ['--ssh', `default=${join(dir, 'nope.sock')}`, ctx]);
      assert.notEqual(missing.code, 0);
      assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
    } finally {
      if (pid) process.kill(Number(pid));
    }
  });

  test('two builds of one project at once: one shared key, each sees its own context', async () => {
    const dirs = ['one', 'two'].map((name) => {
      const ctx = tempDir(`conc-${name}`);
      for (let i = 0; i < 30; i++) writeFileSync(join(ctx, `f${i}.txt`), `${name} ${i} ${nonce}\n`);
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY . /ctx\nRUN cat /ctx/f0.txt && sleep 1\n');
      return { name, ctx };
    });
    const results = await Promise.all(dirs.map((d) => build(builder, token, ['--no-cache', d.ctx])));
    for (const [i, r] of results.entries()) {
      assert.equal(r.code, 0, r.stderr);
      const name = dirs[i]!.name;
      const other = dirs[1 - i]!.name;
      assert.match(r.stderr, new RegExp(`^#\\d+ [\\d.]+ ${name} 0 ${nonce}$`, 'm'));
      assert.doesNotMatch(r.stderr, new RegExp(`${other} 0 ${nonce}`));
    }
  });
});
