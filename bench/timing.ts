/** Timing helpers shared by the benchmarks. */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export interface Timed {
  ms: number;
  /** `--progress json` runs: from spawn to the builder's acknowledgement of the sync (NaN otherwise). */
  beforeBuildMs: number;
  /** `--progress json` runs: from sync/started to sync/acked (NaN otherwise). */
  syncMs: number;
}

/** Runs a command to completion (throws when it fails) and times it. */
export function time(cmd: string, args: string[], env: Record<string, string>): Timed {
  const wall = Date.now();
  const t = performance.now();
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  let beforeBuildMs = Number.NaN;
  let syncStarted = Number.NaN;
  let syncMs = Number.NaN;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('{"type":"sync/started"'))
      syncStarted = (JSON.parse(line) as { timeMs: number }).timeMs;
    if (!line.startsWith('{"type":"sync/acked"')) continue;
    const at = (JSON.parse(line) as { timeMs: number }).timeMs;
    beforeBuildMs = at - wall;
    syncMs = at - syncStarted;
  }
  return { ms, beforeBuildMs, syncMs };
}

/**
 * Waits, untimed, until the local agent (DEPOT_AGENT_DIR in `env`) has a warm worker: builds a
 * person issues seconds apart find one ready. Builds issued faster than a worker warms up (about
 * half a second of CPU) wait for it, or run in process.
 */
export function workerReady(depotBin: string, env: Record<string, string>, timeoutMs = 20_000): void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = spawnSync(process.execPath, [depotBin, 'agent', 'status', '--json'], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    if (r.status === 0 && (JSON.parse(r.stdout) as { worker?: string }).worker === 'ready') return;
    if (Date.now() > deadline) throw new Error(`the agent has no warm worker: ${r.stdout}${r.stderr}`);
    spawnSync('sleep', ['0.05']);
  }
}
