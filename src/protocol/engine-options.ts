/**
 * The syntax and bounds of `docker build`'s engine flags as BuildRequest.engine_options carries
 * them: the one check the client runs on its flags before it contacts a builder, and the builder
 * runs on every request before its engine sees one. What a builder allows of valid options
 * (`--network host`, which cache sources) is its own policy, decided after this check.
 */
import { isIP } from 'node:net';
import { DepotError } from '../errors/index.js';
import { parseReference } from '../registry/reference.js';
import type { EngineOptions } from './generated/depot/builder/v1/EngineOptions.js';

/** Bounds of one build's engine flags. */
export const ENGINE_OPTION_LIMITS = {
  addHosts: 64,
  ulimits: 32,
  cacheFrom: 16,
  /** Characters of one `--add-host`, `--ulimit` or `--cache-from` value. */
  valueLength: 512,
  /** Characters of a `--cpuset-cpus` or `--cpuset-mems` list. */
  cpusetLength: 256,
  /** `--shm-size` at most (the engine keeps /dev/shm in memory). */
  shmBytes: 8 * 1024 ** 3,
};

/** The `--network` modes a BuildKit build takes ('' on the wire is the default). */
export const ENGINE_NETWORKS: readonly string[] = ['default', 'none', 'host'];

/** `docker build`'s engine flags as the Engine API's /build takes them. */
export interface EngineBuildOptions {
  /** "none" or "host" (default: absent). */
  network?: string;
  /** "HOST:IP" */
  addHosts?: string[];
  shmSize?: number;
  ulimits?: Array<{ Name: string; Soft: number; Hard: number }>;
  /** Image references (as the client named them) whose inline cache may be reused. */
  cacheFrom?: string[];
  /** Write the cache metadata into the image (BUILDKIT_INLINE_CACHE). */
  inlineCache?: boolean;
  memory?: number;
  memorySwap?: number;
  cpuShares?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
}

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

/** A value as it is quoted in a message: at most 64 characters of it. */
const quoted = (v: string) => JSON.stringify(v.slice(0, 64));

const invalid = (message: string, hint?: string) => new DepotError('invalid_flag', message, hint);

/**
 * One `--add-host` value as `HOST:IP` (IP an IPv4 or IPv6 address, `[…]` allowed, or
 * `host-gateway`); with `buildxForm`, buildx's `HOST=IP` is read too. Throws 'invalid_flag'.
 */
export function readAddHost(v: string, buildxForm = false): string {
  const at = v.indexOf(':');
  const eq = buildxForm ? v.indexOf('=') : -1;
  const cut = eq > 0 && (at < 0 || eq < at) ? eq : at;
  const host = cut < 0 ? '' : v.slice(0, cut);
  const ip = cut < 0 ? '' : v.slice(cut + 1);
  const bare = ip.replace(/^\[(.*)\]$/, '$1');
  if (!HOST_NAME.test(host) || (bare !== 'host-gateway' && isIP(bare) === 0))
    throw invalid(`invalid --add-host ${quoted(v)}: use HOST:IP (an IPv4 or IPv6 address)`);
  return `${host}:${ip}`;
}

/**
 * Checks engine options against docker's syntax and the bounds above, and returns them as the
 * engine takes them (zeros and the default network left out; undefined when nothing is left).
 * Throws a DepotError 'invalid_flag' naming the flag.
 */
export function checkEngineOptions(input: EngineOptions | null | undefined): EngineBuildOptions | undefined {
  if (!input) return undefined;
  const L = ENGINE_OPTION_LIMITS;
  const out: EngineBuildOptions = {};

  const network = input.network ?? '';
  if (network !== '' && !ENGINE_NETWORKS.includes(network))
    throw invalid(
      `--network ${quoted(network)}: BuildKit builds take default, none or host`,
      'a RUN step cannot join a named network or another container',
    );
  if (network && network !== 'default') out.network = network;

  const list = (flag: string, values: string[] | undefined, max: number) => {
    const v = values ?? [];
    if (v.length > max) throw invalid(`${v.length} ${flag} values, more than the limit of ${max}`);
    for (const x of v)
      if (x.length > L.valueLength || x.includes('\0'))
        throw invalid(`${flag} value too long (at most ${L.valueLength} characters)`);
    return v;
  };

  const hosts = list('--add-host', input.addHosts, L.addHosts).map((h) => readAddHost(h));
  if (hosts.length) out.addHosts = hosts;

  const shm = whole('--shm-size', input.shmSize);
  if (shm < 0 || shm > L.shmBytes)
    throw invalid(`--shm-size must be between 0 and ${L.shmBytes / 1024 ** 3} GiB`);
  if (shm > 0) out.shmSize = shm;

  const ulimits = list('--ulimit', input.ulimits, L.ulimits).map((u) => {
    const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(u);
    if (!m || !ULIMIT_NAMES.has(m[1]!))
      throw invalid(`invalid --ulimit ${quoted(u)}: use NAME=SOFT[:HARD], e.g. nofile=1024:2048`);
    const soft = Number(m[2]);
    const hard = m[3] === undefined ? soft : Number(m[3]);
    if (!Number.isSafeInteger(soft) || !Number.isSafeInteger(hard) || (hard >= 0 && soft > hard))
      throw invalid(`invalid --ulimit ${quoted(u)}: the soft limit is above the hard one`);
    return { Name: m[1]!, Soft: soft, Hard: hard };
  });
  if (ulimits.length) out.ulimits = ulimits;

  const cacheFrom = list('--cache-from', input.cacheFrom, L.cacheFrom);
  for (const ref of cacheFrom)
    try {
      parseReference(ref, { allowDigest: true });
    } catch (err) {
      throw invalid(`invalid --cache-from ${quoted(ref)}: ${(err as Error).message}`);
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
    if (v.length > L.cpusetLength || !CPUSET.test(v))
      throw invalid(`invalid ${flag} ${quoted(v)}: use e.g. 0-3 or 0,1`);
    out[key] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/** A protobuf int64 (number, string or Long) as a safe integer; absent is 0. */
function whole(flag: string, v: unknown): number {
  if (v === undefined || v === null || v === '') return 0;
  const n = Number(typeof v === 'object' ? String(v) : v);
  if (!Number.isSafeInteger(n)) throw invalid(`${flag}: not a whole number`);
  return n;
}
