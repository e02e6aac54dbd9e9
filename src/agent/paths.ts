/**
 * Where the local agent lives: one directory per user, 0700, holding its socket, its lock and its
 * log. `$DEPOT_AGENT_DIR`, else `$XDG_RUNTIME_DIR/depot` (a per-user tmpfs on most Linux desktops),
 * else `$XDG_CACHE_HOME/depot/agent` (~/.cache/depot/agent).
 */
import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DepotError } from '../errors/index.js';

export interface AgentPaths {
  dir: string;
  socket: string;
  lock: string;
  log: string;
}

export function agentPaths(env: NodeJS.ProcessEnv = process.env): AgentPaths {
  const dir =
    env.DEPOT_AGENT_DIR ||
    (env.XDG_RUNTIME_DIR
      ? join(env.XDG_RUNTIME_DIR, 'depot')
      : join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'depot', 'agent'));
  return { dir, socket: join(dir, 'agent.sock'), lock: join(dir, 'agent.lock'), log: join(dir, 'agent.log') };
}

/**
 * Creates the directory 0700 (or tightens it), and refuses one that another user owns or that is
 * a symlink: whoever can write there could answer in the agent's place.
 */
export function ensureAgentDir(paths: AgentPaths): void {
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(paths.dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid))
    throw new DepotError(
      'agent_dir_unsafe',
      `the agent directory ${paths.dir} is not a directory of this user`,
      'remove it, or set DEPOT_AGENT_DIR to a directory of your own',
    );
  if ((st.mode & 0o077) !== 0) chmodSync(paths.dir, 0o700);
}
