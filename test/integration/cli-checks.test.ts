import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type BuilderProcess, buildOn, depot, devOn, skipReason, startBuilder, tempDir } from './harness.js';

const skip = skipReason();

/** How many Sync RPCs the builder has answered (its JSON log has one line per RPC). */
const syncs = (b: BuilderProcess) =>
  b
    .logs()
    .split('\n')
    .filter((l) => l.includes('"rpc":"Sync"')).length;

describe('depot build and dev check their inputs before any sync', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  const project = `checks-${process.pid}`;
  const ctx = tempDir('checks-ctx');

  before(async () => {
    // FROM scratch with no RUN builds for any platform without running anything.
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    writeFileSync(join(ctx, 'hello.txt'), `checks ${process.pid} ${Date.now()}\n`);
    builder = await startBuilder({ args: ['--emulate', 'linux/arm64'] });
    token = builder.token(project);
  });
  after(async () => {
    await builder?.stop();
  });

  const build = (args: string[], env: Record<string, string> = {}) =>
    depot([...buildOn(builder.url, token, project), ...args], env);

  test('a platform the builder neither builds nor emulates is refused in one line, nothing synced', async () => {
    const before = syncs(builder);
    const r = await build(['--platform', 'linux/s390x', ctx]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /^depot: builder bld-\S+ cannot build linux\/s390x \(it builds linux\/amd64; it emulates linux\/arm64\) \(build for linux\/amd64/,
    );
    assert.doesNotMatch(r.stderr, /building/);
    // Several platforms: refused before any of them syncs.
    const multi = await build(['--platform', 'linux/amd64,s390x', ctx]);
    assert.equal(multi.code, 1, multi.stderr);
    assert.match(multi.stderr, /cannot build linux\/s390x/);
    assert.equal(syncs(builder), before);
  });

  test('an emulated platform needs --allow-emulation; `arm64` is shown as linux/arm64', async () => {
    const before = syncs(builder);
    const refused = await build(['--platform', 'arm64', ctx]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /cannot build linux\/arm64 .*pass --allow-emulation/);
    assert.equal(syncs(builder), before);
    const meta = join(tempDir('checks-meta'), 'meta.json');
    const ok = await build(['--platform', 'arm64', '--allow-emulation', '--metadata-file', meta, ctx]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /emulates linux\/arm64, which is slower/);
    assert.match(ok.stderr, /building on bld-\S+ for linux\/arm64$/m);
    assert.doesNotMatch(ok.stderr, /for arm64\b/);
  });

  test('a tag docker would refuse is refused the same way, before any sync (build and dev)', async () => {
    const before = syncs(builder);
    const bad = await build(['-t', 'app:bad:tag', ctx]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr.trim(), /^depot: invalid reference format: app:bad:tag \(/);
    assert.doesNotMatch(bad.stderr, /tagged/);
    const upper = await depot([...devOn(builder.url, token, 'plain'), '-t', 'App:dev', ctx]);
    assert.equal(upper.code, 1, upper.stderr);
    assert.match(
      upper.stderr.trim(),
      /^depot: invalid reference format: repository name must be lowercase: App:dev/,
    );
    assert.equal(syncs(builder), before);
  });

  test('an unreachable local engine fails --load and dev at once, with a hint, nothing synced', async () => {
    const before = syncs(builder);
    const nowhere = { DOCKER_HOST: `unix://${join(tempDir('checks-nodocker'), 'x.sock')}` };
    const r = await build(['--load', '-t', `checks/app:${process.pid}`, ctx], nowhere);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr.trim(),
      /^depot: cannot reach the local Docker engine at unix:\/\/\S+x\.sock: .* \(start Docker or set DOCKER_HOST\)$/,
    );
    const dev = await depot([...devOn(builder.url, token, 'plain'), ctx], nowhere);
    assert.equal(dev.code, 1, dev.stderr);
    assert.match(dev.stderr, /cannot reach the local Docker engine .*start Docker or set DOCKER_HOST/);
    assert.equal(syncs(builder), before);
  });
});
