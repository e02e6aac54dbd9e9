/**
 * The team's history across a fleet, for `depot stats --fleet` and `depot dashboard --fleet`. Every
 * live builder is greeted; builders that record into one shared history (Hello's history_id) are
 * asked once, through the first that answers; builders that keep their own history are each asked,
 * and the answers merged.
 */
import { DEFAULT_FLEET_TTL_MS, liveRecords, openFleet, resolveFleetSpec } from '../arch/index.js';
import {
  type BuilderSession,
  type BuildSummaryWire,
  type BuildTraceChunkWire,
  createBuilderSession,
  DepotError,
  isTransportError,
  type ListBuildsQuery,
  type ListBuildsWire,
  type StatsQuery,
  type StatsResponseWire,
  transportFromEnv,
} from '../session/index.js';
import { busterCostMs, EMPTY_TOTALS, rankBusters } from '../tui/stats-format.js';
import { openConfig } from './credentials.js';
import { fleetToken } from './targets.js';

/** Where `depot stats` and `depot dashboard` read the builds from: one builder, or a fleet. */
export interface HistorySource {
  /** What the dashboard's header names: a builder's URL, or the fleet. */
  label: string;
  /** Read from a fleet (the builds of several builders). */
  fleet: boolean;
  stats(query: StatsQuery, signal?: AbortSignal): Promise<StatsResponseWire>;
  watchBuilds(signal: AbortSignal): AsyncIterable<BuildSummaryWire>;
  /** The project's latest builds, newest first (a fleet's separate histories merged). */
  listBuilds(query: ListBuildsQuery, signal?: AbortSignal): Promise<ListBuildsWire>;
  /** One build's record and trace (see BuilderSession.buildTrace): from the history that has it. */
  buildTrace(buildId: string, signal?: AbortSignal, project?: string): AsyncIterable<BuildTraceChunkWire>;
  close(): void;
}

/** One history of a fleet and the builder asked for it. */
export interface FleetHistory {
  /** Hello's history_id ('' for the builder's own history). */
  historyId: string;
  builderId: string;
  url: string;
  /** The other live builders that record into the same history. */
  alsoBuilders: string[];
}

/** Builds listed in a merged answer, as one builder lists them. */
const RECENT_BUILDS = 20;
const TOP_BUSTERS = 10;
/** How long a builder has to answer Hello before it counts as down. */
const HELLO_TIMEOUT_MS = 3_000;

/**
 * Greets every live builder of the fleet (--fleet, DEPOT_FLEET, the `fleet` config key, else the
 * default file) with the fleet's token and keeps one session per history. `notes` says which
 * builders did not answer. Fails when none answered, or when every one refused the token.
 */
