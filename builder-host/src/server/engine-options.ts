/**
 * `docker build`'s engine flags on a shared builder: what a client may ask of the builder's engine
 * (`--network`, `--add-host`, `--shm-size`, `--ulimit`, `--cache-from`, `--cache-to type=inline`,
 * the resource flags), checked and bounded before the engine sees them. What would reach past the
 * build's own sandbox on a machine other projects share (`--network host`) needs the builder's
 * consent (`depot-builder serve --allow-network-host`).
 */
import { isIP } from 'node:net';
import { parseReference } from '../../../src/registry/index.js';
import type { EngineBuildOptions } from '../engine/index.js';

/** Bounds of one build's engine flags. */
export const ENGINE_OPTION_LIMITS = {
  addHosts: 64,
  ulimits: 32,
  cacheFrom: 16,
  /** Characters of one `--add-host`, `--ulimit` or `--cache-from` value. */
  valueLength: 512,
  /** `--shm-size` at most (the engine keeps /dev/shm in memory). */
  shmBytes: 8 * 1024 ** 3,
};

/** The ulimit names the engine knows (docker's go-units list). */
const ULIMIT_NAMES = new Set([
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
]);

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,253})?$/;
const CPUSET = /^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$/;

/** The wire shape (proto EngineOptions), numbers as protobuf longs may arrive. */
export interface EngineOptionsInput {
  network?: string;
  addHosts?: string[];
  shmSize?: number | string | { toString(): string };
  ulimits?: string[];
  cacheFrom?: string[];
  inlineCache?: boolean;
  memory?: number | string | { toString(): string };
  memorySwap?: number | string | { toString(): string };
  cpuShares?: number | string | { toString(): string };
  cpuPeriod?: number | string | { toString(): string };
  cpuQuota?: number | string | { toString(): string };
  cpusetCpus?: string;
  cpusetMems?: string;
}

export class EngineOptionsError extends Error {
  constructor(
    message: string,
    /** 'invalid': bad input; 'denied': valid, but this builder does not allow it. */
    readonly kind: 'invalid' | 'denied',
  ) {
    super(message);
  }
}

export interface EngineOptionsPolicy {
  /** `--network host` (RUN steps on the builder host's network) is allowed here. */
  allowNetworkHost: boolean;
  /** A name in the builder's internal namespace (another project's images): never a cache source. */
  isInternal(ref: string): boolean;
}

/**
 * Checks a build's engine flags and returns them as the engine takes them (cache sources still as
 * the client named them: the caller maps them to the project's own images). Throws an
 * EngineOptionsError naming the flag.
 */
