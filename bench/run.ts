/**
 * depot benchmarks, side by side with `docker build` on the same engine in the same run.
 * Run through the private engines: `scripts/with-engines.sh npm run bench`.
 * Sizes: DEPOT_BENCH_FILES (default 20000), DEPOT_BENCH_MB (default 200), DEPOT_BENCH_RUNS (default 3).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { scanContext, updateScan } from '../src/context-sync/index.js';
import { createBuilderSession, type SyncBase } from '../src/session/index.js';
import {
  BUILDER_ENGINE,
  DEPOT_BIN,
  isolatedEnv,
  startBuilder,
  tempDir,
} from '../test/integration/harness.js';
import { median, type Timed, time, workerReady } from './timing.js';

const FILES = Number(process.env.DEPOT_BENCH_FILES ?? 20000);
const MB = Number(process.env.DEPOT_BENCH_MB ?? 200);
const RUNS = Number(process.env.DEPOT_BENCH_RUNS ?? 3);

function makeContext(): string {
  const dir = tempDir('bench-ctx');
  const per = Math.floor((MB * 1024 * 1024) / FILES);
  for (let i = 0; i < FILES; i++) {
    const sub = join(dir, `d${Math.floor(i / 500)}`);
    if (i % 500 === 0) mkdirSync(sub, { recursive: true });
    // Incompressible, distinct content: nothing dedups or compresses away.
    writeFileSync(join(sub, `f${i}.bin`), randomBytes(per));
  }
  writeFileSync(
    join(dir, 'Dockerfile'),
    'FROM busybox\nCOPY . /ctx\nRUN find /ctx -type f | wc -l > /count\n',
  );
  return dir;
}

function timeCmd(cmd: string, args: string[], env: Record<string, string>): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return performance.now() - t;
}

async function main(): Promise<void> {
  if (!BUILDER_ENGINE) throw new Error('run through scripts/with-engines.sh');
  console.error(`generating ${FILES} files / ${MB} MB …`);
  const ctx = makeContext();
  const builder = await startBuilder();
  const token = builder.token('bench');
  const session = createBuilderSession({ url: builder.url, token, project: 'bench' });
  const indexDir = tempDir('bench-index');
  const rows: string[][] = [];

  // First sync: cold index, empty builder store.
  let t = performance.now();
  let scan = await scanContext({ contextDir: ctx, indexDir });
  let out = await session.sync(scan, undefined);
  const first = performance.now() - t;
  rows.push([
    'first sync (scan + upload)',
    `${first.toFixed(0)} ms`,
    `${(out.bytesSent / 1e6).toFixed(1)} MB`,
  ]);
  let base: SyncBase = { snapshotId: out.snapshotId, entries: scan.entries };

  // No-change re-sync: warm index, delta against the acknowledged snapshot.
  const noChange: number[] = [];
  let noChangeBytes = 0;
  for (let i = 0; i < RUNS; i++) {
    t = performance.now();
    scan = await scanContext({ contextDir: ctx, indexDir });
    out = await session.sync(scan, base);
    noChange.push(performance.now() - t);
    noChangeBytes = out.bytesSent;
    base = { snapshotId: out.snapshotId, entries: scan.entries };
  }
  rows.push(['no-change re-sync', `${median(noChange).toFixed(0)} ms`, `${noChangeBytes} B`]);

  // One-file re-sync.
  const oneFile: number[] = [];
  let oneBytes = 0;
  const target = join(ctx, 'd0', 'f0.bin');
  for (let i = 0; i < RUNS; i++) {
    writeFileSync(target, `changed ${i} ${Date.now()}\n`.repeat(100));
    t = performance.now();
    scan = await scanContext({ contextDir: ctx, indexDir });
    out = await session.sync(scan, base);
    oneFile.push(performance.now() - t);
    oneBytes = out.bytesSent;
    base = { snapshotId: out.snapshotId, entries: scan.entries };
  }
  const fileSize = scan.entries.find((e) => e.path === 'd0/f0.bin')!.size;
  rows.push([
    'one-file re-sync (depot build: full scan)',
    `${median(oneFile).toFixed(0)} ms`,
    `${oneBytes} B (file ${fileSize} B)`,
  ]);

  // The same change as `depot dev` sees it: the watcher names the path, only it is re-examined.
  const devOne: number[] = [];
  let devBytes = 0;
  for (let i = 0; i < RUNS; i++) {
    writeFileSync(target, `dev change ${i} ${Date.now()}\n`.repeat(100));
    t = performance.now();
    scan = await updateScan(scan, ['d0/f0.bin'], { contextDir: ctx, indexDir });
    out = await session.sync(scan, base);
    devOne.push(performance.now() - t);
    devBytes = out.bytesSent;
    base = { snapshotId: out.snapshotId, entries: scan.entries };
  }
  rows.push([
    'one-file re-sync (depot dev: watcher + updateScan)',
    `${median(devOne).toFixed(0)} ms`,
    `${devBytes} B`,
  ]);
  session.close();

  // Fully cached rebuild end to end, depot vs docker build on the same engine.
  const env = { ...isolatedEnv(), DOCKER_HOST: BUILDER_ENGINE, DOCKER_BUILDKIT: '1' };
  const depotArgs = [
    DEPOT_BIN,
    'build',
    '--builder',
    builder.url,
    '--token',
    token,
    '--project',
    'bench',
    '--progress',
    'quiet',
    '-t',
    'bench:depot',
    ctx,
  ];
  const dockerArgs = ['build', '-q', '-t', 'bench:docker', ctx];
  timeCmd(process.execPath, depotArgs, env);
  timeCmd('/usr/bin/docker', dockerArgs, env);
  const depotT: number[] = [];
  const dockerT: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    depotT.push(timeCmd(process.execPath, depotArgs, env));
    dockerT.push(timeCmd('/usr/bin/docker', dockerArgs, env));
  }
  const d = median(depotT);
  const k = median(dockerT);
  rows.push(['cached rebuild: depot build (result reuse)', `${d.toFixed(0)} ms`, '']);
  rows.push(['cached rebuild: docker build', `${k.toFixed(0)} ms`, `ratio ${(d / k).toFixed(2)}×`]);

  // The same through the local agent (warm: its first scan is not counted), and one file edited.
  const agentEnv = { ...env, DEPOT_AGENT: '1', DEPOT_AGENT_DIR: tempDir('bench-agent') };
  const jsonArgs = depotArgs.map((a) => (a === 'quiet' ? 'json' : a));
  time(process.execPath, jsonArgs, agentEnv);
  const agentT: Timed[] = [];
  for (let i = 0; i < RUNS; i++) {
    workerReady(DEPOT_BIN, agentEnv);
    agentT.push(time(process.execPath, jsonArgs, agentEnv));
  }
  const a = median(agentT.map((x) => x.ms));
  rows.push([
    'cached rebuild: depot build through the agent',
    `${a.toFixed(0)} ms`,
    `ratio ${(a / k).toFixed(2)}×`,
  ]);
  for (const [label, e] of [
    ['without the agent', env],
    ['through the agent', agentEnv],
  ] as const) {
    const edited: Timed[] = [];
    const dockerEdited: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      if (e === agentEnv) workerReady(DEPOT_BIN, agentEnv);
      writeFileSync(target, `edit ${label} ${i} ${Date.now()}\n`.repeat(100));
      edited.push(time(process.execPath, jsonArgs, e));
      writeFileSync(target, `docker edit ${label} ${i} ${Date.now()}\n`.repeat(100));
      dockerEdited.push(time('/usr/bin/docker', dockerArgs, env).ms);
    }
    const m = median(edited.map((x) => x.ms));
    const o = median(dockerEdited);
    rows.push([
      `one file edited, then depot build ${label}`,
      `${m.toFixed(0)} ms (spawn → sync acked ${median(edited.map((x) => x.beforeBuildMs)).toFixed(0)} ms, sync ${median(edited.map((x) => x.syncMs)).toFixed(0)} ms)`,
      `ratio ${(m / o).toFixed(2)}× docker build (${o.toFixed(0)} ms)`,
    ]);
  }
  time(process.execPath, [DEPOT_BIN, 'agent', 'stop'], agentEnv);
  await builder.stop();

  // The engine path itself (no result reuse): the session driver against the tar driver.
  for (const driver of ['session', 'tar'] as const) {
    const b = await startBuilder({ args: ['--driver', driver, '--no-result-reuse'] });
    const tok = b.token('bench');
    const args = (progress: string, tag: string) => [
      DEPOT_BIN,
      'build',
      '--builder',
      b.url,
      '--token',
      tok,
      '--project',
      'bench',
      '--progress',
      progress,
      '-t',
      tag,
      ctx,
    ];
    timeCmd(process.execPath, args('quiet', `bench:${driver}`), env);
    const mine: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      mine.push(timeCmd(process.execPath, args('quiet', `bench:${driver}`), env));
      theirs.push(timeCmd('/usr/bin/docker', dockerArgs, env));
    }
    const m = median(mine);
    const o = median(theirs);
    rows.push([
      `cached rebuild, engine path: depot build (${driver} driver)`,
      `${m.toFixed(0)} ms`,
      `ratio ${(m / o).toFixed(2)}× docker build (${o.toFixed(0)} ms)`,
    ]);
    if (driver === 'session') {
      // One file changed: what BuildKit itself reports as "transferring context", both ways.
      writeFileSync(target, `engine change ${Date.now()}\n`.repeat(100));
      const size = Buffer.byteLength(`engine change ${Date.now()}\n`.repeat(100));
      const r = spawnSync(process.execPath, args('json', `bench:${driver}`), {
        env: { ...process.env, ...env },
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`depot build failed: ${r.stderr}`);
      let transferred = 0;
      for (const line of r.stdout.split('\n')) {
        if (!line.trim()) continue;
        const ev = JSON.parse(line) as { type: string; status?: { id: string; current: number } };
        if (ev.type === 'status/updated' && ev.status?.id.startsWith('transferring context'))
          transferred = Math.max(transferred, ev.status.current);
      }
      writeFileSync(target, `docker change ${Date.now()}\n`.repeat(100));
      const dk = spawnSync('/usr/bin/docker', ['build', '--progress', 'plain', '-t', 'bench:docker', ctx], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
      });
      const dm = [...dk.stderr.matchAll(/transferring context: ([\d.]+)([kMG]?B)/g)].pop();
      rows.push([
        'one file changed: BuildKit "transferring context"',
        '',
        `depot ${transferred} B, docker build ${dm ? `${dm[1]}${dm[2]}` : '?'} (file ${size} B)`,
      ]);
    }
    await b.stop();
  }

  console.log(`context: ${FILES} files, ${MB} MB; median of ${RUNS}`);
  console.log('| measure | client time | bytes / ratio |');
  console.log('| --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
