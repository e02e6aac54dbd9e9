import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseFleetSpec } from '../protocol/fleet/index.js';

/** The fleet a client reads when nothing names one: `file:$XDG_DATA_HOME/depot/fleet.json`. */
export function defaultFleetSpec(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return `file:${join(base, 'depot', 'fleet.json')}`;
}

/**
 * The fleet spec in force: `--fleet`, else DEPOT_FLEET, else the `fleet` config key (`depot config
 * set fleet …`), else the default file. Validated (FleetError 'invalid_fleet'); `source` says which won.
 */
export function resolveFleetSpec(opts: { flag?: string; env?: NodeJS.ProcessEnv; config?: string }): {
  spec: string;
  source: 'flag' | 'env' | 'config' | 'default';
} {
  const env = opts.env ?? process.env;
  const pick = (
    [
      [opts.flag, 'flag'],
      [env.DEPOT_FLEET, 'env'],
      [opts.config, 'config'],
    ] as const
  ).find(([v]) => typeof v === 'string' && v.trim() !== '');
  const spec = pick ? pick[0]!.trim() : defaultFleetSpec(env);
  parseFleetSpec(spec);
  return { spec, source: pick ? pick[1] : 'default' };
}
