/**
 * `docker build`'s engine flags on `depot build` (and `depot dev`): the ones the builder's engine
 * serves go to it as BuildRequest.engine_options with docker's meaning; the ones docker accepts and
 * BuildKit ignores are accepted (with a note where a script might count on them); the ones this
 * engine cannot serve are refused in one line that names the missing capability, decided from the
 * builder's Hello, so a builder that gains one needs no new client. Their syntax and bounds are the
 * protocol's one check (src/protocol/engine-options.ts, the builder runs it too), made before any
 * builder is contacted.
 */
import type { Command } from 'commander';
import { checkEngineOptions, readAddHost } from '../protocol/engine-options.js';
import type { EngineOptions } from '../protocol/generated/depot/builder/v1/EngineOptions.js';
import {
  CAPABILITY_ENGINE_OPTIONS,
  CAPABILITY_NETWORK_HOST,
  CAPABILITY_SHM_ULIMIT,
} from '../session/capabilities.js';
import { DepotError } from '../session/errors.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** docker build's boolean flags, which also come as `--flag=true|false`. */
const BOOLEAN_FLAGS = /^--(rm|force-rm|compress|squash|disable-content-trust)=(.*)$/;

/**
 * Rewrites `--rm=false`-style arguments into what the parser takes: `--rm` for true, nothing for
 * false (each of these is accepted and changes nothing, or is refused when true: `--squash`).
 */
export function dockerBooleanArgs(arg: string): string[] {
  const m = BOOLEAN_FLAGS.exec(arg);
  if (!m) return [arg];
  const v = m[2]!.toLowerCase();
  if (v === 'true' || v === '1') return [`--${m[1]}`];
  if (v === 'false' || v === '0') return [];
  throw new DepotError('invalid_flag', `invalid --${m[1]} value ${JSON.stringify(m[2])}: use true or false`);
}

/** The options commander fills for these flags. */
export interface EngineFlagOptions {
  network?: string;
  addHost?: string[];
  shmSize?: string;
  ulimit?: string[];
  cacheFrom?: string[];
  cacheTo?: string[];
  iidfile?: string;
  memory?: string;
  memorySwap?: string;
  cpuShares?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  cgroupParent?: string;
  securityOpt?: string[];
  isolation?: string;
  squash?: boolean;
  rm?: boolean;
  forceRm?: boolean;
  compress?: boolean;
  disableContentTrust?: boolean;
  buildContext?: string[];
  provenance?: string;
  sbom?: string;
  attest?: string[];
  annotation?: string[];
  /** `--no-cache-filter` (commander names a `--no-` option after what follows it). */
  cacheFilter?: string[];
  call?: string;
  allow?: string[];
}

/** Adds docker build's engine flags (every one docker has that depot did not take yet). */
export function withEngineFlags(cmd: Command): Command {
  return (
    cmd
      .option('--network <mode>', 'networking of RUN steps: default, none or host', undefined)
      .option(
        '--add-host <host:ip>',
        'add a host-to-IP mapping to /etc/hosts of RUN steps (repeatable)',
        collect,
        [],
      )
      .option('--shm-size <bytes>', 'size of /dev/shm in RUN steps (e.g. 128m)')
      .option('--ulimit <name=soft[:hard]>', 'ulimit of RUN steps (repeatable)', collect, [])
      .option(
        '--cache-from <ref>',
        'reuse the inline cache of this image: REF or type=registry,ref=REF (repeatable)',
        collect,
        [],
      )
      .option('--cache-to <spec>', 'type=inline: write the cache metadata into the image', collect, [])
      .option('--iidfile <file>', 'write the image id to this file')
      .option('-m, --memory <bytes>', 'accepted as docker does; BuildKit builds ignore it')
      .option('--memory-swap <bytes>', 'accepted as docker does; BuildKit builds ignore it')
      .option('-c, --cpu-shares <n>', 'accepted as docker does; BuildKit builds ignore it')
      .option('--cpu-period <n>', 'accepted as docker does; BuildKit builds ignore it')
      .option('--cpu-quota <n>', 'accepted as docker does; BuildKit builds ignore it')
      .option('--cpuset-cpus <list>', 'accepted as docker does; BuildKit builds ignore it')
      .option('--cpuset-mems <list>', 'accepted as docker does; BuildKit builds ignore it')
      .option(
        '--security-opt <opt>',
        'accepted as docker does; BuildKit builds ignore it (repeatable)',
        collect,
        [],
      )
      .option('--rm', 'accepted (BuildKit leaves no intermediate containers)')
      .option('--force-rm', 'accepted (BuildKit leaves no intermediate containers)')
      .option('--compress', 'accepted (depot sends only what changed, compressed or not)')
      .option('--disable-content-trust', 'accepted, as docker build does')
      .option('--isolation <tech>', 'container isolation: default (the only one on Linux)')
      // Refused with the reason (the builder's engine lacks what they need): taken here so that
      // the answer is that reason, not "unknown option".
      .option('--cgroup-parent <path>', 'refused: see docs/cli.md')
      .option('--squash', 'refused: see docs/cli.md')
      .option('--build-context <name=value>', 'refused by builders without named contexts', collect, [])
      .option('--provenance <spec>', 'refused by builders without attestations')
      .option('--sbom <spec>', 'refused by builders without attestations')
      .option('--attest <spec>', 'refused by builders without attestations', collect, [])
      .option('--annotation <k=v>', 'refused by builders without annotations', collect, [])
      .option('--no-cache-filter <stage>', 'refused by builders without cache filters', collect, [])
      .option('--call <method>', 'refused by builders without frontend methods')
      .option('--allow <entitlement>', 'refused by builders without entitlements', collect, [])
  );
}

