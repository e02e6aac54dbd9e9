import {
  DEFAULT_FLEET_TTL_MS,
  formatBuildersJson,
  formatBuildersTable,
  listBuilders,
  openFleet,
  probeDirectBuilder,
  resolveFleetSpec,
} from '../arch/index.js';
import { validateBuilderUrl } from '../session/index.js';
import { loadToken, openConfig, storedTokenNames } from './credentials.js';
import { fleetTokenKey } from './targets.js';

/**
 * `depot builders ls`: the builder of `depot login` (or --builder / DEPOT_BUILDER) and every builder
 * of the fleet, with health, latency, version and heartbeat age.
 */
export async function runBuildersLs(o: {
  json?: boolean;
  fleet?: string;
  builder?: string;
  token?: string;
  project?: string;
}): Promise<void> {
  const config = openConfig();
  const { spec } = resolveFleetSpec({ flag: o.fleet, config: config.get('fleet') });
  const project = o.project || config.get('project');
  const direct = o.builder || process.env.DEPOT_BUILDER || config.get('builder');
  const token = o.token || process.env.DEPOT_TOKEN || (await loadToken(fleetTokenKey(spec))) || '';
  const records = await openFleet(spec).list();
  const [fleetRows, directRow] = await Promise.all([
    listBuilders({ records, now: Date.now(), ttlMs: DEFAULT_FLEET_TTL_MS, token, project }),
    direct && !records.some((r) => r.endpoint === direct)
      ? (async () => {
          const url = validateBuilderUrl(direct);
          // The builder's own stored token first: a fleet's team token may not be valid there.
          const t = (await loadToken(url)) || o.token || process.env.DEPOT_TOKEN || '';
          return probeDirectBuilder(url, { token: t, project });
        })()
      : undefined,
  ]);
  const rows = directRow ? [directRow, ...fleetRows] : fleetRows;
  process.stdout.write(o.json ? formatBuildersJson(rows) : formatBuildersTable(rows, spec));
}

const KEYS = ['builder', 'project', 'fleet'] as const;

/** `depot config list`, `depot config set|get|unset KEY [VALUE]`. */
export async function runConfig(action: string, key: string | undefined, value?: string): Promise<void> {
  const { DepotError, validateBuilderUrl } = await import('../session/index.js');
  if (action === 'list') {
    if (key) throw new DepotError('invalid_flag', 'depot config list takes no key');
    const config = openConfig();
    // Settings and the names tokens are stored under; never a token itself.
    const lines = KEYS.map((k) => `${k}=${config.get(k) ?? ''}`);
    const names = await storedTokenNames();
    lines.push(`tokens stored for=${names.join(',')}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return;
  }
  if (!key)
    throw new DepotError(
      'invalid_flag',
      `depot config ${action} needs a key`,
      `use one of ${KEYS.join(', ')}`,
    );
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
    config.set(k, k === 'builder' ? validateBuilderUrl(value) : value);
  } else {
    throw new DepotError(
      'invalid_flag',
      `unknown config action ${JSON.stringify(action)}`,
      'use list, set, get or unset',
    );
  }
}