export function checkEngineOptions(
  input: EngineOptionsInput | null | undefined,
  policy: EngineOptionsPolicy,
): EngineBuildOptions | undefined {
  if (!input) return undefined;
  const invalid = (msg: string) => new EngineOptionsError(msg, 'invalid');
  const L = ENGINE_OPTION_LIMITS;
  const out: EngineBuildOptions = {};

  const network = input.network ?? '';
  if (!['', 'default', 'none', 'host'].includes(network))
    throw invalid(
      `--network ${JSON.stringify(network.slice(0, 64))}: BuildKit builds take default, none or host`,
    );
  if (network === 'host' && !policy.allowNetworkHost)
    throw new EngineOptionsError(
      '--network host is not allowed on this builder: RUN steps would share the network of a machine other projects use (its operator can allow it with depot-builder serve --allow-network-host)',
      'denied',
    );
  if (network && network !== 'default') out.network = network;

  const list = (flag: string, values: string[] | undefined, max: number) => {
    const v = values ?? [];
    if (v.length > max) throw invalid(`${v.length} ${flag} values, more than this builder's limit of ${max}`);
    for (const x of v)
      if (x.length > L.valueLength || x.includes('\0'))
        throw invalid(`${flag} value too long (at most ${L.valueLength} characters)`);
    return v;
  };

  const hosts = list('--add-host', input.addHosts, L.addHosts);
  for (const h of hosts) {
    const at = h.indexOf(':');
    const name = at < 0 ? '' : h.slice(0, at);
    const ip = at < 0 ? '' : h.slice(at + 1).replace(/^\[(.*)\]$/, '$1');
    if (!HOST_NAME.test(name) || (ip !== 'host-gateway' && isIP(ip) === 0))
      throw invalid(`--add-host ${JSON.stringify(h.slice(0, 64))}: use HOST:IP (an IPv4 or IPv6 address)`);
  }
  if (hosts.length) out.addHosts = hosts;

  const shm = whole('--shm-size', input.shmSize);
  if (shm < 0 || shm > L.shmBytes)
    throw invalid(`--shm-size must be between 0 and ${L.shmBytes / 1024 ** 3} GiB`);
  if (shm > 0) out.shmSize = shm;

  const ulimits = list('--ulimit', input.ulimits, L.ulimits).map((u) => {
    const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(u);
    if (!m || !ULIMIT_NAMES.has(m[1]!))
      throw invalid(
        `--ulimit ${JSON.stringify(u.slice(0, 64))}: use NAME=SOFT[:HARD], e.g. nofile=1024:2048`,
      );
    const soft = Number(m[2]);
    const hard = m[3] === undefined ? soft : Number(m[3]);
    if (!Number.isSafeInteger(soft) || !Number.isSafeInteger(hard) || (hard >= 0 && soft > hard))
      throw invalid(`--ulimit ${JSON.stringify(u.slice(0, 64))}: the soft limit is above the hard one`);
    return { Name: m[1]!, Soft: soft, Hard: hard };
  });
  if (ulimits.length) out.ulimits = ulimits;

  const cacheFrom = list('--cache-from', input.cacheFrom, L.cacheFrom);
  for (const ref of cacheFrom) {
    try {
      parseReference(ref, { allowDigest: true });
    } catch (err) {
      throw invalid(`--cache-from ${JSON.stringify(ref.slice(0, 64))}: ${(err as Error).message}`);
    }
    if (policy.isInternal(ref))
      throw new EngineOptionsError(
        `--cache-from ${JSON.stringify(ref.slice(0, 64))}: names in the builder's own namespace are not cache sources`,
        'denied',
      );
  }
  if (cacheFrom.length) out.cacheFrom = cacheFrom;
  if (input.inlineCache) out.inlineCache = true;

  const resources: Array<[keyof EngineBuildOptions, string, unknown]> = [
    ['memory', '--memory', input.memory],
    ['memorySwap', '--memory-swap', input.memorySwap],
    ['cpuShares', '--cpu-shares', input.cpuShares],
    ['cpuPeriod', '--cpu-period', input.cpuPeriod],
    ['cpuQuota', '--cpu-quota', input.cpuQuota],
  ];
  for (const [key, flag, v] of resources) {
    const n = whole(flag, v);
    // -1 is docker's "unlimited" for --memory-swap; nothing else is below 0.
    if (n < (key === 'memorySwap' ? -1 : 0)) throw invalid(`${flag} must not be negative`);
    if (n !== 0) (out as Record<string, number>)[key] = n;
  }
  for (const [key, flag, v] of [
    ['cpusetCpus', '--cpuset-cpus', input.cpusetCpus],
    ['cpusetMems', '--cpuset-mems', input.cpusetMems],
  ] as const) {
    if (!v) continue;
    if (v.length > 256 || !CPUSET.test(v))
      throw invalid(`${flag} ${JSON.stringify(v.slice(0, 64))}: use e.g. 0-3 or 0,1`);
    out[key] = v;
  }
  return Object.keys(out).length ? out : undefined;

  function whole(flag: string, v: unknown): number {
    if (v === undefined || v === null || v === '') return 0;
    const n = Number(typeof v === 'object' ? String(v) : v);
    if (!Number.isSafeInteger(n)) throw invalid(`${flag}: not a whole number`);
    return n;
  }
}

/** A stable text of the options for the result memo's key (builds that differ in them differ). */
export function engineOptionsKey(o: EngineBuildOptions | undefined): string {
  if (!o) return '';
  return JSON.stringify(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