/** A feature a flag needs of the builder, and what the flag is refused with when it is missing. */
const NEEDS: Array<{
  flag: string;
  given: (o: EngineFlagOptions) => boolean;
  capability: string;
  what: string;
}> = [
  {
    flag: '--build-context',
    given: (o) => (o.buildContext?.length ?? 0) > 0,
    capability: 'build.contexts',
    what: 'named build contexts (BuildKit 0.10 and later)',
  },
  {
    flag: '--provenance',
    given: (o) => o.provenance !== undefined,
    capability: 'build.attestations',
    what: 'attestations (BuildKit 0.11 and later)',
  },
  {
    flag: '--sbom',
    given: (o) => o.sbom !== undefined,
    capability: 'build.attestations',
    what: 'attestations (BuildKit 0.11 and later)',
  },
  {
    flag: '--attest',
    given: (o) => (o.attest?.length ?? 0) > 0,
    capability: 'build.attestations',
    what: 'attestations (BuildKit 0.11 and later)',
  },
  {
    flag: '--annotation',
    given: (o) => (o.annotation?.length ?? 0) > 0,
    capability: 'build.annotations',
    what: 'image annotations (BuildKit 0.11 and later)',
  },
  {
    flag: '--no-cache-filter',
    given: (o) => Array.isArray(o.cacheFilter) && o.cacheFilter.length > 0,
    capability: 'build.no-cache-filter',
    what: 'per-stage cache filters (Dockerfile frontend 1.4 and later)',
  },
  {
    flag: '--call',
    given: (o) => o.call !== undefined,
    capability: 'build.call',
    what: 'frontend methods such as check or outline (BuildKit 0.14 and later)',
  },
  {
    flag: '--allow',
    given: (o) => (o.allow?.length ?? 0) > 0,
    capability: 'build.entitlements',
    what: 'entitlements granted per build (the engine’s /build takes none)',
  },
];

export interface EngineFlagsResult {
  /** What goes into BuildRequest.engine_options (undefined: nothing to send). */
  engineOptions?: EngineOptions;
  /** One line each, for stderr: flags accepted that this build will not honour. */
  notes: string[];
}

const ignoredNote = (flag: string) =>
  `${flag} is accepted and ignored: BuildKit builds do not apply it (docker build ignores it too)`;

/**
 * Reads the flags as docker does and checks them with the protocol's check (src/protocol's
 * engine-options: syntax and bounds) and against what depot never takes; needs no builder, so a
 * bad flag stops the command before one is contacted. Throws a DepotError (one line and a hint).
 * The notes are those that hold on any builder.
 */
export function readEngineFlags(o: EngineFlagOptions): EngineFlagsResult {
  if (o.cgroupParent !== undefined)
    throw new DepotError(
      'unsupported_flag',
      '--cgroup-parent would place build containers in a cgroup of the builder host, which other projects share: depot does not take it',
      'drop the flag (BuildKit builds on Docker 20.10 ignore it anyway)',
    );
  if (o.squash)
    throw new DepotError(
      'unsupported_flag',
      "--squash needs the engine's experimental classic builder; BuildKit builds cannot squash",
      'drop the flag, or merge the layers in a multi-stage build (COPY --from=… / /)',
    );
  if (o.isolation !== undefined && o.isolation !== '' && o.isolation !== 'default')
    throw new DepotError(
      'invalid_flag',
      `--isolation ${JSON.stringify(o.isolation)}: Linux engines have only the default isolation`,
    );

  const e: EngineOptions = {};
  const notes: string[] = [];
  if (o.network && o.network !== 'default') e.network = o.network;
  if (o.addHost?.length) e.addHosts = o.addHost.map((v) => readAddHost(v, true));
  if (o.shmSize !== undefined) e.shmSize = ramInBytes('--shm-size', o.shmSize);
  if (o.ulimit?.length) e.ulimits = o.ulimit;
  if (o.cacheFrom?.length) e.cacheFrom = o.cacheFrom.map(cacheFrom);
  for (const spec of o.cacheTo ?? []) {
    const kv = csv('--cache-to', spec);
    if (kv.get('type') !== 'inline')
      throw new DepotError(
        'unsupported_flag',
        `--cache-to ${JSON.stringify(spec)}: the engine's builds export their cache only inline (type=inline)`,
        'use --cache-to type=inline and --push the image; --cache-from IMAGE reads it back',
      );
    e.inlineCache = true;
  }
  // Sizes as docker reads them (`512m`; -1 is an unlimited swap); counts as whole numbers.
  for (const [flag, v, key, read] of [
    ['--memory', o.memory, 'memory', ramInBytes],
    [
      '--memory-swap',
      o.memorySwap,
      'memorySwap',
      (f: string, x: string) => (x === '-1' ? -1 : ramInBytes(f, x)),
    ],
    ['--cpu-shares', o.cpuShares, 'cpuShares', wholeNumber],
    ['--cpu-period', o.cpuPeriod, 'cpuPeriod', wholeNumber],
    ['--cpu-quota', o.cpuQuota, 'cpuQuota', wholeNumber],
  ] as const) {
    if (v === undefined) continue;
    e[key] = read(flag, v);
    notes.push(ignoredNote(flag));
  }
  for (const [flag, v, key] of [
    ['--cpuset-cpus', o.cpusetCpus, 'cpusetCpus'],
    ['--cpuset-mems', o.cpusetMems, 'cpusetMems'],
  ] as const) {
    if (v === undefined) continue;
    e[key] = v;
    notes.push(ignoredNote(flag));
  }
  if (o.securityOpt?.length) notes.push(ignoredNote('--security-opt'));
  checkEngineOptions(e);
  return { engineOptions: Object.keys(e).length ? e : undefined, notes };
}

