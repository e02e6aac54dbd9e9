/**
 * `depot check` and `depot build --check` through the built CLI on a real project directory: a
 * real node_modules/ and .git/ measured by the context walk, the human and --json output, the exit
 * codes of --fail-on, and a build --check that builds nothing and never contacts the builder it is
 * pointed at (a TCP server that counts connections).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEPOT_BIN, depot, tempDir } from './harness.js';

const skip = existsSync(DEPOT_BIN) ? undefined : 'not built: run npm run build';

const DOCKERFILE = ['FROM node', 'WORKDIR /app', 'COPY . .', 'RUN npm ci', 'RUN apt-get update', ''].join(
  '\n',
);

/** A project with package.json and its lockfile, a node_modules/ of 25 files and a git repository. */
function project(): string {
  const dir = tempDir('check');
  writeFileSync(join(dir, 'Dockerfile'), DOCKERFILE);
  writeFileSync(join(dir, 'package.json'), '{"name":"app","version":"1.0.0"}');
  writeFileSync(join(dir, 'package-lock.json'), '{"lockfileVersion":3}');
  for (let i = 0; i < 5; i++) {
    mkdirSync(join(dir, `node_modules/pkg${i}`), { recursive: true });
    for (let j = 0; j < 5; j++) writeFileSync(join(dir, `node_modules/pkg${i}/f${j}.js`), 'x'.repeat(1000));
  }
  execFileSync('git', ['init', '-q', dir]);
  return dir;
}

