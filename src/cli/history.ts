/**
 * `depot history`: the project's recorded builds (`ls`) and the replay of one of them (`show`), from
 * the builder's history (a fleet's, or the embedded builder's when none is configured).
 */
import {
  type BuildEvent,
  createJsonRenderer,
  createPlainRenderer,
  type ProgressMode,
  resolveProgressMode,
} from '../progress/index.js';
import { type BuildRecordWire, DepotError, type ListBuildsQuery, openReplay } from '../session/index.js';
// stats-format is plain text formatting: no Ink is loaded.
import { BUILD_ID_SHORT, BUILD_TABLE_HEAD, buildRecordCells } from '../tui/stats-format.js';
import { openHistorySource, type RemoteBuilderOptions } from './stats.js';

/** Flags of `depot history ls`. */
export interface HistoryLsOptions extends RemoteBuilderOptions {
  limit: string;
  result?: string;
  platform?: string;
  json: boolean;
}

/** Flags of `depot history show`. */
export interface HistoryShowOptions extends RemoteBuilderOptions {
  progress: string;
}

/** How much of a build id the table shows (a shorter start names the build when no other shares it). */
export const SHORT_ID = BUILD_ID_SHORT;
const RESULTS = ['running', 'ok', 'failed', 'cancelled'];
const SHOW_MODES = ['auto', 'tty', 'plain', 'json'];

/** The list question of `ls`'s flags, checked. */
export function listQuery(opts: Pick<HistoryLsOptions, 'limit' | 'result' | 'platform'>): ListBuildsQuery {
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500)
    throw new DepotError('invalid_flag', `invalid --limit ${JSON.stringify(opts.limit)}`, 'use 1 to 500');
  if (opts.result && !RESULTS.includes(opts.result))
    throw new DepotError(
      'invalid_flag',
      `invalid --result ${JSON.stringify(opts.result)}`,
      `use ${RESULTS.join(', ')}`,
    );
  return { limit, result: opts.result ?? '', platform: opts.platform ?? '' };
}

/** One build as `--json` prints it. */
export function recordJson(r: BuildRecordWire) {
  const s = r.summary!;
  const started = Number(s.startedMs);
  const finished = Number(s.finishedMs);
  return {
    id: s.buildId,
    project: s.project,
    user: s.user,
    platform: s.platform,
    builder: s.builder,
    startedAt: new Date(started).toISOString(),
    startedMs: started,
    finishedMs: finished,
    durationMs: finished > 0 ? Math.max(0, finished - started) : null,
    result: s.result,
    steps: s.steps,
    cachedSteps: s.cachedSteps,
    savedMs: Number(s.savedMs),
    dockerfilePath: r.dockerfilePath,
    target: r.target,
    error: r.error,
    trace: r.hasTrace ? { bytes: Number(r.traceBytes), cut: r.traceCut } : null,
  };
}

/**
 * The table of `depot history ls`: one line per build, newest first — id (its first 12
 * characters), when, how long, platform, target, result, cached/steps, time saved, builder — and
 * the error of a failed build on the line under it.
 */
export function formatBuildTable(records: readonly BuildRecordWire[], nowMs: number): string {
  const head = [...BUILD_TABLE_HEAD];
  const rows = records.map((r) => {
    const s = r.summary!;
    return {
      cells: buildRecordCells(r, nowMs),
      error: s.result === 'failed' && r.error ? r.error.split('\n')[0]!.slice(0, 160) : '',
    };
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(head)];
  for (const r of rows) {
    out.push(line(r.cells));
    if (r.error) out.push(`  └ ${r.error}`);
  }
  return `${out.join('\n')}\n`;
}

/** `depot history ls`: the latest builds of the project, as a table or `--json`. */
export async function runHistoryLs(opts: HistoryLsOptions): Promise<void> {
  const query = listQuery(opts);
  const source = await openHistorySource(opts, 'history', { embedded: true });
  try {
    const res = await source.listBuilds(query);
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ builds: res.builds.map(recordJson), more: res.more }, null, 2)}\n`,
      );
      return;
    }
    if (res.builds.length === 0) {
      process.stdout.write('no builds recorded\n');
      return;
    }
    let out = formatBuildTable(res.builds, Date.now());
    if (res.builds.some((r) => r.traceCut)) out += "* the stored trace was cut to the builder's bound\n";
    if (res.more) out += `(the latest ${res.builds.length}; --limit shows more)\n`;
    process.stdout.write(out);
  } finally {
    source.close();
  }
}

/** A replay's destination: the renderer of a --progress mode, on stdout. */
interface ReplaySink {
  handle(e: BuildEvent): void;
  close(): Promise<void> | void;
}

/**
 * `depot history show ID`: the build replayed from its trace. In a terminal, the live build's view
 * (graph, waterfall, summary), to explore with the keys when stdin is a terminal too; else
 * (`--progress plain`, or output to a pipe) the plain progress a live build prints; `--progress
 * json` its events as `depot build --progress json` prints them.
 */
export async function runHistoryShow(
  id: string,
  opts: HistoryShowOptions,
  signal: AbortSignal,
): Promise<void> {
  if (!SHOW_MODES.includes(opts.progress))
    throw new DepotError(
      'invalid_flag',
      `invalid --progress ${JSON.stringify(opts.progress)}`,
      `use one of ${SHOW_MODES.join(', ')}`,
    );
  const mode = resolveProgressMode(opts.progress as ProgressMode, {
    isTTY: Boolean(process.stdout.isTTY),
    ci: Boolean(process.env.CI),
  });
  const source = await openHistorySource(opts, 'history', { embedded: true });
  try {
    const replay = await openReplay(source.buildTrace(id, signal));
    for (const n of replay.notes) process.stderr.write(`depot: note: ${n}\n`);
    if (mode === 'tty') {
      const tui = await import('../tui/index.js');
      const interactive = Boolean(process.stdin.isTTY);
      await tui.replayBuildTty({
        stdout: process.stdout,
        stdin: process.stdin,
        events: replay.events,
        header: replay.header,
        notes: replay.notes,
        interactive,
        signal,
      });
      return;
    }
    const sink: ReplaySink =
      mode === 'json'
        ? createJsonRenderer((s) => process.stdout.write(s))
        : createPlainRenderer((s) => process.stdout.write(s));
    for await (const e of replay.events) sink.handle(e);
    await sink.close();
  } finally {
    source.close();
  }
}
