import { formatBytes } from '../progress/index.js';
import {
  type BuilderSession,
  createBuilderSession,
  DepotError,
  type StatsGroupBy,
  type StatsResponseWire,
  type StatsWindow,
} from '../session/index.js';
// stats-format is plain text formatting: no Ink is loaded.
import {
  buildsText,
  causeBreakdown,
  percentText,
  spanText,
  statsTable,
  suggestionText,
} from '../tui/stats-format.js';
import { type BuilderTarget, openBuilderTarget } from './build-inputs.js';
import { openConfig } from './credentials.js';

/** Flags of `depot stats`. */
export interface StatsOptions {
  window: StatsWindow;
  groupBy: StatsGroupBy;
  json: boolean;
  builder?: string;
  token?: string;
  project?: string;
}

/** Flags that pick the builder, shared by `depot stats` and `depot dashboard`. */
export interface RemoteBuilderOptions {
  builder?: string;
  token?: string;
  project?: string;
}

/**
 * Opens a session to the configured builder, the way `depot build` picks it. The embedded
 * builder lives only as long as this process and has no team history, so without a configured
 * builder this fails with one line saying how to configure one.
 */
export async function openRemoteBuilder(
  opts: RemoteBuilderOptions,
  command: string,
): Promise<{ session: BuilderSession; target: BuilderTarget }> {
  const configured = opts.builder || process.env.DEPOT_BUILDER || openConfig().get('builder');
  if (!configured)
    throw new DepotError(
      'no_builder',
      `no builder configured: \`depot ${command}\` reads a shared builder's history`,
      'pass --builder URL, set DEPOT_BUILDER, or run `depot login --builder URL`',
    );
  const target = await openBuilderTarget(opts);
  const session = createBuilderSession({ url: target.url, token: target.token, project: target.project });
  return { session, target };
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
    for (const b of [...res.busters].sort((x, y) => y.costMs - x.costMs).slice(0, 5)) {
      const causes = causeBreakdown(b);
      const misses = `${b.misses} miss${b.misses === 1 ? '' : 'es'}, cost ${spanText(b.costMs)}`;
      lines.push(`  ${b.step}  (${b.project})  ${misses}${causes ? ` · ${causes}` : ''}`);
      if (b.suggestion) lines.push(`    → ${suggestionText(b)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `depot stats`: one Stats call; `--json` prints the answer as JSON (numbers), else a table. */
export async function runStats(opts: StatsOptions): Promise<void> {
  const { session } = await openRemoteBuilder(opts, 'stats');
  try {
    const res = await session.stats({ window: opts.window, groupBy: opts.groupBy });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
      return;
    }
    process.stdout.write(formatStatsTable(res, opts.groupBy, process.stdout.columns || 100));
  } finally {
    session.close();
  }
}
