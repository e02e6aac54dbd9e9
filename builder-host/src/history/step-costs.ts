/**
 * What each instruction of one line of builds cost over its latest builds: runs, misses (root and
 * cascaded), the time the misses took, which root each cascaded miss followed (as recorded:
 * `steps.root_idx`, see roots.ts) and, for a dependency install right after a whole-context copy,
 * in how many builds the copy's changes left the install's manifests alone (the install would have
 * been reused had it run on those alone).
 */
import type { StepCostsResponse__Output } from '../../../src/protocol/generated/depot/builder/v1/StepCostsResponse.js';
import type { Sql } from './sql.js';
import { copiesWholeContext, installer, positionOf } from './suggest.js';
import type { SnapshotDiff } from './types.js';

/** Builds read when the request names no number. */
export const STEP_COSTS_DEFAULT_LAST = 50;
/** Most builds one answer reads. */
export const STEP_COSTS_MAX_LAST = 500;
/** Most instructions one answer lists (costliest first). */
export const STEP_COSTS_MAX_STEPS = 100;
/** Most roots listed per instruction. */
export const STEP_COSTS_MAX_ROOTS = 10;
/** Longest instruction text an answer carries (a RUN may be a whole script). */
export const STEP_COSTS_MAX_INSTR = 2048;

/** A StepCosts question, already scoped to one project. */
export interface StepCostsQuery {
  project: string;
  /** As the builds recorded it: '' for a Dockerfile sent on its own. */
  dockerfilePath: string;
  /** '' for the last stage. */
  target: string;
  /** A normalized platform; undefined or '' for every platform of the line. */
  platform?: string;
  /** Builds to read; bounded to 1…STEP_COSTS_MAX_LAST, 0 or undefined meaning the default. */
  last?: number;
}

/** What `History.stepCosts` answers: the wire `StepCostsResponse`. */
export type StepCostsResult = StepCostsResponse__Output;

/** The number of builds a request for `last` reads. */
export function boundedLast(last: number | undefined): number {
  if (!last || !Number.isFinite(last) || last < 1) return STEP_COSTS_DEFAULT_LAST;
  return Math.min(Math.floor(last), STEP_COSTS_MAX_LAST);
}

interface BuildRow {
  id: number;
  snapshot_diff: string | null;
}

interface StepRow {
  build: number;
  idx: number;
  name: string;
  instr: string;
  cached: number;
  duration_ms: number;
  cause_kind: string | null;
  cascade: number;
  /** The step of the same build this miss is charged to (roots.ts); null when cached or unknown. */
  root_idx: number | null;
}

interface RootAgg {
  count: number;
  costMs: number;
  reuse?: { tool: string; manifests: string[]; reusable: number; reusableMs: number; unknown: number };
}

interface StepAgg {
  runs: number;
  misses: number;
  rootMisses: number;
  cascadedMisses: number;
  costMs: number;
  rootCostMs: number;
  roots: Map<string, RootAgg>;
}

