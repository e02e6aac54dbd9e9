/**
 * `depot dev --sync`: edit → the new content served by the running container (busybox httpd), a
 * one-file edit in a directory of DEPOT_BENCH_MB (default 200) MB that the Dockerfile COPYs.
 * Side by side on the same laptop engine in the same run: depot dev --sync auto; depot dev
 * without --sync (rebuild, load, replace the container); a compose-watch-style `docker cp` of the
 * file into the container (started right after the write: compose's own 500 ms debounce is not
 * counted); and `docker build` of the edit on the laptop engine (the rebuild alone).
 * DEPOT_BENCH_RUNS (default 10; the rebuild loops take 3).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  DEPOT_BIN,
  docker,
  isolatedEnv,
  LAPTOP_ENGINE,
  startBuilder,
  tempDir,
} from '../test/integration/harness.js';
import { median } from './timing.js';

const MB = Number(process.env.DEPOT_BENCH_MB ?? 200);
const RUNS = Number(process.env.DEPOT_BENCH_RUNS ?? 10);
const SLOW_RUNS = Math.min(RUNS, 3);
const RUN_ID = `${process.pid}-${Date.now()}`;

function makeContext(): string {
  const dir = tempDir('bench-sync');
  mkdirSync(join(dir, 'www', 'assets'), { recursive: true });
  const files = 2000;
  for (let i = 0; i < files; i++)
    writeFileSync(
      join(dir, 'www', 'assets', `a${i}.bin`),
      randomBytes(Math.floor((MB * 1024 * 1024) / files)),
    );
  writeFileSync(join(dir, 'www', 'index.html'), `v0 ${RUN_ID}\n`);
  writeFileSync(
    join(dir, 'Dockerfile'),
    'FROM busybox\nCOPY www/ /www/\nCMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n',
  );
  return dir;
}

async function served(port: number): Promise<string> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
    return await r.text();
  } catch {
    return '';
  }
}

/** ms from now until the app on `port` serves text starting with `want` (polling every 2 ms). */
async function visibleAfter(port: number, want: string, since: number, timeoutMs = 120_000): Promise<number> {
  for (;;) {
    const text = await served(port);
    if (text !== '' && text.startsWith(want)) return performance.now() - since;
    if (performance.now() - since > timeoutMs) throw new Error(`${want} not served after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function devLoop(
  ctx: string,
  port: number,
  args: string[],
  runs: number,
  label: string,
): Promise<number[]> {
  const builder = await startBuilder();
  const token = builder.token('bench-sync');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      DEPOT_BIN,
      'dev',
      '--progress',
      process.env.DEPOT_BENCH_PROGRESS ?? 'quiet',
      '--builder',
      builder.url,
      '--token',
      token,
      '--run',
      `-p ${port}:80`,
      ...args,
      ctx,
    ],
    {
      env: { ...process.env, ...isolatedEnv(), DOCKER_HOST: LAPTOP_ENGINE },
      stdio: ['ignore', process.env.DEPOT_BENCH_PROGRESS ? 'inherit' : 'ignore', 'inherit'],
    },
  );
  const times: number[] = [];
  try {
    // Whatever the file holds now (an earlier loop edited it): the app is up.
    await visibleAfter(port, '', performance.now(), 300_000);
    for (let i = 1; i <= runs; i++) {
      const want = `${label} ${i} ${RUN_ID}`;
      const t = performance.now();
      writeFileSync(join(ctx, 'www', 'index.html'), `${want}\n`);
      times.push(await visibleAfter(port, want, t));
      // Let the rebuild behind the live update land before the next edit.
      await new Promise((r) => setTimeout(r, args.includes('--sync') ? 4000 : 500));
    }
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
    await builder.stop();
  }
  return times;
}

async function main(): Promise<void> {
  if (!LAPTOP_ENGINE) throw new Error('run through scripts/with-engines.sh');
  console.error(`dev sync bench: ${MB} MB under the synced COPY …`);
  const ctx = makeContext();
  const port = 31_000 + (process.pid % 10_000);
  const sync = await devLoop(ctx, port, ['--sync', 'auto'], RUNS, 'sync');
  const replace = await devLoop(ctx, port + 1, [], SLOW_RUNS, 'replace');

  // compose-watch style: the file copied into the running container right after the write.
  const env = { DOCKER_BUILDKIT: '1' };
  const dk = (args: string[]) => {
    const r = spawnSync('/usr/bin/docker', args, {
      env: { ...process.env, ...env, DOCKER_HOST: LAPTOP_ENGINE },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  dk(['build', '-q', '-t', 'bench-sync:docker', ctx]);
  const id = dk(['run', '-d', '-p', `${port + 2}:80`, 'bench-sync:docker']);
  const cp: number[] = [];
  const rebuild: number[] = [];
  try {
    await visibleAfter(port + 2, '', performance.now(), 30_000);
    for (let i = 1; i <= RUNS; i++) {
      const want = `cp ${i} ${RUN_ID}`;
      const t = performance.now();
      writeFileSync(join(ctx, 'www', 'index.html'), `${want}\n`);
      dk(['cp', join(ctx, 'www', 'index.html'), `${id}:/www/index.html`]);
      cp.push(await visibleAfter(port + 2, want, t));
    }
    for (let i = 1; i <= SLOW_RUNS; i++) {
      writeFileSync(join(ctx, 'www', 'index.html'), `build ${i} ${RUN_ID}\n`);
      const t = performance.now();
      dk(['build', '-q', '-t', 'bench-sync:docker', ctx]);
      rebuild.push(performance.now() - t);
    }
  } finally {
    docker(LAPTOP_ENGINE, ['rm', '-f', id]);
  }

  const p = (xs: number[]) => `${median(xs).toFixed(0)} ms`;
  console.log(
    `\ndev --sync: one file edited beside ${MB} MB in the synced COPY; median (runs: ${RUNS}, rebuilds ${SLOW_RUNS})`,
  );
  console.log('| edit → new content served by the app | median | max |');
  console.log('| --- | --- | --- |');
  console.log(`| depot dev --sync auto | **${p(sync)}** | ${Math.max(...sync).toFixed(0)} ms |`);
  console.log(
    `| compose-watch-style docker cp (no debounce) | ${p(cp)} | ${Math.max(...cp).toFixed(0)} ms |`,
  );
  console.log(
    `| depot dev without --sync (rebuild, load, replace) | ${p(replace)} | ${Math.max(...replace).toFixed(0)} ms |`,
  );
  console.log(
    `| docker build of the edit alone (laptop engine) | ${p(rebuild)} | ${Math.max(...rebuild).toFixed(0)} ms |`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
