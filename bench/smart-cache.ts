/**
 * The smart cache on a real Node project (test/fixtures/npm-app: 80 locked packages, the real
 * `npm ci` from an offline cache in a local node base image): one source file edited, then
 * `docker build` (which runs `npm ci` again) against `depot build --smart-cache` (which reuses it),
 * on the builder's engine in the same run. Also the original order through depot (no smart cache),
 * so the share of the win that is the reordering shows. DEPOT_BENCH_RUNS (default 5).
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BUILDER_ENGINE,
  DEPOT_BIN,
  isolatedEnv,
  startBuilder,
  tempDir,
} from '../test/integration/harness.js';
import { lockedPackages, nodeBaseImage, npmApp } from '../test/integration/node-fixture.js';
import { median, type Timed, time, workerReady } from './timing.js';

const RUNS = Number(process.env.DEPOT_BENCH_RUNS ?? 5);

async function main(): Promise<void> {
  if (!BUILDER_ENGINE) throw new Error('run through scripts/with-engines.sh');
  const base = nodeBaseImage(BUILDER_ENGINE);
  const builder = await startBuilder();
  const token = builder.token('bench');
  const env = { ...isolatedEnv(), DOCKER_HOST: BUILDER_ENGINE, DOCKER_BUILDKIT: '1' };
  const agentEnv = { ...env, DEPOT_AGENT: '1', DEPOT_AGENT_DIR: tempDir('bench-agent') };
  const depot = (ctx: string, extra: string[]) => [
    DEPOT_BIN,
    'build',
    '--builder',
    builder.url,
    '--token',
    token,
    '--project',
    'bench',
    '--progress',
    'json',
    ...extra,
    ctx,
  ];
  const rows: string[][] = [];
  // A nonce in every edit: no earlier run's cache may answer it.
  const nonce = randomUUID();
  const edit = (ctx: string, what: string) =>
    appendFileSync(join(ctx, 'src', 'index.js'), `// ${what} ${nonce}\n`);

  const dockerCtx = npmApp(base);
  const docker = () => time('/usr/bin/docker', ['build', '-q', '-t', 'bench:npm-docker', dockerCtx], env).ms;
  docker();
  const theirs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    edit(dockerCtx, `docker ${i}`);
    theirs.push(docker());
  }
  const o = median(theirs);
  rows.push(['`docker build` (runs `npm ci` again)', `${o.toFixed(0)} ms`, '1.00×']);

  for (const [label, extra, e] of [
    ['`depot build` (original order: runs `npm ci` again)', [], env],
    ['`depot build --smart-cache`', ['--smart-cache'], env],
    ['`depot build --smart-cache` through the agent', ['--smart-cache'], agentEnv],
  ] as const) {
    const ctx = npmApp(base);
    const agent = e === agentEnv;
    time(process.execPath, depot(ctx, [...extra]), e);
    const mine: Timed[] = [];
    for (let i = 0; i < RUNS; i++) {
      if (agent) workerReady(DEPOT_BIN, e);
      edit(ctx, `depot ${label} ${i}`);
      mine.push(time(process.execPath, depot(ctx, [...extra]), e));
    }
    const m = median(mine.map((x) => x.ms));
    rows.push([label, `${m.toFixed(0)} ms`, `**${(m / o).toFixed(2)}×**`]);
  }
  await builder.stop();
  time(process.execPath, [DEPOT_BIN, 'agent', 'stop'], agentEnv);

  console.log(
    `one source file edited in a Node project with ${lockedPackages()} locked packages (real npm ci); median of ${RUNS}; docker build on the same engine in the same run`,
  );
  console.log('| build after the edit | time | ratio to docker build |');
  console.log('| --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
