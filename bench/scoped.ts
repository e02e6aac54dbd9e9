/**
 * Builds whose Dockerfile reads a few files of a big tree: depot syncs only what the Dockerfile
 * names, docker build (BuildKit's frontend) asks the CLI for only those paths. Side by side on the
 * builder's engine in the same run, plus depot with DEPOT_CONTEXT=full (the whole tree, as before).
 * Sizes: DEPOT_BENCH_FILES (default 20000), DEPOT_BENCH_BIG_FILES (default 100000),
 * DEPOT_BENCH_RUNS (default 5).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BUILDER_ENGINE,
  DEPOT_BIN,
  isolatedEnv,
  startBuilder,
  tempDir,
} from '../test/integration/harness.js';
import { median, type Timed, time, workerReady } from './timing.js';

const FILES = Number(process.env.DEPOT_BENCH_FILES ?? 20000);
const BIG_FILES = Number(process.env.DEPOT_BENCH_BIG_FILES ?? 100000);
const RUNS = Number(process.env.DEPOT_BENCH_RUNS ?? 5);

function makeTree(files: number, dockerfile: string): string {
  const dir = tempDir('bench-scoped');
  for (let i = 0; i < files; i++) {
    const sub = join(dir, 'src', `d${Math.floor(i / 500)}`);
    if (i % 500 === 0) mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `f${i}.js`), `export const v${i} = ${i};\n`.repeat(20));
  }
  writeFileSync(join(dir, 'package.json'), '{"name":"app","version":"1.0.0"}\n');
  writeFileSync(join(dir, 'late.txt'), 'late 0\n');
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

async function main(): Promise<void> {
  if (!BUILDER_ENGINE) throw new Error('run through scripts/with-engines.sh');
  const builder = await startBuilder();
  const token = builder.token('bench');
  const env = { ...isolatedEnv(), DOCKER_HOST: BUILDER_ENGINE, DOCKER_BUILDKIT: '1' };
  const depot = (ctx: string, tag: string) => [
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
    '-t',
    tag,
    ctx,
  ];
  const docker = (ctx: string, tag: string) => ['build', '-q', '-t', tag, ctx];
  const rows: string[][] = [];
  const row = (name: string, mine: Timed[], theirs: number[]) => {
    const m = median(mine.map((x) => x.ms));
    const o = median(theirs);
    const before = median(mine.map((x) => x.beforeBuildMs));
    rows.push([
      name,
      `${m.toFixed(0)} ms`,
      `${o.toFixed(0)} ms`,
      `**${(m / o).toFixed(2)}×**`,
      `${before.toFixed(0)} ms`,
    ]);
  };

  const twoFiles =
    'FROM busybox\nCOPY package.json /app/\nRUN wc -c /app/package.json > /app/size\nCOPY late.txt /app/late.txt\n';
  console.error(`generating ${FILES} files …`);
  const ctx = makeTree(FILES, twoFiles);
  const agentEnv = { DEPOT_AGENT: '1', DEPOT_AGENT_DIR: tempDir('bench-agent') };
  // An agent that only syncs (DEPOT_AGENT_WORKER=0 when it starts): each build loads the CLI itself.
  const syncOnlyEnv = { DEPOT_AGENT: '1', DEPOT_AGENT_DIR: tempDir('bench-agent'), DEPOT_AGENT_WORKER: '0' };
  // Through an agent with a worker, each timed build finds the worker warm (see workerReady).
  const settle = (e: Record<string, string>) => {
    if (e.DEPOT_AGENT_DIR === agentEnv.DEPOT_AGENT_DIR) workerReady(DEPOT_BIN, e);
  };
  for (const [label, extra] of [
    ['depot build', {}],
    ['depot build through the agent', agentEnv],
    ['depot build through the agent, no worker', syncOnlyEnv],
    ['depot build, DEPOT_CONTEXT=full', { DEPOT_CONTEXT: 'full' }],
  ] as const) {
    const e = { ...env, ...extra };
    time(process.execPath, depot(ctx, 'bench:scoped'), e);
    time('/usr/bin/docker', docker(ctx, 'bench:docker-scoped'), env);
    const mine: Timed[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      settle(e);
      mine.push(time(process.execPath, depot(ctx, 'bench:scoped'), e));
      theirs.push(time('/usr/bin/docker', docker(ctx, 'bench:docker-scoped'), env).ms);
    }
    row(`${FILES} files, Dockerfile reading 2: cached rebuild, ${label}`, mine, theirs);
    const mineEdit: Timed[] = [];
    const theirsEdit: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      settle(e);
      writeFileSync(join(ctx, 'late.txt'), `late ${label} ${i} depot\n`);
      mineEdit.push(time(process.execPath, depot(ctx, 'bench:scoped'), e));
      writeFileSync(join(ctx, 'late.txt'), `late ${label} ${i} docker\n`);
      theirsEdit.push(time('/usr/bin/docker', docker(ctx, 'bench:docker-scoped'), env).ms);
    }
    row(`${FILES} files, late.txt edited, then ${label}`, mineEdit, theirsEdit);
  }

  console.error(`generating ${BIG_FILES} files …`);
  const big = makeTree(BIG_FILES, 'FROM busybox\nCOPY package.json /app/\n');
  const firstDepot = time(process.execPath, depot(big, 'bench:big'), env);
  const firstDocker = time('/usr/bin/docker', docker(big, 'bench:docker-big'), env).ms;
  row(`${BIG_FILES} files, Dockerfile reading 1: first build`, [firstDepot], [firstDocker]);
  for (const [label, extra] of [
    ['depot build', {}],
    ['depot build through the agent', agentEnv],
  ] as const) {
    const e = { ...env, ...extra };
    time(process.execPath, depot(big, 'bench:big'), e);
    const mine: Timed[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      settle(e);
      mine.push(time(process.execPath, depot(big, 'bench:big'), e));
      theirs.push(time('/usr/bin/docker', docker(big, 'bench:docker-big'), env).ms);
    }
    row(`${BIG_FILES} files, Dockerfile reading 1: cached rebuild, ${label}`, mine, theirs);
  }
  await builder.stop();
  time(process.execPath, [DEPOT_BIN, 'agent', 'stop'], { ...env, ...agentEnv });
  time(process.execPath, [DEPOT_BIN, 'agent', 'stop'], { ...env, ...syncOnlyEnv });

  console.log(`median of ${RUNS}; docker build on the same engine in the same run`);
  console.log('| measure | depot | docker build | ratio | depot: spawn → sync acknowledged | depot: sync |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
