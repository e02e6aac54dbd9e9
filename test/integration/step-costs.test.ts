/**
 * StepCosts against a real builder: real `depot build`s of `COPY . .` then `RUN npm ci` (a fixture
 * npm in a local base image) with source and lockfile edits between them, then the RPC's numbers
 * through the client's session and the advisor's cost line.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { costLine, readHistoryCost } from '../../src/advisor/history-cost.js';
import { CAPABILITY_STEP_COSTS, createBuilderSession } from '../../src/session/index.js';
import {
  BUILDER_ENGINE,
  type BuilderProcess,
  buildOn,
  depot,
  docker,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';

const skip = skipReason();
const BASE = `depot-it/fixture-npm-costs:${process.pid}`;

// Reads the manifests like `npm ci` does and writes node_modules.
const FIXTURE_NPM = `#!/bin/sh
set -e
cat package.json package-lock.json > /dev/null
mkdir -p node_modules
md5sum package-lock.json > node_modules/.installed
`;

describe('step costs from a real builder', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  const project = `costs-${process.pid}`;
  const ctx = tempDir('costs-ctx');
  // A nonce in every file: the builder engine's cache must not answer the first build.
  const nonce = `${process.pid}-${Date.now()}`;

  before(async () => {
    const dir = tempDir('fixture-npm-costs');
    writeFileSync(join(dir, 'npm'), FIXTURE_NPM);
    chmodSync(join(dir, 'npm'), 0o755);
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY npm /usr/local/bin/npm\n');
    const b = docker(BUILDER_ENGINE, ['build', '-q', '-t', BASE, dir]);
    assert.equal(b.code, 0, b.stderr);
    builder = await startBuilder();
    token = builder.token(project, 'ann');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${BASE}\nWORKDIR /app\nCOPY . .\nRUN npm ci\n`);
    writeFileSync(join(ctx, 'package.json'), `{"name":"app-${nonce}"}\n`);
    writeFileSync(join(ctx, 'package-lock.json'), `{"lockfileVersion":3,"v":"1-${nonce}"}\n`);
    mkdirSync(join(ctx, 'src'));
    writeFileSync(join(ctx, 'src', 'index.js'), `console.log('v1 ${nonce}')\n`);
  });
  after(async () => {
    await builder?.stop();
    docker(BUILDER_ENGINE, ['rmi', '-f', BASE]);
  });

  const build = async () => {
    const r = await depot([...buildOn(builder.url, token, project, 'quiet'), ctx]);
    assert.equal(r.code, 0, r.stderr);
  };

  test('four builds (a source edit, a lockfile edit, a source edit): the RPC counts each miss and the reusable installs', async () => {
    await build();
    writeFileSync(join(ctx, 'src', 'index.js'), `console.log('v2 ${nonce}')\n`);
    await build();
    writeFileSync(join(ctx, 'package-lock.json'), `{"lockfileVersion":3,"v":"2-${nonce}"}\n`);
    await build();
    writeFileSync(join(ctx, 'src', 'index.js'), `console.log('v3 ${nonce}')\n`);
    await build();

    const session = createBuilderSession({ url: builder.url, token, project });
    try {
      const hello = await session.hello();
      assert.ok(hello.capabilities.includes(CAPABILITY_STEP_COSTS), hello.capabilities.join(' '));
      const res = await session.stepCosts({ dockerfilePath: 'Dockerfile' });
      assert.equal(res.builds, 4);
      assert.equal(res.last, 50);
      const by = new Map(res.steps.map((s) => [s.instr, s]));
      const copy = by.get('COPY . .');
      assert.deepEqual(
        [copy?.runs, copy?.misses, copy?.rootMisses, copy?.cascadedMisses],
        [4, 4, 4, 0],
        JSON.stringify(res.steps),
      );
      const ci = by.get('RUN npm ci');
      assert.ok(ci, JSON.stringify(res.steps.map((s) => s.instr)));
      // The first build's install missed on its own (first build); the three after followed the copy.
      assert.deepEqual([ci.runs, ci.misses, ci.rootMisses, ci.cascadedMisses], [4, 4, 1, 3]);
      assert.equal(ci.causedBy.length, 1);
      const cascade = ci.causedBy[0]!;
      assert.equal(cascade.root, 'COPY . .');
      assert.equal(cascade.count, 3);
      assert.ok(cascade.costMs > 0);
      assert.equal(cascade.costMs, ci.costMs - ci.rootCostMs);
      // The two source edits left package.json and the lockfile alone; the lockfile edit did not.
      assert.equal(cascade.installReuse?.tool, 'npm');
      assert.equal(cascade.installReuse?.reusable, 2);
      assert.equal(cascade.installReuse?.unknown, 0);
      assert.ok((cascade.installReuse?.reusableMs ?? 0) <= cascade.costMs);

      // The last two builds only.
      const recent = await session.stepCosts({ dockerfilePath: 'Dockerfile', last: 2 });
      assert.equal(recent.builds, 2);
      const ci2 = recent.steps.find((s) => s.instr === 'RUN npm ci');
      assert.deepEqual([ci2?.causedBy[0]?.count, ci2?.causedBy[0]?.installReuse?.reusable], [2, 1]);

      // Another line of the same project has no builds; nor does a platform it never built.
      assert.equal((await session.stepCosts({ dockerfilePath: 'other/Dockerfile' })).builds, 0);
      assert.equal(
        (await session.stepCosts({ dockerfilePath: 'Dockerfile', platform: 'linux/s390x' })).builds,
        0,
      );

      // What the advisor prints for the finding.
      const history = await readHistoryCost(session, { dockerfilePath: 'Dockerfile' }, { hello });
      const line = costLine({ instruction: 'COPY . .', affects: ['RUN npm ci'] }, history) ?? '';
      assert.match(
        line,
        /^invalidated RUN npm ci in 3 of the last 4 builds: \d+ (ms|s|min); --smart-cache would have reused it in 2$/,
      );

      // depot check with the builder configured: the finding carries its cost, in text and json.
      const args = ['check', '--builder', builder.url, '--token', token, '--project', project, ctx];
      const text = await depot(args);
      assert.equal(text.code, 1, text.stderr);
      assert.match(
        text.stdout,
        /Dockerfile:3: warning: .*\n {2}fix: .*\n {2}cost: invalidated RUN npm ci in 3 of the last 4 builds: \d+ (ms|s|min); --smart-cache would have reused it in 2\n/,
      );
      assert.match(text.stdout, /costs from the last 4 builds of this Dockerfile\n$/);
      const json = await depot([...args, '--json', '--last', '2']);
      const doc = JSON.parse(json.stdout) as {
        findings: Array<{ rule: string; cost?: string }>;
        history: unknown;
      };
      assert.deepEqual(doc.history, { builds: 2, last: 2 });
      assert.match(
        doc.findings.find((f) => f.rule === 'copy-before-install')?.cost ?? '',
        /in 2 of the last 2 builds/,
      );
      // Without the history, or with a builder that cannot answer: the findings alone.
      const none = await depot([...args, '--no-history']);
      assert.doesNotMatch(none.stdout, /cost:|history/);
      const down = await depot(['check', '--builder', 'tcp://127.0.0.1:1', '--token', 't', ctx]);
      assert.match(down.stdout, /\nhistory: .*127\.0\.0\.1:1.*\n$/);
      assert.doesNotMatch(down.stdout, /cost:/);
    } finally {
      session.close();
    }
  });

  test('a bad platform is one clear refusal', async () => {
    const session = createBuilderSession({ url: builder.url, token, project });
    try {
      await assert.rejects(session.stepCosts({ dockerfilePath: 'Dockerfile', platform: 'not a platform!' }), {
        code: 'invalid_argument',
      });
    } finally {
      session.close();
    }
  });
});
