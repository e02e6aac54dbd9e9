import { type FleetRecord, heartbeatAgeMs, liveRecords } from '../protocol/fleet/index.js';
import {
  type ClientTransport,
  createBuilderSession,
  DepotError,
  isTransportError,
} from '../session/index.js';

/** How a builder answered a Hello: 'up'; 'unauthorized' (it answered but refused the token); 'down'. */
export type BuilderHealth = 'up' | 'unauthorized' | 'down';

/** The outcome of probing one builder. */
export interface ProbeResult {
  health: BuilderHealth;
  /** Round trip of a Hello on an established connection, ms; absent when down. */
  latencyMs?: number;
  /** builder_version from Hello, when up. */
  version?: string;
  /** From Hello, when up: the builder's id and the platforms it builds and emulates. */
  builderId?: string;
  platforms?: string[];
  emulated?: string[];
  /** Why it is down or unauthorized. */
  error?: string;
}

/** How to reach builders: the token (a team token works on the whole fleet), project and transport. */
export interface ProbeOptions {
  token: string;
  project?: string;
  /** How connections are secured; default: the environment's settings. */
  transport?: ClientTransport;
  /** Give up on a builder after this long (default 3 s). */
  timeoutMs?: number;
}

/**
 * Says Hello to a builder twice (the first opens the connection, the second is timed). A builder
 * that refuses the token still answered, so it is 'unauthorized', not 'down'. Throws the transport
 * errors of `createBuilderSession` (e.g. a plaintext remote endpoint), which no other builder mends.
 */
export async function probeBuilder(
  record: Pick<FleetRecord, 'endpoint'>,
  opts: ProbeOptions,
): Promise<ProbeResult> {
  const timeoutMs = opts.timeoutMs ?? 3_000;
  let session: ReturnType<typeof createBuilderSession> | undefined;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    session = createBuilderSession({
      url: record.endpoint,
      token: opts.token,
      project: opts.project,
      transport: opts.transport,
    });
    await session.hello(signal);
    const t0 = performance.now();
    const hello = await session.hello(signal);
    return {
      health: 'up',
      latencyMs: performance.now() - t0,
      version: hello.builderVersion,
      builderId: hello.builderId,
      platforms: hello.platforms,
      emulated: (hello.emulatedPlatforms ?? []).filter((p) => p !== '*'),
    };
  } catch (err) {
    // A refused or broken TLS setting is the user's to fix, not the builder's health.
    if (isTransportError(err)) throw err;
    const code = err instanceof DepotError ? err.code : '';
    const message = signal.aborted ? `no answer within ${timeoutMs} ms` : (err as Error).message;
    if (code === 'unauthenticated' || code === 'permission_denied')
      return { health: 'unauthorized', error: message };
    return { health: 'down', error: message };
  } finally {
    session?.close();
  }
}

/** A probe for routeBuild: reachable means it answered (a refused token is reported by the build itself). */
export function createProbe(opts: ProbeOptions): (record: FleetRecord) => Promise<boolean> {
  return async (record) => (await probeBuilder(record, opts)).health !== 'down';
}

/** One line of `depot builders ls`. */
export interface BuilderRow {
  id: string;
  endpoint: string;
  platforms: string[];
  emulated: string[];
  /** From Hello when up, else as registered. */
  version: string;
  health: BuilderHealth;
  latencyMs: number | null;
  /** null for a builder that is not in a fleet (the one of `depot login`/--builder). */
  heartbeatAgeMs: number | null;
  /** The heartbeat is older than the TTL: routing ignores this builder. */
  stale: boolean;
  error: string | null;
}

export interface ListBuildersOptions extends ProbeOptions {
  records: readonly FleetRecord[];
  /** ms since epoch. */
  now: number;
  ttlMs: number;
  /** Replaces probeBuilder (tests). */
  probe?: (record: FleetRecord) => Promise<ProbeResult>;
}

/** Probes every registered builder (stale ones too, in parallel) and returns rows sorted by id. */
export async function listBuilders(opts: ListBuildersOptions): Promise<BuilderRow[]> {
  const live = new Set(liveRecords(opts.records, opts.now, opts.ttlMs));
  const probe = opts.probe ?? ((r: FleetRecord) => probeBuilder(r, opts));
  const rows = await Promise.all(
    opts.records.map(async (r): Promise<BuilderRow> => {
      const res = await probe(r).catch(
        (err: unknown): ProbeResult => ({ health: 'down', error: (err as Error)?.message ?? String(err) }),
      );
      return {
        id: r.id,
        endpoint: r.endpoint,
        platforms: r.platforms,
        emulated: r.emulated ?? [],
        version: res.version || r.version,
        health: res.health,
        latencyMs: res.latencyMs === undefined ? null : Math.round(res.latencyMs * 10) / 10,
        heartbeatAgeMs: heartbeatAgeMs(r, opts.now),
        stale: !live.has(r),
        error: res.error ?? null,
      };
    }),
  );
  return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The row of a builder outside any fleet (the one `depot login` stored, or --builder): what its
 * Hello says, or its address and why it did not answer.
 */
export async function probeDirectBuilder(
  endpoint: string,
  opts: ProbeOptions & { probe?: (record: Pick<FleetRecord, 'endpoint'>) => Promise<ProbeResult> },
): Promise<BuilderRow> {
  const res = await (opts.probe ?? ((r: Pick<FleetRecord, 'endpoint'>) => probeBuilder(r, opts)))({
    endpoint,
  }).catch(
    (err: unknown): ProbeResult => ({ health: 'down', error: (err as Error)?.message ?? String(err) }),
  );
  return {
    id: res.builderId || '-',
    endpoint,
    platforms: res.platforms ?? [],
    emulated: res.emulated ?? [],
    version: res.version ?? '',
    health: res.health,
    latencyMs: res.latencyMs === undefined ? null : Math.round(res.latencyMs * 10) / 10,
    heartbeatAgeMs: null,
    stale: false,
    error: res.error ?? null,
  };
}

/** "4s", "3m", "2h", "5d" */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** The table `depot builders ls` prints (trailing newline); one line saying so when there are none. */
export function formatBuildersTable(rows: readonly BuilderRow[], fleetSpec?: string): string {
  if (rows.length === 0) return `no builders registered${fleetSpec ? ` in ${fleetSpec}` : ''}\n`;
  const header = ['ID', 'PLATFORMS', 'ENDPOINT', 'HEALTH', 'LATENCY', 'VERSION', 'HEARTBEAT'];
  const lines = rows.map((r) => [
    r.id,
    [...r.platforms, ...r.emulated.map((p) => `${p}(emulated)`)].join(','),
    r.endpoint,
    r.health,
    r.latencyMs === null ? '-' : `${r.latencyMs < 10 ? r.latencyMs.toFixed(1) : Math.round(r.latencyMs)}ms`,
    r.version || '-',
    r.heartbeatAgeMs === null
      ? '- (not in a fleet)'
      : `${formatAge(r.heartbeatAgeMs)} ago${r.stale ? ' (stale)' : ''}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  return `${[header, ...lines]
    .map((cols) =>
      cols
        .map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

/** `depot builders ls --json`: one JSON array of BuilderRow (trailing newline). */
export function formatBuildersJson(rows: readonly BuilderRow[]): string {
  return `${JSON.stringify(rows, null, 2)}\n`;
}