/** Reads the answer from the history database. */
export async function readStepCosts(sql: Sql, q: StepCostsQuery): Promise<StepCostsResult> {
  const last = boundedLast(q.last);
  const platform = q.platform ? 'AND platform = ?' : '';
  const builds = await sql.all<BuildRow>(
    `
    SELECT id, snapshot_diff FROM builds
    WHERE project = ? ${platform} AND dockerfile_path = ? AND target = ? AND result != 'running'
    ORDER BY started_ms DESC, id DESC LIMIT ?`,
    [q.project, ...(q.platform ? [q.platform] : []), q.dockerfilePath, q.target, last],
  );
  // The ids travel as one JSON array: one statement whatever their number.
  const ids =
    sql.dialect === 'sqlite'
      ? 'SELECT value FROM json_each(?)'
      : 'SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(? AS json))';
  const steps = await sql.all<StepRow>(
    `
    SELECT build, idx, name, instr, cached, duration_ms, cause_kind, cascade, root_idx FROM steps
    WHERE build IN (${ids}) ORDER BY build, idx`,
    [JSON.stringify(builds.map((b) => b.id))],
  );

  const byBuild = new Map<number, StepRow[]>();
  for (const s of steps) {
    const list = byBuild.get(s.build);
    if (list) list.push(s);
    else byBuild.set(s.build, [s]);
  }
  const agg = new Map<string, StepAgg>();
  for (const b of builds) {
    const rows = byBuild.get(b.id) ?? [];
    for (const r of rows) {
      let a = agg.get(r.instr);
      if (!a) {
        a = {
          runs: 0,
          misses: 0,
          rootMisses: 0,
          cascadedMisses: 0,
          costMs: 0,
          rootCostMs: 0,
          roots: new Map(),
        };
        agg.set(r.instr, a);
      }
      a.runs++;
      if (r.cached) continue;
      a.misses++;
      a.costMs += r.duration_ms;
      if (!r.cascade) {
        a.rootMisses++;
        a.rootCostMs += r.duration_ms;
        continue;
      }
      a.cascadedMisses++;
      const root = r.root_idx === null ? undefined : rows.find((x) => x.idx === r.root_idx);
      const key = root?.instr ?? '';
      let ra = a.roots.get(key);
      if (!ra) {
        ra = { count: 0, costMs: 0 };
        a.roots.set(key, ra);
      }
      ra.count++;
      ra.costMs += r.duration_ms;
      if (root) countReuse(ra, root, r, b.snapshot_diff);
    }
  }

  const ranked = [...agg]
    .filter(([, a]) => a.runs > 0)
    .sort(([ia, a], [ib, b]) => b.costMs - a.costMs || b.misses - a.misses || ia.localeCompare(ib));
  return {
    builds: builds.length,
    last,
    steps: ranked.slice(0, STEP_COSTS_MAX_STEPS).map(([instr, a]) => ({
      instr: cut(instr),
      runs: a.runs,
      misses: a.misses,
      rootMisses: a.rootMisses,
      cascadedMisses: a.cascadedMisses,
      costMs: a.costMs,
      rootCostMs: a.rootCostMs,
      causedBy: [...a.roots]
        .sort(([ra, x], [rb, y]) => y.costMs - x.costMs || y.count - x.count || ra.localeCompare(rb))
        .slice(0, STEP_COSTS_MAX_ROOTS)
        .map(([root, x]) => ({
          root: cut(root),
          count: x.count,
          costMs: x.costMs,
          installReuse: x.reuse ?? null,
        })),
    })),
    moreSteps: Math.max(0, ranked.length - STEP_COSTS_MAX_STEPS),
  };
}

/**
 * Counts one cascaded miss of `install` after the whole-context copy `copy` toward the pair's reuse:
 * only when `install` is a known installer right after `copy` in its stage. The install would have
 * been reused when the copy missed for changed files alone and none of the changed paths is one of
 * the install's manifests or lockfiles; a missing or capped diff cannot tell.
 */
function countReuse(agg: RootAgg, copy: StepRow, install: StepRow, diffJson: string | null): void {
  // `--from` copies another stage or image, not the context.
  if (!copiesWholeContext(copy.instr) || /\s--from[=\s]/i.test(copy.instr)) return;
  const tool = installer(install.instr);
  const at = positionOf(copy.name);
  const next = positionOf(install.name);
  if (!tool || !at || !next || at.stage !== next.stage || next.n !== at.n + 1) return;
  const files = [...new Set([...tool.manifests, ...tool.lockfiles, ...(ALSO_READ[tool.name] ?? [])])];
  agg.reuse ??= { tool: tool.name, manifests: files, reusable: 0, reusableMs: 0, unknown: 0 };
  if (copy.cause_kind !== 'changed_files') return;
  const diff = parseDiff(diffJson);
  if (!diff) {
    agg.reuse.unknown++;
    return;
  }
  const paths = [...diff.added, ...diff.changed, ...diff.removed];
  if (paths.some((p) => files.includes(p))) return;
  const capped =
    diff.addedCount > diff.added.length ||
    diff.changedCount > diff.changed.length ||
    diff.removedCount > diff.removed.length;
  if (capped) {
    agg.reuse.unknown++;
    return;
  }
  agg.reuse.reusable++;
  agg.reuse.reusableMs += install.duration_ms;
}

/** Configuration an install reads beside its manifests, which the smart cache copies with them (plan.ts). */
const ALSO_READ: Record<string, string[]> = { npm: ['.npmrc'], pip: ['pip.conf'] };

function parseDiff(json: string | null): SnapshotDiff | undefined {
  if (!json) return undefined;
  try {
    const d = JSON.parse(json) as Partial<SnapshotDiff>;
    const list = (x: unknown) => Array.isArray(x) && x.every((p) => typeof p === 'string');
    const count = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
    if (!list(d.added) || !list(d.changed) || !list(d.removed)) return undefined;
    if (!count(d.addedCount) || !count(d.changedCount) || !count(d.removedCount)) return undefined;
    return d as SnapshotDiff;
  } catch {
    return undefined;
  }
}

function cut(text: string): string {
  return text.length <= STEP_COSTS_MAX_INSTR ? text : `${text.slice(0, STEP_COSTS_MAX_INSTR - 1)}…`;
}
