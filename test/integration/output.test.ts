import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BUILDER_ENGINE,
  type BuilderProcess,
  buildOn,
  DEPOT_BIN,
  DOCKER,
  depot,
  isolatedEnv,
  LAPTOP_ENGINE,
  run,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';

const skip = skipReason();

/** Every path under `dir` with its type, mode, size, content digest or link target (lstat: no link followed). */
function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const abs = join(dir, p);
      const st = lstatSync(abs);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.set(p, `symlink ${readlinkSync(abs)}`);
      else if (st.isDirectory()) {
        out.set(p, `dir ${mode}`);
        walk(p);
      } else
        out.set(
          p,
          `file ${mode} ${st.size} ${createHash('sha256').update(readFileSync(abs)).digest('hex')} ${Math.floor(st.mtimeMs)}`,
        );
    }
  };
  walk('');
  return out;
}

const DOCKERFILE = `FROM busybox AS build
ARG V=1
RUN mkdir -p /out/sub/deep && echo hello > /out/a.txt && chmod 755 /out/a.txt \\
 && seq 1 20000 > /out/sub/big.txt && chmod 4755 /out/sub/big.txt \\
 && ln -s a.txt /out/link && ln -s ../../etc/passwd /out/sub/escape \\
 && touch /out/empty && chmod 700 /out/sub/deep && echo "$V" > /out/v.txt
COPY src/ /out/src/
FROM scratch
COPY --from=build /out /
`;

