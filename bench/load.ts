/**
 * Load on one shared builder: CLIENTS concurrent clients × BUILDS builds each, spread over PROJECTS
 * projects, every build `--load`ed into the laptop engine and checked (the file the build wrote holds
 * what that client sent). Samples the builder's RSS and open fds while it runs, so a leak shows as a
 * slope. Run through the private engines: `scripts/with-engines.sh node --import tsx bench/load.ts`.
 * Sizes: DEPOT_LOAD_CLIENTS (8), DEPOT_LOAD_BUILDS (25), DEPOT_LOAD_PROJECTS (4); extra serve flags
 * in DEPOT_LOAD_SERVE_ARGS (e.g. "--gc-keep-storage 200MB --gc-interval 10s").
 *
 * RSS alone cannot tell a leak from V8 growing its heap lazily, so the builder also writes a heap
 * snapshot (Node's --heapsnapshot-signal; writing one runs a full collection first) after each
 * quarter of the builds and once idle at the end: the live heap after collection, quarter by
 * quarter, is what must stay flat. Writing a snapshot costs the process native memory it may keep:
 * DEPOT_LOAD_HEAP_SNAPSHOTS=0 leaves them out when RSS itself is the question.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildOn, DOCKER, depot, LAPTOP_ENGINE, startBuilder, tempDir } from '../test/integration/harness.js';

const CLIENTS = Number(process.env.DEPOT_LOAD_CLIENTS ?? 8);
const BUILDS = Number(process.env.DEPOT_LOAD_BUILDS ?? 25);
const PROJECTS = Number(process.env.DEPOT_LOAD_PROJECTS ?? 4);
const HEAP_SNAPSHOTS = process.env.DEPOT_LOAD_HEAP_SNAPSHOTS !== '0';
const SERVE_ARGS = (process.env.DEPOT_LOAD_SERVE_ARGS ?? '').split(/\s+/).filter(Boolean);

function sample(pid: number): { rssMb: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { rssMb: Math.round(rssKb / 1024), fds: readdirSync(`/proc/${pid}/fd`).length };
}

/** Live heap after a full collection: the builder writes a snapshot; its nodes' self sizes add up to it. */
async function heapAfterGc(pid: number, dir: string): Promise<{ mb: number; nodes: number }> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  let file = '';
  let size = -1;
  // The snapshot is written on the builder's main thread: done once its file stops growing and parses.
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    file ||= readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f)) ?? '';
    if (!file) continue;
    const now = statSync(join(dir, file)).size;
    if (now !== size || now === 0) {
      size = now;
      continue;
    }
    try {
      const snap = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
        snapshot: { meta: { node_fields: string[] }; node_count: number };
        nodes: number[];
      };
      const fields = snap.snapshot.meta.node_fields;
      const self = fields.indexOf('self_size');
      let bytes = 0;
      for (let i = self; i < snap.nodes.length; i += fields.length) bytes += snap.nodes[i]!;
      rmSync(join(dir, file));
      return { mb: Math.round((bytes / 1024 / 1024) * 10) / 10, nodes: snap.snapshot.node_count };
    } catch {
      // Not complete yet.
    }
  }
}

/** Bytes of the store's blob and snapshot files: what its collection's budget counts (no directory sizes). */
function storeBytes(dataDir: string): number {
  let n = 0;
  for (const sub of ['blobs', 'snapshots'])
    for (const e of readdirSync(join(dataDir, sub), { withFileTypes: true, recursive: true }))
      if (e.isFile()) n += statSync(join(e.parentPath, e.name), { throwIfNoEntry: false })?.size ?? 0;
  return n;
}

async function main(): Promise<void> {
  const snapDir = tempDir('load-heap');
  const nodeOptions = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${nodeOptions ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapDir}`;
  const builder = await startBuilder({ args: SERVE_ARGS });
  if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = nodeOptions;
  const pid = builder.child.pid!;
  const heap: Array<{ afterBuilds: number; mb: number; nodes: number }> = [];
  let done = 0;
  let snapping = Promise.resolve();
  const quarter = Math.max(1, Math.floor((CLIENTS * BUILDS) / 4));
  const tokens = Array.from({ length: PROJECTS }, (_, i) => ({
    project: `load-${i}`,
    token: builder.token(`load-${i}`, `user-${i}`),
  }));
  const samples: Array<{ t: number; rssMb: number; fds: number }> = [];
  const t0 = performance.now();
  const storeSamples: number[] = [];
  const timer = setInterval(() => {
    samples.push({ t: performance.now() - t0, ...sample(pid) });
    if (samples.length % 5 === 0) storeSamples.push(storeBytes(builder.dataDir));
  }, 1000);
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
      if (++done % quarter === 0 && done < CLIENTS * BUILDS && HEAP_SNAPSHOTS) {
        const at = done;
        snapping = snapping.then(async () => {
          heap.push({ afterBuilds: at, ...(await heapAfterGc(pid, snapDir)) });
        });
      }
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
  await snapping;
  if (HEAP_SNAPSHOTS) heap.push({ afterBuilds: done, ...(await heapAfterGc(pid, snapDir)) });
  const end = sample(pid);
  const store = storeBytes(builder.dataDir);
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
      // The run in tenths (mean of each), to tell a slope from a step that levels off.
      byTenth: Array.from({ length: 10 }, (_, i) =>
        avg(
          samples.slice(Math.floor((i * samples.length) / 10), Math.floor(((i + 1) * samples.length) / 10)),
          'rssMb',
        ),
      ),
    },
    fds: {
      firstQuarter: avg(first, 'fds'),
      lastQuarter: avg(last, 'fds'),
      peak: Math.max(...samples.map((s) => s.fds)),
      afterIdle: end.fds,
    },
    heapAfterGc: heap,
    storeBytes: {
      // Sampled every 5 s during the run: with a collection budget, how far churn runs ahead of it.
      median: [...storeSamples].sort((a, b) => a - b)[Math.floor(storeSamples.length / 2)] ?? 0,
      peak: Math.max(0, ...storeSamples),
      afterIdle: store,
    },
    serveArgs: SERVE_ARGS.join(' '),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (failures || wrong) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(2);
});
