import {
  createProbe,
  DEFAULT_FLEET_TTL_MS,
  formatPlatform,
  hostPlatform,
  openFleet,
  resolveBuildPlatform,
  resolveFleetSpec,
  routeBuild,
} from '../arch/index.js';
import { DepotError, isTransportError, transportFromEnv, validateBuilderUrl } from '../session/index.js';
import { type BuildOptions, openBuilderTarget } from './build-inputs.js';
import { loadToken, openConfig } from './credentials.js';

/** Where one platform of a build goes. */
export interface PlatformTarget {
  /** Normalised target platform; '' means the builder's default (single-platform builds only). */
  platform: string;
  url: string;
  token: string;
  project: string | undefined;
  embedded: boolean;
  builderId?: string;
  /** Chosen by fleet routing, which matched the platform against the builder's record already. */
  routed?: boolean;
  close?: () => Promise<void>;
}

export interface TargetOptions extends Pick<BuildOptions, 'builder' | 'token' | 'project'> {
  fleet?: string;
  buildPlatform?: string;
  allowEmulation?: boolean;
}

/** The name under which `depot login --fleet` keeps a team token. */
export const fleetTokenKey = (spec: string) => `fleet:${spec}`;

/** The token for a fleet: --token, DEPOT_TOKEN, else the one `depot login --fleet` kept. */
export async function fleetToken(spec: string, flag: string | undefined): Promise<string> {
  const token = flag || process.env.DEPOT_TOKEN || (await loadToken(fleetTokenKey(spec)));
  if (!token)
    throw new DepotError(
      'unauthenticated',
      `no token for fleet ${spec}`,
      `run \`depot login --fleet ${spec}\` or pass --token / DEPOT_TOKEN`,
    );
  return token;
}

/**
 * The override hook for target selection until fleet routing replaces it:
 * `DEPOT_BUILDERS_BY_PLATFORM='linux/amd64=tcp://h:p,linux/arm64=tcp://h2:p'`.
 */
function parseBuildersByPlatform(value: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of value.split(',').map((s) => s.trim())) {
    if (!item) continue;
    const eq = item.indexOf('=');
    if (eq <= 0 || eq === item.length - 1)
      throw new DepotError(
        'invalid_flag',
        `invalid DEPOT_BUILDERS_BY_PLATFORM entry ${JSON.stringify(item)}`,
        'use PLATFORM=URL[,PLATFORM=URL…]',
      );
    out.set(item.slice(0, eq), validateBuilderUrl(item.slice(eq + 1)));
  }
  return out;
}

/** Whether a builder other than the embedded one would take a build with `opts` (nothing is started). */
export async function remoteBuilderConfigured(opts: TargetOptions): Promise<boolean> {
  const env = process.env;
  const config = openConfig();
  if (env.DEPOT_BUILDERS_BY_PLATFORM || opts.builder || env.DEPOT_BUILDER || config.get('builder'))
    return true;
  const { spec, source } = resolveFleetSpec({ flag: opts.fleet, env, config: config.get('fleet') });
  return source !== 'default' || (await openFleet(spec).list()).length > 0;
}

/**
 * Picks a builder for each platform. In order: DEPOT_BUILDERS_BY_PLATFORM; an explicit builder
 * (--builder, DEPOT_BUILDER, `depot login`) for every platform; the fleet (--fleet, DEPOT_FLEET,
 * `depot config set fleet`, else the default fleet file), routed natively and sticky per project;
 * with no fleet at all, the embedded builder. `platforms` empty means "this machine's platform".
 */
export async function selectTargets(opts: TargetOptions, platforms: string[]): Promise<PlatformTarget[]> {
  const env = process.env;
  const config = openConfig();
  const project = opts.project || env.DEPOT_PROJECT || config.get('project');
  const override = env.DEPOT_BUILDERS_BY_PLATFORM;
  if (override) {
    const map = parseBuildersByPlatform(override);
    const targets: PlatformTarget[] = [];
    for (const platform of platforms.length ? platforms : [formatPlatform(hostPlatform())]) {
      const url = map.get(platform);
      if (!url)
        throw new DepotError(
          'no_builder',
          `no builder for ${platform} in DEPOT_BUILDERS_BY_PLATFORM`,
          `it lists ${[...map.keys()].join(', ') || 'nothing'}`,
        );
      // Each listed builder has its own token: the one `depot login` stored for it wins.
      const token = (await loadToken(url)) || opts.token || env.DEPOT_TOKEN;
      if (!token)
        throw new DepotError(
          'unauthenticated',
          `no token for builder ${url} (${platform})`,
          `run \`depot login --builder ${url}\` or pass --token / DEPOT_TOKEN`,
        );
      targets.push({ platform, url, token, project, embedded: false });
    }
    return targets;
  }

  const explicit = opts.builder || env.DEPOT_BUILDER || config.get('builder');
  const { spec, source } = resolveFleetSpec({ flag: opts.fleet, env, config: config.get('fleet') });
  const records = explicit && !opts.fleet ? [] : await openFleet(spec).list();
  if (records.length === 0) {
    if (source !== 'default' && !explicit)
      throw new DepotError(
        'no_builder',
        `fleet ${spec} has no builders`,
        'start depot-builder serve --fleet …',
      );
    const shared = await openBuilderTarget(opts);
    const list = platforms.length ? platforms : [''];
    return list.map((platform, i) => ({
      platform,
      url: shared.url,
      token: shared.token,
      project: shared.project,
      embedded: shared.embedded,
      close: i === 0 ? () => shared.close() : undefined,
    }));
  }

  const token = await fleetToken(spec, opts.token);
  const wanted = platforms.length ? platforms : [formatPlatform(hostPlatform())];
  const routes = await routeBuild({
    project: project || 'default',
    platforms: wanted,
    records,
    now: Date.now(),
    ttlMs: DEFAULT_FLEET_TTL_MS,
    buildPlatform: resolveBuildPlatform(opts.buildPlatform, env),
    allowEmulation: opts.allowEmulation,
    probe: createProbe({ token, project, transport: transportFromEnv(env) }),
    isFatal: isTransportError,
  });
  for (const r of routes) {
    for (const n of r.notes) process.stderr.write(`depot: ${n}\n`);
  }
  return routes.map((r) => ({
    platform: r.platform,
    url: r.builder.endpoint,
    token,
    project,
    embedded: false,
    builderId: r.builder.id,
    routed: true,
  }));
}