export async function openFleetHistory(opts: {
  fleet?: string;
  token?: string;
  project?: string;
}): Promise<HistorySource & { histories: FleetHistory[]; notes: string[] }> {
  const env = process.env;
  const config = openConfig();
  const { spec } = resolveFleetSpec({ flag: opts.fleet, env, config: config.get('fleet') });
  const project = opts.project || env.DEPOT_PROJECT || config.get('project');
  const token = await fleetToken(spec, opts.token);
  const records = liveRecords(await openFleet(spec).list(), Date.now(), DEFAULT_FLEET_TTL_MS).sort((a, b) =>
    a.id.localeCompare(b.id),
  );
  if (records.length === 0)
    throw new DepotError(
      'no_builder',
      `fleet ${spec} has no live builders`,
      'start depot-builder serve --fleet …',
    );
  const transport = transportFromEnv(env);
  type Greeted =
    | { id: string; url: string; session: BuilderSession; historyId: string }
    | { id: string; url: string; err: Error };
  const greeted = await Promise.all(
    records.map(async (r): Promise<Greeted> => {
      const session = createBuilderSession({ url: r.endpoint, token, project, transport });
      try {
        const hello = await session.hello(AbortSignal.timeout(HELLO_TIMEOUT_MS));
        return { id: hello.builderId || r.id, url: r.endpoint, session, historyId: hello.historyId ?? '' };
      } catch (err) {
        session.close();
        // A refused TLS setting is the user's to fix, whichever builder it met first.
        if (isTransportError(err)) throw err;
        return { id: r.id, url: r.endpoint, err: err as Error };
      }
    }),
  );
  const answered = greeted.filter((g) => 'session' in g);
  const failed = greeted.filter((g) => 'err' in g);
  if (answered.length === 0) {
    const first = failed[0]!.err;
    if (first instanceof DepotError) throw first;
    throw new DepotError('no_builder', `no builder of fleet ${spec} answered: ${first.message}`);
  }
  const histories: FleetHistory[] = [];
  const sessions: BuilderSession[] = [];
  for (const g of answered) {
    const shared = g.historyId ? histories.find((h) => h.historyId === g.historyId) : undefined;
    if (shared) {
      shared.alsoBuilders.push(g.id);
      g.session.close();
      continue;
    }
    histories.push({ historyId: g.historyId, builderId: g.id, url: g.url, alsoBuilders: [] });
    sessions.push(g.session);
  }
  const notes = failed.map(
    (f) => `builder ${f.id} did not answer (${f.err.message}): builds only it recorded are left out`,
  );
  const count = `${answered.length} builder${answered.length === 1 ? '' : 's'}`;
  return {
    label: `fleet ${spec} · ${count}${histories.length === 1 && answered.length > 1 ? ', one history' : ''}`,
    fleet: true,
    histories,
    notes,
    async stats(query, signal) {
      return mergeStats(await Promise.all(sessions.map((s) => s.stats(query, signal))));
    },
    watchBuilds(signal) {
      return mergeStreams(sessions.map((s) => s.watchBuilds(signal)));
    },
    async listBuilds(query, signal) {
      return mergeBuildLists(
        await Promise.all(sessions.map((s) => s.listBuilds(query, signal))),
        query.limit || DEFAULT_LIST,
      );
    },
    buildTrace(buildId, signal, asked) {
      return firstTrace(
        sessions.map((s) => () => s.buildTrace(buildId, signal, asked)),
        () =>
          new DepotError(
            'not_found',
            `no build ${buildId} in the history of ${asked || project ? `project ${asked || project}` : "the token's project"} on fleet ${spec}`,
            '`depot history ls` lists the recorded builds',
          ),
      );
    },
    close() {
      for (const s of sessions) s.close();
    },
  };
}

/**
 * One Stats answer from the answers of separate histories: totals, groups and series summed, the
 * busters summed by project and step and ranked by their cost with their cascades', as Stats ranks
 * them (each history sends its ten costliest, so a step just outside
 * one history's ten is undercounted), running builds oldest first, recent ones newest first.
 */
export function mergeStats(answers: StatsResponseWire[]): StatsResponseWire {
  if (answers.length === 1) return answers[0]!;
  const [first] = answers;
  if (!first) throw new Error('mergeStats: no answers');
  const totals = sumTotals(answers.map((a) => a.totals));
  const groups = new Map<string, StatsResponseWire['groups'][number]['totals'][]>();
  for (const a of answers)
    for (const g of a.groups) groups.set(g.key, [...(groups.get(g.key) ?? []), g.totals]);
  const busters = new Map<string, StatsResponseWire['busters'][number]>();
  for (const a of answers)
    for (const b of a.busters) {
      const key = `${b.project}\0${b.step}`;
      const had = busters.get(key);
      if (!had) {
        busters.set(key, { ...b, causes: b.causes.map((c) => ({ ...c })) });
        continue;
      }
      // The advice (and the steps its latest miss invalidated) of the costlier side stays: it
      // describes the misses that weigh most.
      const advice = busterCostMs(b) > busterCostMs(had) ? b : had;
      const causes = new Map(had.causes.map((c) => [c.kind, Number(c.count)]));
      for (const c of b.causes) causes.set(c.kind, (causes.get(c.kind) ?? 0) + Number(c.count));
      busters.set(key, {
        ...had,
        misses: Number(had.misses) + Number(b.misses),
        costMs: Number(had.costMs) + Number(b.costMs),
        cascadedMisses: Number(had.cascadedMisses ?? 0) + Number(b.cascadedMisses ?? 0),
        cascadeCostMs: Number(had.cascadeCostMs ?? 0) + Number(b.cascadeCostMs ?? 0),
        invalidated: advice.invalidated ?? [],
        causes: [...causes]
          .map(([kind, count]) => ({ kind, count }))
          .sort((x, y) => y.count - x.count || x.kind.localeCompare(y.kind)),
        suggestion: advice.suggestion,
        rule: advice.rule,
        finding: advice.finding,
      });
    }
  return {
    window: first.window,
    totals,
    groups: [...groups]
      .map(([key, list]) => ({ key, totals: sumTotals(list) }))
      .sort((a, b) => Number(b.totals.builds) - Number(a.totals.builds) || a.key.localeCompare(b.key)),
    series: first.series.map((bucket, i) => ({
      startMs: bucket.startMs,
      steps: answers.reduce((n, a) => n + Number(a.series[i]?.steps ?? 0), 0),
      cachedSteps: answers.reduce((n, a) => n + Number(a.series[i]?.cachedSteps ?? 0), 0),
    })),
    busters: rankBusters([...busters.values()]).slice(0, TOP_BUSTERS),
    running: answers.flatMap((a) => a.running).sort((a, b) => Number(a.startedMs) - Number(b.startedMs)),
    recent: answers
      .flatMap((a) => a.recent)
      .sort((a, b) => Number(b.finishedMs) - Number(a.finishedMs))
      .slice(0, RECENT_BUILDS),
  };
}

