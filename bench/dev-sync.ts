/**
 * `depot dev --sync`: edit → the new content served by the running container (busybox httpd), a
 * one-file edit in a directory of DEPOT_BENCH_MB (default 200) MB that the Dockerfile COPYs.
 * Side by side on the same laptop engine in the same run: depot dev --sync auto with saves one at a
 * time (each after the image rebuilt behind the last one landed), a save every second and one
 * every 4 s; depot dev without --sync (rebuild, load, replace the container); a compose-watch-style
 * `docker cp` of the file into the container (started right after the write: compose's own 500 ms
 * debounce is not counted); and `docker build` of the edit on the laptop engine (the rebuild alone).
 * DEPOT_BENCH_RUNS (default 10; the rebuild loops take 3). bench/dev.ts runs it too (same run).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  DEPOT_BIN,
  devOn,
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

/** One depot dev session's events (`--progress json` on its stdout), counted by type. */
function eventLog(child: ChildProcess) {
  const counts = new Map<string, number>();
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const type = (JSON.parse(line) as { type?: string }).type ?? '';
        counts.set(type, (counts.get(type) ?? 0) + 1);
      } catch {
        // not an event line
      }
    }
  });
  return {
    count: (...types: string[]) => types.reduce((n, t) => n + (counts.get(t) ?? 0), 0),
    async until(what: string, ok: () => boolean, timeoutMs = 300_000): Promise<void> {
      const t = performance.now();
      while (!ok()) {
        if (performance.now() - t > timeoutMs) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** How the saves come: each after the previous rebuild landed, or at a fixed rhythm. */
type Rhythm = { kind: 'settled' } | { kind: 'every'; ms: number };

interface Row {
  label: string;
  rhythm: Rhythm;
  runs: number;
}

/**
 * One depot dev session (`args`, e.g. `--sync auto`), the rows' saves one after the other:
 * edit → new content served, per row.
 */
async function devLoop(ctx: string, port: number, args: string[], rows: Row[]): Promise<number[][]> {
  const builder = await startBuilder();
  const token = builder.token('bench-sync');
  const child: ChildProcess = spawn(
    process.execPath,
    [DEPOT_BIN, ...devOn(builder.url, token, 'json'), '--run', `-p ${port}:80`, ...args, ctx],
    {
      env: { ...process.env, ...isolatedEnv(), DOCKER_HOST: LAPTOP_ENGINE },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const events = eventLog(child);
  // The rebuild behind a save has landed: the container was found in sync, or replaced.
  const landed = () => events.count('container/in-sync', 'container/started', 'container/failed');
  const out: number[][] = [];
  try {
    await events.until('the first container', () => landed() >= 1);
    await visibleAfter(port, '', performance.now(), 60_000);
    for (const row of rows) {
      const times: number[] = [];
      let beforeLast = 0;
      for (let i = 1; i <= row.runs; i++) {
        const want = `${row.label} ${i} ${RUN_ID}`;
        beforeLast = landed();
        const t = performance.now();
        writeFileSync(join(ctx, 'www', 'index.html'), `${want}\n`);
        times.push(await visibleAfter(port, want, t));
        const rhythm = row.rhythm;
        if (rhythm.kind === 'settled') {
          await events.until('the rebuild', () => landed() > beforeLast);
          // The engine writes the loaded layer out for a moment after the load answers.
          await new Promise((r) => setTimeout(r, 2000));
        } else await new Promise((r) => setTimeout(r, Math.max(0, t + rhythm.ms - performance.now())));
      }
      // The next row starts from a settled session: the rebuild behind the last save has landed.
      await events.until('the rebuild behind the last save', () => landed() > beforeLast);
      await new Promise((r) => setTimeout(r, 1000));
      out.push(times);
    }
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
    await builder.stop();
  }
  return out;
}

/** The table rows (markdown) of the live-update bench; every loop runs on the same engines now. */
export async function devSyncBench(): Promise<string[]> {
  if (!LAPTOP_ENGINE) throw new Error('run through scripts/with-engines.sh');
  console.error(`dev sync bench: ${MB} MB under the synced COPY …`);
  const ctx = makeContext();
  const port = 31_000 + (process.pid % 10_000);
  const rows: Row[] = [
    { label: 'settled', rhythm: { kind: 'settled' }, runs: RUNS },
    { label: 'every1s', rhythm: { kind: 'every', ms: 1000 }, runs: RUNS },
    { label: 'every4s', rhythm: { kind: 'every', ms: 4000 }, runs: RUNS },
  ];
  const [settled, every1, every4] = (await devLoop(ctx, port, ['--sync', 'auto'], rows)) as [
    number[],
    number[],
    number[],
  ];
  const [replace] = (await devLoop(
    ctx,
    port + 1,
    [],
    [{ label: 'replace', rhythm: { kind: 'settled' }, runs: SLOW_RUNS }],
  )) as [number[]];

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
    docker(LAPTOP_ENGINE, ['rmi', 'bench-sync:docker']);
  }

  const row = (label: string, xs: number[], target = '') =>
    `| ${label} | ${median(xs).toFixed(0)} ms${target} | ${Math.max(...xs).toFixed(0)} ms | ${xs.length} |`;
  const mark = (xs: number[]) => (median(xs) <= 150 ? ' ✔' : ' ✘');
  return [
    `dev --sync: one file edited beside ${MB} MB in the synced COPY (busybox httpd); edit → new content served`,
    '| loop | median | max | saves |',
    '| --- | --- | --- | --- |',
    row(
      'depot dev --sync auto, one save at a time (each 2 s after the rebuild behind the last one landed)',
      settled,
      mark(settled),
    ),
    row('depot dev --sync auto, a save every second (the rebuild waits for the pause)', every1, mark(every1)),
    row(
      'depot dev --sync auto, a save every 4 s (each rebuild and 211 MB load runs beside the next saves)',
      every4,
      mark(every4),
    ),
    row('compose-watch-style docker cp right after the write (no watcher, no 500 ms debounce)', cp),
    row('depot dev without --sync (rebuild, load, replace the container)', replace),
    row('docker build of the edit alone (laptop engine, no container)', rebuild),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`)
  devSyncBench()
    .then((lines) => console.log(`\n${lines.join('\n')}`))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