/**
 * Checks the flags (readEngineFlags), then against the builder's capabilities; throws a
 * DepotError (one line) for bad input and for what the builder cannot serve.
 */
export function engineFlags(
  o: EngineFlagOptions,
  hello: { builderId: string; capabilities: readonly string[]; engineVersion?: string },
): EngineFlagsResult {
  const caps = new Set(hello.capabilities);
  const who = hello.builderId ? `builder ${hello.builderId}` : 'the builder';
  const engine = hello.engineVersion ? ` (Docker ${hello.engineVersion})` : '';
  for (const n of NEEDS)
    if (n.given(o) && !caps.has(n.capability))
      throw new DepotError(
        'unsupported_flag',
        `${n.flag} needs ${n.what}, which the engine of ${who}${engine} does not have`,
        'drop the flag, or build on a builder whose engine has it',
      );
  const { engineOptions, notes: anywhere } = readEngineFlags(o);
  if (engineOptions?.network === 'host' && !caps.has(CAPABILITY_NETWORK_HOST))
    throw new DepotError(
      'unsupported_flag',
      `--network host is not allowed on ${who}: RUN steps would share the network of a machine other projects use`,
      'its operator can allow it (depot-builder serve --allow-network-host); the embedded builder allows it',
    );
  const notes: string[] = [];
  for (const [flag, given] of [
    ['--shm-size', o.shmSize !== undefined],
    ['--ulimit', (o.ulimit?.length ?? 0) > 0],
  ] as const)
    if (given && !caps.has(CAPABILITY_SHM_ULIMIT))
      notes.push(
        `${flag} is accepted and ignored: the engine of ${who}${engine} does not apply it to BuildKit builds (docker build there ignores it too; Docker 23 and later apply it)`,
      );
  if (engineOptions && !caps.has(CAPABILITY_ENGINE_OPTIONS))
    throw new DepotError(
      'unsupported_flag',
      `${who} does not take docker build's engine flags (--network, --add-host, --cache-from, …)`,
      'upgrade depot-builder on it, or build elsewhere',
    );
  return { engineOptions, notes: [...notes, ...anywhere] };
}

function cacheFrom(v: string): string {
  if (!v.includes('=')) return v;
  const kv = csv('--cache-from', v);
  const type = kv.get('type') ?? 'registry';
  const ref = kv.get('ref');
  if (type !== 'registry' || !ref)
    throw new DepotError(
      'unsupported_flag',
      `--cache-from ${JSON.stringify(v)}: the engine's builds import cache only from images (REF or type=registry,ref=REF)`,
    );
  return ref;
}

function csv(flag: string, v: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of v.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0)
      throw new DepotError('invalid_flag', `invalid ${flag} ${JSON.stringify(v)}: use key=value pairs`);
    m.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return m;
}

function wholeNumber(flag: string, v: string): number {
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n))
    throw new DepotError('invalid_flag', `invalid ${flag} ${JSON.stringify(v)}: use a whole number`);
  return n;
}

/** docker's RAMInBytes: a number with an optional binary unit (b, k, m, g, t, p; `kb`, `KiB`…). */
export function ramInBytes(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?(i?b)?$/i.exec(v.trim());
  const n = m ? Number(m[1]) * 1024 ** ' kmgtp'.indexOf((m[2] ?? ' ').toLowerCase()) : Number.NaN;
  if (!m || !Number.isFinite(n) || n > Number.MAX_SAFE_INTEGER)
    throw new DepotError(
      'invalid_flag',
      `invalid ${flag} ${JSON.stringify(v)}: use a size such as 64m or 1g`,
    );
  return Math.floor(n);
}
