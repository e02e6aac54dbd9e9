/**
 * `depot dev` benchmark: a one-file change in a large context, edit → build start and
 * edit → image in the local engine, side by side with a compose-watch-style loop
 * (`docker build` on the builder engine, then `docker save | docker load` into the local engine);
 * then, in the same run, the live-update rows of bench/dev-sync.ts (`depot dev --sync`: edit →
 * served by the running container, against rebuild-and-replace and a `docker cp` loop).
 * Run through the private engines: `scripts/with-engines.sh npm run bench`.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  BUILDER_ENGINE,
  DEPOT_BIN,
  devOn,
  isolatedEnv,
  LAPTOP_ENGINE,
  startBuilder,
  tempDir,
} from '../test/integration/harness.js';
import { devSyncBench } from './dev-sync.js';
import { median } from './timing.js';

const FILES = Number(process.env.DEPOT_BENCH_FILES ?? 20000);
const MB = Number(process.env.DEPOT_BENCH_MB ?? 200);
const RUNS = Number(process.env.DEPOT_BENCH_RUNS ?? 5);
// Contents no earlier run built: neither engine's cache nor the laptop's layers may answer.
const RUN_ID = `${process.pid}-${Date.now()}`;
const QUIET_MS = 200;

function makeContext(): string {
  const dir = tempDir('bench-dev');
  const per = Math.floor((MB * 1024 * 1024) / FILES);
  for (let i = 0; i < FILES; i++) {
    const sub = join(dir, `d${Math.floor(i / 500)}`);
    if (i % 500 === 0) mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `f${i}.bin`), randomBytes(per));
  }
  mkdirSync(join(dir, 'app'));
  writeFileSync(join(dir, 'app', 'main.txt'), 'v0\n');
  // The app copies its own folder; the rest of the context is there, as in a monorepo.
  writeFileSync(
    join(dir, 'Dockerfile'),
    'FROM busybox\nCOPY app /app\nRUN wc -c /app/main.txt > /app/size\n',
  );
  return dir;
}

function sh(cmd: string, env: Record<string, string>): void {
  const r = spawnSync('sh', ['-c', cmd], { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
}

/** CPU seconds (user + system) a process has used. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function main(): Promise<void> {
  if (!BUILDER_ENGINE) throw new Error('run through scripts/with-engines.sh');
  console.error(`dev bench: generating ${FILES} files / ${MB} MB …`);
  const ctx = makeContext();
  const builder = await startBuilder();
  const token = builder.token('bench-dev');
  const tag = 'bench-dev:latest';

  // depot dev with its events on stdout.
  const child: ChildProcess = spawn(
    process.execPath,
    [DEPOT_BIN, ...devOn(builder.url, token, 'json'), '-t', tag, ctx],
    {
      env: { ...process.env, ...isolatedEnv(), DOCKER_HOST: LAPTOP_ENGINE },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const events: { type: string; timeMs: number }[] = [];
  let buf = '';
  child.stdout!.on('data', (d) => {
    buf += d;
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      events.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
  });
  const waitFor = async (type: string, n: number) => {
    const deadline = Date.now() + 300_000;
    while (events.filter((e) => e.type === type).length < n) {
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for ${type} #${n}; last events:\n${events
            .slice(-15)
            .map((e) => JSON.stringify(e).slice(0, 300))
            .join('\n')}`,
        );
      await new Promise((r) => setTimeout(r, 5));
    }
    return events.filter((e) => e.type === type)[n - 1]!;
  };
  await waitFor('load/finished', 1);

  // Idle CPU over 10 s with the watcher and the session up.
  const cpu0 = cpuSeconds(child.pid!);
  await new Promise((r) => setTimeout(r, 10_000));
  const idleCpu = ((cpuSeconds(child.pid!) - cpu0) / 10) * 100;

  const startDelay: number[] = [];
  const depotEditToImage: number[] = [];
  for (let i = 1; i <= RUNS; i++) {
    const edited = Date.now();
    writeFileSync(join(ctx, 'app', 'main.txt'), `v${i} ${RUN_ID} ${'x'.repeat(i)}\n`);
    const started = await waitFor('build/started', i + 1);
    const loaded = await waitFor('load/finished', i + 1);
    startDelay.push(started.timeMs - (edited + QUIET_MS));
    depotEditToImage.push(loaded.timeMs - edited);
    await new Promise((r) => setTimeout(r, 500));
  }
  child.kill('SIGINT');
  await new Promise((r) => child.once('exit', r));
  await builder.stop();

  // Compose-watch-style loop on the same engines: build on the builder engine, move to the laptop.
  const env = { DOCKER_BUILDKIT: '1' };
  const dockerB = `DOCKER_HOST=${BUILDER_ENGINE} /usr/bin/docker`;
  const dockerL = `DOCKER_HOST=${LAPTOP_ENGINE} /usr/bin/docker`;
  sh(`${dockerB} build -q -t bench-dev:docker ${ctx} >/dev/null`, env);
  const dockerEditToImage: number[] = [];
  const cachedBuild: number[] = [];
  for (let i = 1; i <= RUNS; i++) {
    writeFileSync(join(ctx, 'app', 'main.txt'), `docker v${i} ${RUN_ID} ${'y'.repeat(i)}\n`);
    const t = performance.now();
    sh(`${dockerB} build -q -t bench-dev:docker ${ctx} >/dev/null`, env);
    sh(`${dockerB} save bench-dev:docker | ${dockerL} load -q >/dev/null`, env);
    dockerEditToImage.push(performance.now() - t);
    const c = performance.now();
    sh(`${dockerB} build -q -t bench-dev:docker ${ctx} >/dev/null`, env);
    cachedBuild.push(performance.now() - c);
  }

  const d = median(depotEditToImage);
  const k = median(dockerEditToImage);
  const cb = median(cachedBuild);
  console.log(`\ndev loop: ${FILES} files, ${MB} MB context, one-file change; median of ${RUNS}`);
  console.log('| measure | time | ratio |');
  console.log('| --- | --- | --- |');
  console.log(`| depot dev: build start after the quiet period | ${median(startDelay).toFixed(0)} ms | |`);
  console.log(
    `| depot dev: edit → image in local engine | ${d.toFixed(0)} ms | ${(d / cb).toFixed(2)}× engine cached build |`,
  );
  console.log(
    `| docker build + save/load: edit → image | ${k.toFixed(0)} ms | depot/docker ${(d / k).toFixed(2)}× |`,
  );
  console.log(`| engine's own cached build (docker build, no change) | ${cb.toFixed(0)} ms | |`);
  console.log(`| depot dev idle CPU (10 s, watcher + session) | ${idleCpu.toFixed(1)} % | |`);
  if (process.env.DEPOT_BENCH_SYNC !== '0') console.log(`\n${(await devSyncBench()).join('\n')}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
