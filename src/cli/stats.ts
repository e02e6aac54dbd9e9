import { formatBytes } from '../progress/index.js';
import {
  type BuildSummaryWire,
  createBuilderSession,
  DepotError,
  type StatsGroupBy,
  type StatsResponseWire,
  type StatsWindow,
} from '../session/index.js';
// stats-format is plain text formatting: no Ink is loaded.
import {
  buildsText,
  busterCostMs,
  busterMissText,
  causeBreakdown,
  invalidatedText,
  percentText,
  rankBusters,
  spanText,
  statsTable,
  suggestionText,
} from '../tui/stats-format.js';
import { type BuilderTarget, openBuilderTarget } from './build-inputs.js';
import { openConfig } from './credentials.js';
import { type HistorySource, openFleetHistory } from './fleet-history.js';
import { remoteBuilderConfigured } from './targets.js';

/** Flags of `depot stats`. */
export interface StatsOptions extends RemoteBuilderOptions {
  window: StatsWindow;
  groupBy: StatsGroupBy;
  json: boolean;
}

/** Flags that pick the builder (or the fleet), shared by `depot stats` and `depot dashboard`. */
export interface RemoteBuilderOptions {
  builder?: string;
  token?: string;
  project?: string;
  /** Fleet registry spec (file:PATH, ssm:/PREFIX): the team's numbers from every live builder. */
  fleet?: string;
}

/**
 * Where the history is read, the way `depot build` picks its builder: an explicit builder
 * (--builder, DEPOT_BUILDER, `depot login`) unless --fleet is given; else the fleet (--fleet,
 * DEPOT_FLEET, `depot config set fleet`), every live builder of it (see fleet-history.ts). With
 * neither, `embedded` reads the embedded builder's history (this machine's own builds, as `depot
 * build` with no builder ran them); otherwise, since that holds no team's builds, this fails with
 * one line saying how to configure a builder. Notes about the fleet go to stderr.
 */
export async function openHistorySource(
  opts: RemoteBuilderOptions,
  command: string,
  { embedded = false }: { embedded?: boolean } = {},
): Promise<HistorySource> {
  const config = openConfig();
  const explicit = opts.builder || process.env.DEPOT_BUILDER || config.get('builder');
  if (explicit && !opts.fleet) return builderSource(await openBuilderTarget(opts));
  const named = opts.fleet || config.get('fleet');
  // `depot history` reads this machine's own builds when no builder is configured: the embedded
  // builder keeps its history in its data directory across builds.
  if (embedded && !named && !(await remoteBuilderConfigured(opts)))
    return builderSource(await openBuilderTarget(opts));
  let fleet: Awaited<ReturnType<typeof openFleetHistory>>;
  try {
    fleet = await openFleetHistory(opts);
  } catch (err) {
    // Nothing named a builder or a fleet, and the default fleet file lists none.
    if (!named && err instanceof DepotError && err.code === 'no_builder')
      throw new DepotError(
        'no_builder',
        `no builder configured: \`depot ${command}\` reads a shared builder's history`,
        'pass --builder URL or --fleet SPEC, set DEPOT_BUILDER, or run `depot login --builder URL`',
      );
    throw err;
  }
  for (const n of fleet.notes) process.stderr.write(`depot: ${n}\n`);
  return fleet;
}

/** The history of one builder (the embedded one is stopped when the source closes). */
function builderSource(target: BuilderTarget): HistorySource {
  const session = createBuilderSession({ url: target.url, token: target.token, project: target.project });
  return {
    label: target.embedded ? 'this machine' : target.url,
    fleet: false,
    stats: (query, signal) => session.stats(query, signal),
    watchBuilds: (signal) => session.watchBuilds(signal),
    listBuilds: (query, signal) => session.listBuilds(query, signal),
    buildTrace: (id, signal, project) => session.buildTrace(id, signal, project),
    close: () => {
      session.close();
      void target.close();
    },
  };
}

/** A compact table of a Stats answer: totals, the groups, then the top cache busters. */
export function formatStatsTable(res: StatsResponseWire, groupBy: StatsGroupBy, width = 100): string {
  const t = res.totals;
  if (!t || t.builds === 0) return `window ${res.window}: no builds\n`;
  const lines = [
    [
      `window ${res.window}`,
      buildsText(t),
      `hit ratio ${percentText(t.hitRatio, t.steps)} (${t.cachedSteps}/${t.steps} steps)`,
      `saved ${spanText(t.savedMs)}`,
      `deduplicated ${formatBytes(t.bytesDeduplicated)}`,
    ].join(' · '),
    '',
    ...statsTable(res, groupBy.toUpperCase(), width),
  ];
  if (res.busters.length > 0) {
    lines.push('', 'TOP CACHE BUSTERS');
    for (const b of rankBusters(res.busters).slice(0, 5)) {
      const causes = causeBreakdown(b);
      const misses = `${busterMissText(b)}, cost ${spanText(busterCostMs(b))}`;
      lines.push(`  ${b.step}  (${b.project})  ${misses}${causes ? ` · ${causes}` : ''}`);
      const invalidated = invalidatedText(b);
      if (invalidated) lines.push(`    ${invalidated}`);
      if (b.suggestion) lines.push(`    → ${suggestionText(b)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The latest builds of an answer, one line each with the builder that ran it (a fleet's table ends with these). */
export function formatRecentBuilds(builds: readonly BuildSummaryWire[], max = 10): string[] {
  if (builds.length === 0) return [];
  const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
  const rows = builds.slice(0, max).map((b) => [b.project, b.user, b.builder || '-', b.platform, b.result]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), 7));
  return [
    'RECENT BUILDS',
    `  ${['PROJECT', 'USER', 'BUILDER', 'PLATFORM', 'RESULT'].map((h, i) => (i < 4 ? pad(h, widths[i]!) : h)).join('  ')}`,
    ...rows.map((r) => `  ${r.map((c, i) => (i < 4 ? pad(c, widths[i]!) : c)).join('  ')}`),
  ];
}

/**
 * `depot stats`: one Stats call (one per history of a fleet); `--json` prints the answer as JSON
 * (numbers), else a table; a fleet's table also lists the latest builds and their builders.
 */
export async function runStats(opts: StatsOptions): Promise<void> {
  const source = await openHistorySource(opts, 'stats');
  try {
    const res = await source.stats({ window: opts.window, groupBy: opts.groupBy });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
      return;
    }
    let out = formatStatsTable(res, opts.groupBy, process.stdout.columns || 100);
    const recent = formatRecentBuilds([...res.running, ...res.recent]);
    if (source.fleet && recent.length > 0) out += `\n${recent.join('\n')}\n`;
    process.stdout.write(out);
  } finally {
    source.close();
  }
}
