/**
 * First sync of a fresh context of many small files, against docker build's cold context transfer
 * of the same tree on the same engine in the same run. Run through the private engines:
 * `scripts/with-engines.sh node --import tsx bench/first-sync.ts`.
 * Sizes: DEPOT_BENCH_FILES (default 20000), DEPOT_BENCH_MB (default 200).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { scanContext } from '../src/context-sync/index.js';
import { createBuilderSession } from '../src/session/index.js';
import { BUILDER_ENGINE, startBuilder, tempDir } from '../test/integration/harness.js';

const FILES = Number(process.env.DEPOT_BENCH_FILES ?? 20000);
const MB = Number(process.env.DEPOT_BENCH_MB ?? 200);

function makeContext(dockerfile: string): string {
  const dir = tempDir('bench-first');
  const per = Math.floor((MB * 1024 * 1024) / FILES);
  for (let i = 0; i < FILES; i++) {
    const sub = join(dir, `d${Math.floor(i / 500)}`);
    if (i % 500 === 0) mkdirSync(sub, { recursive: true });
    // Incompressible, distinct content: nothing dedups or compresses away.
    writeFileSync(join(sub, `f${i}.bin`), randomBytes(per));
  }
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

async function main(): Promise<void> {
  if (!BUILDER_ENGINE) throw new Error('run through scripts/with-engines.sh');
  console.error(`generating ${FILES} files / ${MB} MB …`);
  const ctx = makeContext('FROM scratch\nCOPY . /x\n');
  const builder = await startBuilder();
  const session = createBuilderSession({ url: builder.url, token: builder.token('bench'), project: 'bench' });
  const t0 = performance.now();
  const scan = await scanContext({ contextDir: ctx, indexDir: tempDir('bench-first-index') });
  const t1 = performance.now();
  const out = await session.sync(scan, undefined);
  const t2 = performance.now();
  session.close();
  await builder.stop();

  // docker build's cold context transfer: a fresh tree (nothing cached by BuildKit for it).
  const fresh = makeContext(`FROM scratch\nCOPY . /x\n# ${Date.now()}\n`);
  const d0 = performance.now();
  const r = spawnSync(
    '/usr/bin/docker',
    ['build', '--progress', 'plain', '-t', `bench-first:${Date.now()}`, fresh],
    { env: { ...process.env, DOCKER_HOST: BUILDER_ENGINE, DOCKER_BUILDKIT: '1' }, encoding: 'utf8' },
  );
  const d1 = performance.now();
  if (r.status !== 0) throw new Error(`docker build failed: ${r.stderr}`);
  const line =
    r.stderr
      .split('\n')
      .filter((l) => /transferring context: .* done/.test(l))
      .pop() ?? '?';
  const reported = /transferring context: ([\d.]+[kMG]?B) ([\d.]+)s done/.exec(line);

  console.log(`context: ${FILES} files, ${MB} MB`);
  console.log(
    `depot first sync: ${(t2 - t0).toFixed(0)} ms (scan ${(t1 - t0).toFixed(0)} ms, sync ${(t2 - t1).toFixed(0)} ms, ${(out.bytesSent / 1e6).toFixed(1)} MB sent)`,
  );
  console.log(
    `docker build (cold): ${(d1 - d0).toFixed(0)} ms total; transferring context ${reported ? `${reported[1]} in ${reported[2]} s` : line}`,
  );
  if (reported)
    console.log(`ratio: ${((t2 - t0) / (Number(reported[2]) * 1000)).toFixed(2)}× docker's transfer`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
