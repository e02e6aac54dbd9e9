import { createHash } from 'node:crypto';
import {
  type FleetRecord,
  heartbeatAgeMs,
  liveRecords,
  normalizePlatform,
  platformMatches,
} from '../protocol/fleet/index.js';
import { RoutingError } from './errors.js';

/** The rendezvous weight of a builder for a project: the first 8 bytes of sha256(project + "\0" + id). */
export function rendezvousWeight(project: string, id: string): bigint {
  return createHash('sha256').update(`${project}\0${id}`, 'utf8').digest().readBigUInt64BE(0);
}

/**
 * Builders in highest-random-weight order for a project: the first is the project's home (where its
 * cache is warm), the rest the fail-over order. Adding or removing one builder moves only the
 * projects whose top builder changed, ≈ 1/n of them.
 */
export function rendezvousOrder<T extends { id: string }>(project: string, builders: readonly T[]): T[] {
  return builders
    .map((b) => ({ b, w: rendezvousWeight(project, b.id) }))
    .sort((x, y) => (x.w > y.w ? -1 : x.w < y.w ? 1 : x.b.id < y.b.id ? -1 : x.b.id > y.b.id ? 1 : 0))
    .map((x) => x.b);
}

/** How the chosen builder runs a platform's build. */
export type RouteMode =
  /** the builder's own architecture */
  | 'native'
  /** through emulation on the builder (only with allowEmulation) */
  | 'emulated'
  /** on the forced build platform, for a different target (cross-build, or emulated RUN steps) */
  | 'build-platform';

/** Where one requested platform builds. */
export interface PlatformRoute {
  /** The target platform, normalised. */
  platform: string;
  builder: FleetRecord;
  mode: RouteMode;
  /** What the user should know: fail-overs ("builder X unreachable, using Y"), emulation. */
  notes: string[];
}

export interface RouteBuildOptions {
  project: string;
  /** Target platforms (normalised here); see resolveTargetPlatforms. */
  platforms: readonly string[];
  records: readonly FleetRecord[];
  /** ms since epoch. */
  now: number;
  /** Records with an older heartbeat are left out. */
  ttlMs: number;
  /** `--build-platform` / DEPOT_BUILD_PLATFORM: build every target on a builder of this platform. */
  buildPlatform?: string;
  /** Accept builders that list the platform in `emulated` (after every native one). */
  allowEmulation?: boolean;
  /** Whether a builder answers; called at most once per builder per routeBuild. A throw counts as false. */
  probe: (record: FleetRecord) => Promise<boolean>;
  /** Probe errors that end routing instead of counting as down (a setting the user must fix). */
  isFatal?: (err: unknown) => boolean;
}

function describeFleet(live: readonly FleetRecord[]): string {
  if (live.length === 0) return 'fleet has no live builders';
  return `fleet has: ${live
    .map((r) => {
      const em = r.emulated?.length ? `, emulates ${r.emulated.join(' ')}` : '';
      return `${r.id} (${r.platforms.join(' ')}${em})`;
    })
    .join(', ')}`;
}

const matchesAny = (list: readonly string[] | undefined, wanted: string) =>
  (list ?? []).some((p) => platformMatches(p, wanted));

/**
 * Picks a builder per requested platform: live records only; native builders first in rendezvous
 * order for the project, then — with allowEmulation — emulating ones; unreachable ones are skipped
 * with a note. Throws RoutingError when a platform has no candidate or none answers.
 */
export async function routeBuild(opts: RouteBuildOptions): Promise<PlatformRoute[]> {
  // A builder kept for some projects (serve --projects) is no candidate for any other.
  const anyProject = liveRecords(opts.records, opts.now, opts.ttlMs);
  const live = anyProject.filter((r) => servesProject(r, opts.project));
  const elsewhere = anyProject.filter((r) => !live.includes(r));
  const stale = opts.records.filter((r) => !live.includes(r));
  const buildPlatform = opts.buildPlatform ? normalizePlatform(opts.buildPlatform) : undefined;
  const probes = new Map<string, Promise<boolean>>();
  const probe = (r: FleetRecord): Promise<boolean> => {
    let p = probes.get(r.id);
    if (!p) {
      p = Promise.resolve()
        .then(() => opts.probe(r))
        .then(
          (ok) => ok === true,
          (err) => {
            if (opts.isFatal?.(err)) throw err;
            return false;
          },
        );
      probes.set(r.id, p);
    }
    return p;
  };

  const targets = [...new Set(opts.platforms.map((p) => normalizePlatform(p)))];
  if (targets.length === 0) throw new RangeError('routeBuild needs at least one platform');

  async function routeOne(target: string): Promise<PlatformRoute> {
    const runOn = buildPlatform ?? target;
    const native = rendezvousOrder(
      opts.project,
      live.filter((r) => matchesAny(r.platforms, runOn)),
    );
    const emulating = rendezvousOrder(
      opts.project,
      live.filter((r) => !native.includes(r) && matchesAny(r.emulated, runOn)),
    );
    const candidates = opts.allowEmulation ? [...native, ...emulating] : native;
    if (candidates.length === 0) {
      const what = buildPlatform ? `build platform ${buildPlatform}` : target;
      let message = `no live builder for ${what}; ${describeFleet(live)}`;
      if (emulating.length > 0) message += '; pass --allow-emulation to use an emulating builder';
      if (elsewhere.length > 0)
        message += `; ${elsewhere.map((r) => r.id).join(', ')} serve${elsewhere.length === 1 ? 's' : ''} only other projects than ${opts.project}`;
      const hint =
        stale.length > 0
          ? `left out ${stale
              .map((r) => `${r.id} (last heartbeat ${Math.round(heartbeatAgeMs(r, opts.now) / 1000)}s ago)`)
              .join(', ')}: heartbeat older than ${Math.round(opts.ttlMs / 1000)}s`
          : undefined;
      throw new RoutingError('no_builder', message, hint);
    }
    const down: FleetRecord[] = [];
    for (const r of candidates) {
      if (!(await probe(r))) {
        down.push(r);
        continue;
      }
      const notes: string[] = [];
      if (down.length > 0)
        notes.push(
          `${down.length === 1 ? 'builder' : 'builders'} ${down.map((d) => d.id).join(', ')} unreachable, using ${r.id}`,
        );
      const isNative = native.includes(r);
      if (!isNative)
        notes.push(`no native builder for ${runOn} available; ${r.id} emulates it, which is slower`);
      const mode: RouteMode = matchesAny(r.platforms, target)
        ? 'native'
        : buildPlatform
          ? 'build-platform'
          : 'emulated';
      return { platform: target, builder: r, mode, notes };
    }
    throw new RoutingError(
      'no_reachable_builder',
      `no reachable builder for ${buildPlatform ? `build platform ${buildPlatform}` : target}: ${down
        .map((d) => `${d.id} (${d.endpoint})`)
        .join(', ')} unreachable`,
      opts.allowEmulation || !emulating.length
        ? 'check that depot-builder is running there; `depot builders ls` shows the fleet'
        : 'pass --allow-emulation to use an emulating builder',
    );
  }

  return Promise.all(targets.map(routeOne));
}

/** True when the builder serves the project: it lists no projects, or lists this one. */
export function servesProject(record: Pick<FleetRecord, 'projects'>, project: string): boolean {
  return !record.projects?.length || record.projects.includes(project);
}
