/**
 * The smart cache against a real builder: `COPY . .` then `RUN npm ci` is built as manifests,
 * install, rest of the copy; the final filesystem is the original plan's entry by entry (content,
 * mode, owner, links); a source edit reuses the install, which plain docker semantics re-run; an
 * install that may read more (a postinstall script) is left as it is, with the reason. The
 * installer is a fixture `npm` in a local base image that reads exactly what `npm ci` reads
 * (package.json, the lockfile) and writes node_modules.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BUILDER_ENGINE,
  type BuilderProcess,
  buildOn,
  DEPOT_BIN,
  docker,
  imageFilesystem,
  isolatedEnv,
  run,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';

const skip = skipReason();
const BASE = `depot-it/fixture-npm:${process.pid}`;

// `npm ci` as far as the filesystem can tell: it reads package.json and the lockfile (a failing
// read fails the step), removes node_modules and writes one module per locked dependency, with a
// file derived from package.json, modes and a symlink like npm's .bin links.
const FIXTURE_NPM = `#!/bin/sh
set -e
[ "$1" = ci ] || { echo "fixture npm: only ci" >&2; exit 1; }
cat package.json package-lock.json > /dev/null
rm -rf node_modules
mkdir -p node_modules/.bin
for dep in $(grep -o '"[a-z-]*@[0-9.]*"' package-lock.json | tr -d '"'); do
  name=\${dep%@*}
  mkdir -p "node_modules/$name/bin"
  echo "module.exports = '$dep';" > "node_modules/$name/index.js"
  printf '#!/bin/sh\\necho %s\\n' "$dep" > "node_modules/$name/bin/cli"
  chmod 755 "node_modules/$name/bin/cli"
  ln -s "../$name/bin/cli" "node_modules/.bin/$name"
done
md5sum package.json > node_modules/.package-json.md5
`;

describe('the smart cache', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;

  before(async () => {
    const dir = tempDir('fixture-npm');
    writeFileSync(join(dir, 'npm'), FIXTURE_NPM);
    chmodSync(join(dir, 'npm'), 0o755);
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY npm /usr/local/bin/npm\n');
    const b = docker(BUILDER_ENGINE, ['build', '-q', '-t', BASE, dir]);
    assert.equal(b.code, 0, b.stderr);
    builder = await startBuilder();
    token = builder.token('smart');
  });
  after(async () => {
    await builder?.stop();
    docker(BUILDER_ENGINE, ['rmi', '-f', BASE]);
  });

  // A name no earlier run used: the builder engine's cache must not answer the first install.
  const fresh = () => `app-${process.pid}-${Date.now()}`;
  const app = (pkg = `{"name":"${fresh()}","dependencies":{"left-pad":"1.3.0","is-odd":"3.0.1"}}`) => {
    const ctx = tempDir('smart-ctx');
    writeFileSync(join(ctx, 'package.json'), `${pkg}\n`);
    writeFileSync(
      join(ctx, 'package-lock.json'),
      '{"lockfileVersion":3,"packages":["left-pad@1.3.0","is-odd@3.0.1"]}\n',
    );
    mkdirSync(join(ctx, 'src'));
    writeFileSync(join(ctx, 'src', 'index.js'), `console.log('v1 ${process.pid}')\n`);
    writeFileSync(join(ctx, 'src', 'run.sh'), '#!/bin/sh\necho run\n', { mode: 0o755 });
    writeFileSync(join(ctx, '.dockerignore'), 'node_modules\n');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${BASE}\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD ["sh"]\n`);
    return ctx;
  };
  const build = async (ctx: string, tag: string, extra: string[]) => {
    const r = await run(
      process.execPath,
      [DEPOT_BIN, ...buildOn(builder.url, token, 'smart', 'json'), '-t', tag, ...extra, ctx],
      { ...isolatedEnv(), DOCKER_HOST: BUILDER_ENGINE },
    );
    assert.equal(r.code, 0, r.stderr);
    const vertices = new Map<string, boolean>();
    let imageId = '';
    for (const l of r.stdout.split('\n')) {
      if (l.startsWith('{"type":"build/finished"')) imageId = (JSON.parse(l) as { imageId: string }).imageId;
      if (l.startsWith('{"type":"vertex/updated"')) {
        const v = (JSON.parse(l) as { vertex: { name: string; cached: boolean; completedMs: number } })
          .vertex;
        if (v.completedMs) vertices.set(v.name.replace(/^\[[^\]]*\]\s*/, ''), v.cached);
      }
    }
    assert.match(imageId, /^sha256:/);
    return { ...r, imageId, installCached: vertices.get('RUN npm ci') };
  };

  test('--smart-cache=plan says what it would build, and builds nothing', async () => {
    const ctx = app();
    const r = await run(
      process.execPath,
      [DEPOT_BIN, ...buildOn(builder.url, token, 'smart', 'plain'), '--smart-cache=plan', ctx],
      { ...isolatedEnv(), DOCKER_HOST: BUILDER_ENGINE },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /:3: npm ci \(line 4\) runs on package\.json, package-lock\.json alone/);
    assert.match(
      r.stdout,
      /WORKDIR \/app\nCOPY package\.json package-lock\.json \.\/\nRUN npm ci\nCOPY \. \.\nCMD/,
    );
    assert.doesNotMatch(r.stderr, /#\d|exporting/, 'nothing was built');

    const bad = await run(
      process.execPath,
      [DEPOT_BIN, ...buildOn(builder.url, token, 'smart', 'plain'), '--smart-cache=sideways', ctx],
      { ...isolatedEnv(), DOCKER_HOST: BUILDER_ENGINE },
    );
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr,
      'depot: invalid --smart-cache=sideways (use --smart-cache, --smart-cache=plan, --smart-cache=verify or --smart-cache=off)\n',
    );
  });

  test('the same filesystem as the original plan; a source edit reuses the install', async () => {
    const ctx = app();
    const tag = `depot-it/smart:${process.pid}`;
    const plain = await build(ctx, `${tag}-plain`, []);
    const smart = await build(ctx, `${tag}-smart`, ['--smart-cache']);
    assert.equal(plain.installCached, false);
    assert.equal(smart.installCached, false);
    // On a shared builder the image is named in the project's namespace: by id here.
    const a = await imageFilesystem(BUILDER_ENGINE, plain.imageId);
    const b = await imageFilesystem(BUILDER_ENGINE, smart.imageId);
    assert.notEqual(plain.imageId, smart.imageId, 'two different builds (one more COPY)');
    assert.ok(
      a.has('app/node_modules/.bin/left-pad'),
      [...a.keys()].filter((k) => k.startsWith('app/')).join(' '),
    );
    assert.ok(a.has('app/src/run.sh'));
    assert.deepEqual([...b.entries()].sort(), [...a.entries()].sort());

    // One source file edited: docker's order re-runs the install, the smart plan reuses it.
    writeFileSync(join(ctx, 'src', 'index.js'), `console.log('v2 ${process.pid}')\n`);
    const smart2 = await build(ctx, `${tag}-smart`, ['--smart-cache']);
    assert.equal(smart2.installCached, true, 'the install is reused after a source edit');
    const plain2 = await build(ctx, `${tag}-plain`, []);
    assert.equal(plain2.installCached, false, 'the original order re-runs the install');
    const a2 = await imageFilesystem(BUILDER_ENGINE, plain2.imageId);
    const b2 = await imageFilesystem(BUILDER_ENGINE, smart2.imageId);
    assert.deepEqual([...b2.entries()].sort(), [...a2.entries()].sort());
    assert.notEqual(a2.get('app/src/index.js'), a.get('app/src/index.js'), 'the edit is in the image');

    // A manifest edit re-runs the install in the smart plan too.
    writeFileSync(join(ctx, 'package.json'), `{"name":"${fresh()}","version":"2.0.0"}\n`);
    const smart3 = await build(ctx, `${tag}-smart`, ['--smart-cache']);
    assert.equal(smart3.installCached, false, 'a manifest edit re-runs the install');
  });

  test('an install that may read more is left as it is, and says why', async () => {
    const ctx = app('{"name":"app","scripts":{"postinstall":"node src/index.js"}}');
    const r = await run(
      process.execPath,
      [DEPOT_BIN, ...buildOn(builder.url, token, 'smart', 'plain'), '--smart-cache', ctx],
      { ...isolatedEnv(), DOCKER_HOST: BUILDER_ENGINE },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /smart cache: .*:4: left as it is: package\.json runs postinstall on install/);
    assert.match(r.stderr, /COPY \. \./);
  });
});
