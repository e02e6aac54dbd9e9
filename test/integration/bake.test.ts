/**
 * `depot bake` builds against a real builder and dockerd: HCL, JSON and Compose files; targets that
 * share a context sync it once (the bytes counted from each target's sync/acked event); every
 * target's events carry its name; the metadata file has one entry per target; --load brings each
 * image into the local engine under its tags.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type BuilderProcess,
  DEPOT_BIN,
  depot,
  docker,
  isolatedEnv,
  LAPTOP_ENGINE,
  NO_TMUX,
  run,
  skipReason,
  startBuilder,
  tempDir,
  terminalCommand,
  tmuxServer,
  until,
} from './harness.js';

const skip = skipReason();

describe('depot bake', { skip }, () => {
  let builder: BuilderProcess;
  let env: Record<string, string>;
  const nonce = `${process.pid}-${Date.now()}`;
  const tags: string[] = [];

  before(async () => {
    builder = await startBuilder();
    env = { DEPOT_BUILDER: builder.url, DEPOT_TOKEN: builder.token(`bake-${process.pid}`) };
  });
  after(async () => {
    await builder?.stop();
    for (const t of tags) docker(LAPTOP_ENGINE, ['rmi', '-f', t]);
  });

  test('HCL: two targets of one context build in parallel and sync it once; events and metadata per target', async () => {
    const dir = tempDir('bake-hcl');
    const payload = randomBytes(1024 * 1024);
    writeFileSync(join(dir, 'big.bin'), payload);
    writeFileSync(
      join(dir, 'a.Dockerfile'),
      `FROM busybox\nCOPY . /ctx\nRUN echo a-${nonce} && wc -c /ctx/big.bin\n`,
    );
    writeFileSync(
      join(dir, 'b.Dockerfile'),
      `FROM busybox\nCOPY . /ctx\nRUN echo b-${nonce} && wc -c /ctx/big.bin\n`,
    );
    writeFileSync(
      join(dir, 'docker-bake.hcl'),
      `variable "TAG" { default = "dev" }
group "default" { targets = ["a", "b"] }
target "base" { context = "${dir}" }
target "a" {
  inherits = ["base"]
  dockerfile = "a.Dockerfile"
  tags = ["depot-it/bake-a:\${TAG}"]
}
target "b" {
  inherits = ["base"]
  dockerfile = "b.Dockerfile"
  args = { WHO = "b" }
}
`,
    );
    const meta = join(dir, 'meta.json');
    const r = await depot(
      ['bake', '-f', join(dir, 'docker-bake.hcl'), '--progress', 'json', '--metadata-file', meta],
      {
        ...env,
        TAG: nonce,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { target: string; type: string; bytesSent?: number; ok?: boolean });
    const sent = (t: string) =>
      events.filter((e) => e.target === t && e.type === 'sync/acked').map((e) => e.bytesSent ?? 0);
    assert.equal(sent('a').length, 1);
    assert.equal(sent('b').length, 1);
    assert.ok(sent('a')[0]! >= payload.length, `a synced the context: ${sent('a')}`);
    assert.ok(sent('b')[0]! < 64 * 1024, `b sent only what a had not: ${sent('b')} bytes`);
    for (const t of ['a', 'b'])
      assert.ok(
        events.some((e) => e.target === t && e.type === 'build/finished' && e.ok),
        t,
      );
    const m = JSON.parse(readFileSync(meta, 'utf8')) as Record<string, Record<string, string>>;
    assert.deepEqual(Object.keys(m).sort(), ['a', 'b']);
    assert.match(m.a!['containerimage.config.digest'] ?? '', /^sha256:/);
    assert.equal(m.a!['image.name'], `depot-it/bake-a:${nonce}`);
  });

  test('JSON and Compose files: --load brings each image in under its tags; plain lines carry [target]', async () => {
    const dir = tempDir('bake-compose');
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nARG MSG\nRUN echo "$MSG" > /msg\n');
    const webTag = `depot-it/bake-web:${process.pid}`;
    const apiTag = `depot-it/bake-api:${process.pid}`;
    tags.push(webTag, apiTag);
    writeFileSync(
      join(dir, 'compose.yaml'),
      `services:
  web:
    image: ${webTag}
    build:
      context: .
      args:
        MSG: web-${nonce}
  db:
    image: postgres
`,
    );
    // As buildx reads Compose: relative paths from the working directory (the project's).
    const compose = await run(
      'sh',
      ['-c', `cd "${dir}" && exec "${process.execPath}" "${DEPOT_BIN}" bake --load --progress plain`],
      { ...isolatedEnv(), DOCKER_HOST: LAPTOP_ENGINE, ...env },
    );
    assert.equal(compose.code, 0, compose.stderr);
    assert.match(compose.stderr, /^\[web\] #\d+ \[2\/2\] RUN echo "web-[^"]+" > \/msg$/m);
    assert.equal(
      docker(LAPTOP_ENGINE, ['run', '--rm', webTag, 'cat', '/msg']).stdout,
      `web-${nonce}\n`,
      'the compose service was built with its args and loaded under its image name',
    );

    writeFileSync(
      join(dir, 'docker-bake.json'),
      JSON.stringify({
        target: { api: { context: dir, args: { MSG: `api-${nonce}` }, tags: [apiTag] } },
      }),
    );
    const json = await depot(
      ['bake', '-f', join(dir, 'docker-bake.json'), 'api', '--load', '--progress', 'quiet'],
      env,
    );
    assert.equal(json.code, 0, json.stderr);
    assert.equal(docker(LAPTOP_ENGINE, ['run', '--rm', apiTag, 'cat', '/msg']).stdout, `api-${nonce}\n`);
  });

  test('a failing target fails the bake, named, after the others finish', async () => {
    const dir = tempDir('bake-fail');
    writeFileSync(join(dir, 'ok.Dockerfile'), `FROM busybox\nRUN echo ok-${nonce}\n`);
    writeFileSync(join(dir, 'bad.Dockerfile'), `FROM busybox\nRUN echo bad-${nonce} && exit 3\n`);
    writeFileSync(
      join(dir, 'docker-bake.hcl'),
      `group "default" { targets = ["ok", "bad"] }\ntarget "ok" {\n  context = "${dir}"\n  dockerfile = "ok.Dockerfile"\n}\ntarget "bad" {\n  context = "${dir}"\n  dockerfile = "bad.Dockerfile"\n}\n`,
    );
    const r = await depot(['bake', '-f', join(dir, 'docker-bake.hcl'), '--progress', 'plain'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\[ok\] steps: 2 total/);
    assert.match(r.stderr.trim().split('\n').at(-1) ?? '', /^depot: 1 of 2 targets failed: bad \(/);
  });

  test('a real terminal shows every target live in one view, each with its outcome at the end', {
    skip: NO_TMUX,
  }, async () => {
    const dir = tempDir('bake-tty');
    writeFileSync(join(dir, 'slow.Dockerfile'), `FROM busybox\nRUN sleep 3 && echo slow-${nonce}\n`);
    writeFileSync(join(dir, 'bad.Dockerfile'), `FROM busybox\nRUN echo bad-${nonce} && exit 3\n`);
    writeFileSync(
      join(dir, 'docker-bake.hcl'),
      `group "default" { targets = ["slow", "bad"] }\ntarget "slow" {\n  context = "${dir}"\n  dockerfile = "slow.Dockerfile"\n}\ntarget "bad" {\n  context = "${dir}"\n  dockerfile = "bad.Dockerfile"\n}\n`,
    );
    const term = tmuxServer('depot-bake');
    try {
      term.start(
        'bake',
        80,
        20,
        `${terminalCommand(['bake', '-f', join(dir, 'docker-bake.hcl')], env)}; echo EXIT=$?; sleep 60`,
      );
      const pane = () => term.pane('bake');
      // While the slow target runs, both targets are on screen: one has failed, one is running.
      const live = await until(
        'both targets live',
        () => {
          const p = pane();
          return (
            /RUN sleep 3/.test(p) && /^✖ bad +failed · steps/m.test(p) && /^\S slow +steps/m.test(p) && p
          );
        },
        60_000,
      );
      assert.doesNotMatch(live, /EXIT=/);
      const done = await until('the bake ends', () => /EXIT=\d/.test(pane()) && pane(), 60_000);
      assert.match(done, /EXIT=1/);
      assert.match(done, /^✔ slow +image sha256:[0-9a-f]{12} · steps 2/m);
      assert.match(done, /^✖ bad +failed · steps/m);
      assert.match(done, /exit code: 3/);
      // The targets' own lines come after the view, not through it.
      assert.match(done, /depot: 1 of 2 targets failed: bad/);
      for (const line of done.split('\n')) assert.ok(line.length <= 80, line);
    } finally {
      term.kill();
    }
  });
});
