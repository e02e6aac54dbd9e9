import {
  DEFAULT_FLEET_TTL_MS,
  formatBuildersJson,
  formatBuildersTable,
  listBuilders,
  openFleet,
  resolveFleetSpec,
} from '../arch/index.js';
import { loadToken, openConfig } from './credentials.js';
import { fleetTokenKey } from './targets.js';

/** `depot builders ls`: every builder of the fleet with health, latency, version and heartbeat age. */
export async function runBuildersLs(o: {
  json?: boolean;
  fleet?: string;
  token?: string;
  project?: string;
}): Promise<void> {
  const config = openConfig();
  const { spec } = resolveFleetSpec({ flag: o.fleet, config: config.get('fleet') });
  const token = o.token || process.env.DEPOT_TOKEN || (await loadToken(fleetTokenKey(spec))) || '';
  const rows = await listBuilders({
    records: await openFleet(spec).list(),
    now: Date.now(),
    ttlMs: DEFAULT_FLEET_TTL_MS,
    token,
    project: o.project || config.get('project'),
    caFile: process.env.DEPOT_TLS_CA,
  });
  process.stdout.write(o.json ? formatBuildersJson(rows) : formatBuildersTable(rows, spec));
}

const KEYS = ['builder', 'project', 'fleet'] as const;

/** `depot config set|get|unset KEY [VALUE]`. */
export async function runConfig(action: string, key: string, value?: string): Promise<void> {
  const { DepotError } = await import('../session/index.js');
  if (!KEYS.includes(key as (typeof KEYS)[number]))
    throw new DepotError(
      'invalid_flag',
      `unknown setting ${JSON.stringify(key)}`,
      `use one of ${KEYS.join(', ')}`,
    );
  const config = openConfig();
  const k = key as (typeof KEYS)[number];
  if (action === 'get') {
    process.stdout.write(`${config.get(k) ?? ''}\n`);
  } else if (action === 'unset') {
    config.delete(k);
  } else if (action === 'set') {
    if (!value) throw new DepotError('invalid_flag', `depot config set ${key} needs a value`);
    if (k === 'fleet') resolveFleetSpec({ flag: value });
    config.set(k, value);
  } else {
    throw new DepotError(
      'invalid_flag',
      `unknown config action ${JSON.stringify(action)}`,
      'use set, get or unset',
    );
  }
}
