/**
 * Start-up of the binaries: the bundles (package.json `bin`) against tsc's unbundled output, in
 * the same run, interleaved so both see the same machine load. Needs `npm run build`, no engines.
 * Runs per command: DEPOT_BENCH_RUNS (default 21). Prints median and best wall ms.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BUILDER_BIN, DEPOT_BIN, ROOT } from '../test/integration/harness.js';
import { workerReady } from './timing.js';

const RUNS = Number(process.env.DEPOT_BENCH_RUNS ?? 21);
const TSC_DEPOT = join(ROOT, 'dist', 'src', 'cli', 'bin.js');
const TSC_BUILDER = join(ROOT, 'dist', 'builder-host', 'src', 'bin.js');

// `depot build` of a directory that does not exist: the command loads everything a build needs,
// then stops at its first check of the context. That is the time until a build starts working.
const missing = join(mkdtempSync(join(tmpdir(), 'depot-bench-startup-')), 'absent');

const cases: { name: string; args: string[]; bundle: string; tsc: string }[] = [
  { name: 'node -e 0 (floor)', args: ['-e', '0'], bundle: '', tsc: '' },
  { name: 'depot --version', args: ['--version'], bundle: DEPOT_BIN, tsc: TSC_DEPOT },
  { name: 'depot build --help', args: ['build', '--help'], bundle: DEPOT_BIN, tsc: TSC_DEPOT },
  {
    name: 'depot build (to first check)',
    args: ['build', '--progress', 'plain', missing],
    bundle: DEPOT_BIN,
    tsc: TSC_DEPOT,
  },
  { name: 'depot-builder --version', args: ['--version'], bundle: BUILDER_BIN, tsc: TSC_BUILDER },
];

function runOnce(script: string, args: string[], extra: Record<string, string> = {}): number {
  const argv = script ? [script, ...args] : args;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, {
    stdio: 'ignore',
    // No configured builder, no engine: nothing slower than start-up happens.
    env: { ...process.env, DEPOT_BUILDER: '', DOCKER_HOST: 'unix:///nonexistent.sock', ...extra },
  });
  const ms = performance.now() - t0;
  if (r.error) throw r.error;
  return ms;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, best: s[0]! };
};

for (const bin of [DEPOT_BIN, BUILDER_BIN, TSC_DEPOT, TSC_BUILDER]) {
  if (!existsSync(bin)) throw new Error(`${bin} missing: run npm run build`);
}

console.log(`start-up, ${RUNS} runs each, wall ms (median / best), node ${process.version}`);
console.log(`${'command'.padEnd(32)} ${'bundle'.padStart(14)} ${'tsc output'.padStart(14)}`);
for (const c of cases) {
  const bundle: number[] = [];
  const tsc: number[] = [];
  // One warm-up each: the first run pays for the page cache.
  runOnce(c.bundle, c.args);
  if (c.tsc) runOnce(c.tsc, c.args);
  for (let i = 0; i < RUNS; i++) {
    bundle.push(runOnce(c.bundle, c.args));
    if (c.tsc) tsc.push(runOnce(c.tsc, c.args));
  }
  const fmt = (xs: number[]) => {
    if (!xs.length) return '-'.padStart(14);
    const s = stats(xs);
    return `${s.median.toFixed(0)} / ${s.best.toFixed(0)}`.padStart(14);
  };
  console.log(`${c.name.padEnd(32)} ${fmt(bundle)} ${fmt(tsc)}`);
}

// The same `depot build` handed to the local agent's warm worker: the client loads only what it
// needs to forward the command line, the worker has the rest loaded already.
const agentEnv = { DEPOT_AGENT: '1', DEPOT_AGENT_DIR: mkdtempSync(join(tmpdir(), 'depot-bench-agent-')) };
const agent = spawn(process.execPath, [DEPOT_BIN, 'agent', 'run'], {
  env: { ...process.env, ...agentEnv },
  stdio: 'ignore',
});
const viaWorker: number[] = [];
const buildArgs = ['build', '--progress', 'plain', missing];
for (let i = 0; i <= RUNS; i++) {
  workerReady(DEPOT_BIN, agentEnv);
  const ms = runOnce(DEPOT_BIN, buildArgs, agentEnv);
  if (i > 0) viaWorker.push(ms);
}
agent.kill();
const w = stats(viaWorker);
console.log(
  `${'depot build, warm worker'.padEnd(32)} ${`${w.median.toFixed(0)} / ${w.best.toFixed(0)}`.padStart(14)} ${'-'.padStart(14)}`,
);