describe('depot build -o', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  const project = `out-${process.pid}`;
  const ctx = tempDir('out-ctx');
  const work = tempDir('out-dest');

  before(async () => {
    mkdirSync(join(ctx, 'src'));
    writeFileSync(join(ctx, 'src', 'hello.txt'), `hi ${process.pid}\n`);
    writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);
    // arm64 through emulation: the several-platform output builds FROM scratch (nothing runs).
    builder = await startBuilder({ args: ['--emulate', 'linux/arm64'] });
    token = builder.token(project);
  });
  after(async () => {
    await builder?.stop();
  });

  test('type=local gives the files docker build -o gives, and a second build sends only what changed', async () => {
    const dest = join(work, 'local');
    const r = await depot([...buildOn(builder.url, token, project), '-o', `type=local,dest=${dest}`, ctx]);
    assert.equal(r.code, 0, r.stderr);
    const ref = join(work, 'docker');
    const d = await run(DOCKER, ['build', '-q', '-o', `type=local,dest=${ref}`, ctx], {
      DOCKER_HOST: BUILDER_ENGINE,
      DOCKER_BUILDKIT: '1',
    });
    assert.equal(d.code, 0, d.stderr);
    const ours = tree(dest);
    const theirs = tree(ref);
    // Directories: docker keeps the mode, not the time (its writes into them change it).
    assert.deepEqual(ours, theirs);
    assert.equal(ours.get('sub/escape'), 'symlink ../../etc/passwd');
    assert.match(ours.get('sub/big.txt')!, /^file 4755 108894 /);
    assert.deepEqual(
      readdirSync(work).filter((n) => n.includes('depot-tmp')),
      [],
      'no temp dir is left beside DEST',
    );

    // Same output again: every file is held already, no byte of content travels.
    const again = await depot([...buildOn(builder.url, token, project), '-o', dest, ctx]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /output: 5 files \(0\.10MiB\) in .*, 0\.00MiB sent, 5 unchanged/);
    // One file changed (v.txt, 2 bytes): it alone is sent; the tree is what a fresh export gives.
    const changed = await depot([
      ...buildOn(builder.url, token, project),
      '--build-arg',
      'V=2',
      '-o',
      `type=local,dest=${dest}`,
      ctx,
    ]);
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stderr, /4 unchanged/);
    const sent = /output: .*, ([\d.]+)MiB sent/.exec(changed.stderr);
    assert.ok(sent && Number(sent[1]) < 0.01, changed.stderr);
    assert.equal(readFileSync(join(dest, 'v.txt'), 'utf8'), '2\n');
    const fresh = join(work, 'fresh');
    const f = await depot([...buildOn(builder.url, token, project), '--build-arg', 'V=2', '-o', fresh, ctx]);
    assert.equal(f.code, 0, f.stderr);
    assert.deepEqual(tree(dest), tree(fresh));
  });

  test('-o type=tar,dest=- piped to tar -t lists every path', async () => {
    const depotProc = spawn(
      process.execPath,
      [DEPOT_BIN, ...buildOn(builder.url, token, project), '-o', 'type=tar,dest=-', ctx],
      {
        env: { ...process.env, ...isolatedEnv(), DOCKER_HOST: LAPTOP_ENGINE },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const tar = spawn('tar', ['-t'], { stdio: ['pipe', 'pipe', 'pipe'] });
    depotProc.stdout.pipe(tar.stdin);
    let listed = '';
    let err = '';
    tar.stdout.on('data', (c) => (listed += c));
    depotProc.stderr.on('data', (c) => (err += c));
    tar.stderr.on('data', (c) => (err += c));
    const [dc, tc] = await Promise.all([
      new Promise((r) => depotProc.on('close', r)),
      new Promise((r) => tar.on('close', r)),
    ]);
    assert.equal(dc, 0, err);
    assert.equal(tc, 0, err);
    assert.deepEqual(listed.trim().split('\n').sort(), [
      'a.txt',
      'empty',
      'link',
      'src/',
      'src/hello.txt',
      'sub/',
      'sub/big.txt',
      'sub/deep/',
      'sub/escape',
      'v.txt',
    ]);
    // To a file: written whole, then renamed.
    const file = join(work, 'out.tar');
    const r = await depot([...buildOn(builder.url, token, project), '-o', `type=tar,dest=${file}`, ctx]);
    assert.equal(r.code, 0, r.stderr);
    const t = await run('tar', ['-tf', file]);
    assert.equal(t.stdout.trim().split('\n').length, 10);
  });

  test('a bad -o is one line and exit 1, before anything is built', async () => {
    for (const [args, want] of [
      [['-o', 'type=nope,dest=x'], /unknown type "nope"/],
      [['-o', 'type=local'], /type=local needs dest/],
      [['-o', 'a', '-o', 'b'], /only one -o/],
      [['-o', 'type=docker', '--push', '-t', 'x'], /cannot be combined with --push/],
    ] as const) {
      const r = await depot([...buildOn(builder.url, token, project), ...args, ctx]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, want);
    }
  });

  test('a failed build leaves DEST as it was', async () => {
    const dest = join(work, 'kept');
    mkdirSync(dest);
    writeFileSync(join(dest, 'mine.txt'), 'mine');
    const badCtx = tempDir('out-bad');
    writeFileSync(join(badCtx, 'Dockerfile'), 'FROM busybox\nRUN exit 3\n');
    const r = await depot([...buildOn(builder.url, token, project), '-o', dest, badCtx]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(readdirSync(dest), ['mine.txt']);
    assert.deepEqual(
      readdirSync(work).filter((n) => n.includes('depot-tmp')),
      [],
    );
    assert.ok(existsSync(join(dest, 'mine.txt')));
  });

  test('several platforms: type=local writes a directory per platform, as buildx names them', async () => {
    const multi = tempDir('out-multi');
    writeFileSync(
      join(multi, 'Dockerfile'),
      'FROM scratch\nARG TARGETARCH\nCOPY $TARGETARCH.txt /arch.txt\n',
    );
    writeFileSync(join(multi, 'amd64.txt'), 'amd64\n');
    writeFileSync(join(multi, 'arm64.txt'), 'arm64\n');
    const dest = join(work, 'multi');
    const r = await depot([
      ...buildOn(builder.url, token, project),
      '--platform',
      'linux/amd64,linux/arm64',
      '--allow-emulation',
      '-o',
      `type=local,dest=${dest}`,
      multi,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(dest).sort(), ['linux_amd64', 'linux_arm64']);
    assert.equal(readFileSync(join(dest, 'linux_amd64', 'arch.txt'), 'utf8'), 'amd64\n');
    assert.equal(readFileSync(join(dest, 'linux_arm64', 'arch.txt'), 'utf8'), 'arm64\n');
    assert.match(r.stderr, /^\[linux\/arm64\] .*output: 1 file .* in .*linux_arm64/m);
    // A tar holds one platform: refused before anything runs.
    const tar = await depot([
      ...buildOn(builder.url, token, project),
      '--platform',
      'linux/amd64,linux/arm64',
      '-o',
      `type=tar,dest=${join(work, 'multi.tar')}`,
      multi,
    ]);
    assert.equal(tar.code, 1);
    assert.match(tar.stderr, /^depot: -o type=tar takes one platform/);
  });
});