/** Builds a list shows when its question says 0 (the builder's default). */
const DEFAULT_LIST = 20;

/** One list from the lists of separate histories: newest first, at most `limit`. */
export function mergeBuildLists(lists: ListBuildsWire[], limit: number): ListBuildsWire {
  if (lists.length === 1) return lists[0]!;
  const all = lists
    .flatMap((l) => l.builds)
    .sort((a, b) => Number(b.summary?.startedMs ?? 0) - Number(a.summary?.startedMs ?? 0));
  return { builds: all.slice(0, limit), more: all.length > limit || lists.some((l) => l.more) };
}

/**
 * The trace of the first history that has the build: each is asked in turn until one answers
 * with more than "not found"; `none` makes the error when none has it.
 */
async function* firstTrace(
  asks: (() => AsyncIterable<BuildTraceChunkWire>)[],
  none: () => DepotError,
): AsyncGenerator<BuildTraceChunkWire> {
  for (const ask of asks) {
    const it = ask()[Symbol.asyncIterator]();
    let first: IteratorResult<BuildTraceChunkWire>;
    try {
      first = await it.next();
    } catch (err) {
      if (err instanceof DepotError && err.code === 'not_found') continue;
      throw err;
    }
    if (first.done) continue;
    yield first.value;
    for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
    return;
  }
  throw none();
}

type Totals = NonNullable<StatsResponseWire['totals']>;

function sumTotals(list: (Totals | null)[]): Totals {
  const t = { ...EMPTY_TOTALS };
  for (const x of list) {
    if (!x) continue;
    t.builds += Number(x.builds);
    t.steps += Number(x.steps);
    t.cachedSteps += Number(x.cachedSteps);
    t.savedMs += Number(x.savedMs);
    t.buildMs += Number(x.buildMs);
    t.bytesDeduplicated += Number(x.bytesDeduplicated);
    t.bytesUploaded += Number(x.bytesUploaded);
    t.failedBuilds += Number(x.failedBuilds);
  }
  t.hitRatio = t.steps ? t.cachedSteps / t.steps : 0;
  return t;
}

/** Every item of every stream as it comes; ends when all have, throws when one does. */
async function* mergeStreams<T>(streams: AsyncIterable<T>[]): AsyncGenerator<T> {
  const its = streams.map((s) => s[Symbol.asyncIterator]());
  const next = (k: number) => its[k]!.next().then((r) => ({ k, r }));
  const pending = new Map(its.map((_, k) => [k, next(k)]));
  try {
    while (pending.size > 0) {
      const { k, r } = await Promise.race(pending.values());
      if (r.done) pending.delete(k);
      else {
        pending.set(k, next(k));
        yield r.value;
      }
    }
  } finally {
    // A consumer that stops, or a stream that failed: the others end too (once their pending read
    // settles, so this does not wait for them; the caller's signal cancels the calls).
    for (const it of its) it.return?.().catch(() => {});
  }
}
