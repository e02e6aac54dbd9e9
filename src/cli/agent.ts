/** `depot agent run|status|stop|logs`: the local agent that keeps contexts warm between builds. */
import { createReadStream, existsSync, realpathSync } from 'node:fs';
import { agentStatus, stopAgent } from '../agent/client.js';
import { agentPaths } from '../agent/paths.js';
import { runAgent } from '../agent/server.js';
import { DepotError } from '../errors/index.js';

const DEFAULT_IDLE_MS = 30 * 60 * 1000;

function idleExitMs(): number {
  const raw = process.env.DEPOT_AGENT_IDLE_MS;
  if (raw === undefined || raw === '') return DEFAULT_IDLE_MS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0)
    throw new DepotError(
      'invalid_flag',
      `invalid DEPOT_AGENT_IDLE_MS ${JSON.stringify(raw)}: use milliseconds, e.g. 1800000`,
    );
  return n;
}

/** Runs the agent in the foreground (what `depot build` starts in the background). */
export async function runAgentCommand(): Promise<void> {
  const paths = agentPaths();
  const log = (msg: string, fields: Record<string, unknown> = {}) =>
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);
  // DEPOT_AGENT_WORKER=0: the agent syncs for builds but runs none (the client runs its own).
  const workerBin = process.env.DEPOT_AGENT_WORKER === '0' ? undefined : realpathSync(process.argv[1] ?? '');
  const ran = await runAgent({ paths, idleExitMs: idleExitMs(), version: '0.1.0', log, workerBin });
  if (!ran) process.stderr.write(`depot: an agent is already running (depot agent status)\n`);
}

export async function runAgentStatus(opts: { json?: boolean }): Promise<void> {
  const paths = agentPaths();
  const s = await agentStatus(paths);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(s ? { running: true, ...s } : { running: false }, null, 2)}\n`);
    return;
  }
  if (!s) {
    process.stdout.write(`depot agent: not running (it starts with the next depot build)\n`);
    return;
  }
  const mins = Math.round(s.idleExitMs / 60000);
  let out = `depot agent: running, pid ${s.pid}, since ${s.startedAt}, exits after ${mins} min idle\n`;
  out += `socket: ${paths.socket}\n`;
  for (const c of s.contexts) {
    const what = c.scope ? `${c.scope.length} path${c.scope.length === 1 ? '' : 's'} of` : 'all of';
    out += `  ${what} ${c.contextDir}: ${c.entries} entries, ${c.watching ? 'watched' : 'not watched'}; scans reused ${c.scans.reused}, updated ${c.scans.updated}, walked ${c.scans.walked}; pre-synced ${c.presyncs}\n`;
  }
  for (const w of s.watchers ?? []) {
    const state = !w.live ? 'starting' : w.polling ? 'polling' : 'watching';
    out += `  watcher of ${w.contextDir}: ${state}, ${w.subscribers} dev session${w.subscribers === 1 ? '' : 's'}\n`;
  }
  process.stdout.write(out);
}

export async function runAgentStop(): Promise<void> {
  const stopped = await stopAgent(agentPaths());
  process.stdout.write(stopped ? 'depot agent: stopped\n' : 'depot agent: not running\n');
}

export async function runAgentLogs(): Promise<void> {
  const { log } = agentPaths();
  if (!existsSync(log)) return;
  await new Promise<void>((resolve, reject) => {
    const s = createReadStream(log);
    s.on('error', reject);
    s.on('end', resolve);
    s.pipe(process.stdout, { end: false });
  });
}