describe('depot check', { skip }, () => {
  let dir: string;
  let clean: string;
  before(() => {
    dir = project();
    clean = tempDir('check-clean');
    writeFileSync(join(clean, 'Dockerfile'), 'FROM busybox:1.36\nCOPY hello.txt /\n');
    writeFileSync(join(clean, 'hello.txt'), 'hi\n');
  });

  test('human output: one line per finding with its fix, a summary, exit 1 at the default threshold', async () => {
    const r = await depot(['check', dir]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /Dockerfile:1: warning: node has no tag/);
    assert.match(lines[1]!, /^ {2}fix: pin a version/);
    assert.match(
      r.stdout,
      /Dockerfile:3: warning: `COPY \. \.` copies the whole context before `RUN npm ci` \(line 4\)/,
    );
    // node_modules holds 25 files of 1000 bytes; it is also why the smart cache refuses the rewrite.
    assert.match(r.stdout, /--smart-cache leaves this step as it is: the build context holds node_modules\//);
    assert.match(r.stdout, /Dockerfile:5: warning: apt-get update runs in a RUN of its own/);
    assert.match(
      r.stdout,
      /Dockerfile: warning: node_modules\/ \(25 files, 25\.0 kB\) is sent with every build/,
    );
    assert.match(
      r.stdout,
      /\n {2}fix: create a \.dockerignore in the context with the line `node_modules`\n/,
    );
    assert.match(
      r.stdout,
      /Dockerfile: warning: \.git\/ \(\d+ files?, [\d.]+ k?B\) is sent with every build/,
    );
    assert.equal(lines.at(-1), '0 errors, 5 warnings, 0 info: fails at --fail-on=warning');
  });

  test('--json: one document with the findings and the summary', async () => {
    const r = await depot(['check', dir, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      findings: Array<Record<string, unknown>>;
      summary: Record<string, unknown>;
    };
    assert.deepEqual(
      doc.findings.map((f) => [f.rule, f.severity, f.line, f.instruction]),
      [
        ['unpinned-base-image', 'warning', 1, 'FROM docker.io/library/node'],
        ['copy-before-install', 'warning', 3, 'COPY . .'],
        ['apt-get-update', 'warning', 5, 'RUN apt-get update'],
        ['dockerignore', 'warning', 0, ''],
        ['dockerignore', 'warning', 0, ''],
      ],
    );
    assert.deepEqual(doc.findings[1]!.affects, ['RUN npm ci']);
    for (const f of doc.findings) {
      assert.equal(typeof f.message, 'string');
      assert.equal(typeof f.fix, 'string');
    }
    assert.deepEqual(
      { ...doc.summary, dockerfile: undefined, context: undefined },
      {
        errors: 0,
        warnings: 5,
        infos: 0,
        failOn: 'warning',
        failed: true,
        dockerfile: undefined,
        context: undefined,
        target: null,
      },
    );
    assert.match(String(doc.summary.dockerfile), /Dockerfile$/);
  });

  test('--fail-on picks the threshold; a bad value is one line and exit 1', async () => {
    assert.equal((await depot(['check', dir, '--fail-on', 'error'])).code, 0);
    assert.equal((await depot(['check', dir, '--fail-on=none'])).code, 0);
    assert.equal((await depot(['check', dir, '--fail-on', 'info'])).code, 1);
    const bad = await depot(['check', dir, '--fail-on', 'loud']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr, 'depot: invalid --fail-on=loud (use --fail-on=error, warning, info or none)\n');
  });

  test('a clean project: no findings, exit 0, even at --fail-on=info', async () => {
    const r = await depot(['check', clean, '--fail-on', 'info']);
    assert.deepEqual(r, { code: 0, stdout: 'no findings\n', stderr: '' });
  });

  test('a missing context, a missing or unreadable Dockerfile, an unknown target: one line, exit 1', async () => {
    const missing = await depot(['check', join(dir, 'nope')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^depot: build context not found: .*nope\n$/);
    const noFile = await depot(['check', dir, '-f', join(dir, 'Nofile')]);
    assert.equal(noFile.code, 1);
    assert.match(noFile.stderr, /^depot: no Dockerfile at .*Nofile \(check the -f path\)\n$/);
    const aDir = await depot(['check', dir, '-f', join(dir, 'node_modules')]);
    assert.equal(aDir.code, 1);
    assert.match(aDir.stderr, /^depot: cannot read Dockerfile .*node_modules: EISDIR\n$/);
    const target = await depot(['check', dir, '--target', 'prod']);
    assert.equal(target.code, 1);
    assert.match(target.stderr, /^depot: target stage "prod" not found in the Dockerfile/);
    assert.equal(target.stdout, '');
  });

  describe('depot build --check', () => {
    let server: Server;
    let connections = 0;
    let builder: string;
    before(async () => {
      server = createServer((s) => {
        connections++;
        s.destroy();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const addr = server.address();
      builder = `tcp://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    });
    after(() => server?.close());

    test('prints the checks of that build, exits by them, builds nothing and contacts no builder', async () => {
      const env = { DEPOT_BUILDER: builder, DEPOT_TOKEN: 'unused', DEPOT_NO_AGENT: '1' };
      const check = await depot(['check', dir]);
      const r = await depot(['build', '--check', '-t', `depot-it/check:${process.pid}`, dir], env);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, check.stdout);
      const ok = await depot(['build', '--check', clean, '--builder', builder], env);
      assert.deepEqual(ok, { code: 0, stdout: 'no findings\n', stderr: '' });
      // -f and --target are the build's.
      writeFileSync(
        join(dir, 'multi.Dockerfile'),
        'FROM busybox:1.36 AS a\nRUN apt-get update\nFROM busybox:1.36 AS b\n',
      );
      const t = await depot(
        ['build', '--check', '-f', join(dir, 'multi.Dockerfile'), '--target', 'a', clean],
        env,
      );
      assert.match(t.stdout, /multi\.Dockerfile:2: warning: apt-get update/);
      const b = await depot(
        ['build', '--check', '-f', join(dir, 'multi.Dockerfile'), '--target', 'b', clean],
        env,
      );
      assert.match(
        b.stdout,
        /multi\.Dockerfile:2: info: apt-get update .*\(stage a is not built for target b\)/,
      );
      assert.equal(b.code, 0);
      assert.equal(connections, 0);
    });
  });
});
