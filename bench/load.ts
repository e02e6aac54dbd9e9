/**
 * Load on one shared builder: CLIENTS concurrent clients × BUILDS builds each, spread over PROJECTS
 * projects, every build `--load`ed into the laptop engine and checked (the file the build wrote holds
 * what that client sent). Samples the builder's RSS and open fds while it runs, so a leak shows as a
 * slope. Run through the private engines: `scripts/with-engines.sh node --import tsx bench/load.ts`.
 * Sizes: DEPOT_LOAD_CLIENTS (8), DEPOT_LOAD_BUILDS (25), DEPOT_LOAD_PROJECTS (4); extra serve flags
 * in DEPOT_LOAD_SERVE_ARGS (e.g. "--gc-keep-storage 200MB --gc-interval 10s").
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildOn, DOCKER, depot, LAPTOP_ENGINE, startBuilder, tempDir } from '../test/integration/harness.js';

const CLIENTS = Number(process.env.DEPOT_LOAD_CLIENTS ?? 8);
const BUILDS = Number(process.env.DEPOT_LOAD_BUILDS ?? 25);
const PROJECTS = Number(process.env.DEPOT_LOAD_PROJECTS ?? 4);
const SERVE_ARGS = (process.env.DEPOT_LOAD_SERVE_ARGS ?? '').split(/\s+/).filter(Boolean);

function sample(pid: number): { rssMb: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { rssMb: Math.round(rssKb / 1024), fds: readdirSync(`/proc/${pid}/fd`).length };
}

function du(dir: string): number {
  const r = spawnSync('du', ['-sb', dir], { encoding: 'utf8' });
  return Number(r.stdout.split(/\s/)[0] ?? 0);
}

async function main(): Promise<void> {
  const builder = await startBuilder({ args: SERVE_ARGS });
  const pid = builder.child.pid!;
  const tokens = Array.from({ length: PROJECTS }, (_, i) => ({
    project: `load-${i}`,
    token: builder.token(`load-${i}`, `user-${i}`),
  }));
  const samples: Array<{ t: number; rssMb: number; fds: number }> = [];
  const t0 = performance.now();
  const timer = setInterval(() => samples.push({ t: performance.now() - t0, ...sample(pid) }), 1000);
  let failures = 0;
  let wrong = 0;
  const durations: number[] = [];

  const client = async (c: number) => {
    const { project, token } = tokens[c % PROJECTS]!;
    const ctx = tempDir(`load-${c}`);
    // A per-client base, so every client's builds also churn the engine's cache and names.
    for (let b = 0; b < BUILDS; b++) {
      const stamp = randomUUID();
      writeFileSync(join(ctx, 'stamp.txt'), `${stamp}\n`);
      writeFileSync(join(ctx, 'big.bin'), Buffer.alloc(256 * 1024, c * 31 + b));
      writeFileSync(
        join(ctx, 'Dockerfile'),
        `FROM busybox:latest\nCOPY big.bin /big.bin\nCOPY stamp.txt /stamp.txt\nRUN wc -c /big.bin > /size\n`,
      );
      const tag = `depot-load/c${c}:${b}`;
      const started = performance.now();
      const r = await depot([...buildOn(builder.url, token, project, 'quiet'), '--load', '-t', tag, ctx]);
      durations.push(performance.now() - started);
      if (r.code !== 0) {
        failures++;
        process.stderr.write(
          `client ${c} build ${b} failed: ${r.stderr.split('\n').slice(-3).join(' | ')}\n`,
        );
        continue;
      }
      const out = spawnSync(DOCKER, ['run', '--rm', tag, 'cat', '/stamp.txt'], {
        env: { ...process.env, DOCKER_HOST: LAPTOP_ENGINE },
        encoding: 'utf8',
      });
      if (out.stdout.trim() !== stamp) wrong++;
      spawnSync(DOCKER, ['rmi', '-f', tag], { env: { ...process.env, DOCKER_HOST: LAPTOP_ENGINE } });
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  clearInterval(timer);
  const wall = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 2000));
  const end = sample(pid);
  const store = du(join(builder.dataDir, 'blobs'));
  await builder.stop();

  const first = samples.slice(0, Math.max(1, Math.floor(samples.length / 4)));
  const last = samples.slice(-Math.max(1, Math.floor(samples.length / 4)));
  const avg = (xs: typeof samples, k: 'rssMb' | 'fds') =>
    Math.round(xs.reduce((n, x) => n + x[k], 0) / xs.length);
  const sorted = [...durations].sort((a, b) => a - b);
  const pct = (p: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);
  const report = {
    clients: CLIENTS,
    buildsPerClient: BUILDS,
    projects: PROJECTS,
    builds: durations.length,
    failures,
    wrongImages: wrong,
    wallSeconds: Math.round(wall),
    buildMsP50: pct(0.5),
    buildMsP95: pct(0.95),
    rssMb: {
      firstQuarter: avg(first, 'rssMb'),
      lastQuarter: avg(last, 'rssMb'),
      peak: Math.max(...samples.map((s) => s.rssMb)),
      afterIdle: end.rssMb,
    },
    fds: {
      firstQuarter: avg(first, 'fds'),
      lastQuarter: avg(last, 'fds'),
      peak: Math.max(...samples.map((s) => s.fds)),
      afterIdle: end.fds,
    },
    blobStoreBytes: store,
    serveArgs: SERVE_ARGS.join(' '),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (failures || wrong) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(2);
});
