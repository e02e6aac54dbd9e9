/**
 * Which step of a build each missed step is charged to: a root miss (its own inputs changed) to
 * itself, a cascaded miss (it only followed a missed step it builds on) to that root. Stored as
 * `steps.root_idx` when a build is recorded, so the cache busters (stats-window.ts, rollups.ts) and
 * StepCosts (step-costs.ts) read the root instead of guessing it.
 */
import { cascadePrefix } from './explain.js';
import type { Sql } from './sql.js';

/** One step of a build as the attribution sees it. */
export interface ChargeStep {
  /** Its position in the build (`steps.idx`). */
  idx: number;
  digest: string;
  /** The vertex name, e.g. "[3/5] COPY . .". */
  name: string;
  cached: boolean;
  cascade: boolean;
  /** Its cause's text ('' when none). */
  text: string;
  /** Its cause's `rootVertex`: the root's vertex digest, as the recorder followed it ('' when none). */
  rootVertex: string;
}

/**
 * The step each missed step of one build is charged to, by idx: itself for a root miss; for a
 * cascade, the root miss whose vertex its cause names (`rootVertex`), else the one its cause text
 * names ("follows from <root>: …", the nearest such before it, else any), else — for texts that
 * name none (older records) — the build's only root miss before it. Cached steps, and cascades
 * whose root none of these finds, are absent.
 */
export function chargedTo(steps: readonly ChargeStep[]): Map<number, number> {
  const out = new Map<number, number>();
  const roots = steps.filter((s) => !s.cached && !s.cascade);
  for (const r of roots) out.set(r.idx, r.idx);
  for (const s of steps) {
    if (s.cached || !s.cascade) continue;
    const root = rootOf(s, roots);
    if (root) out.set(s.idx, root.idx);
  }
  return out;
}

function rootOf(row: ChargeStep, roots: ChargeStep[]): ChargeStep | undefined {
  if (row.rootVertex) {
    const named = roots.find((r) => r.digest === row.rootVertex);
    if (named) return named;
  }
  const before = roots.filter((r) => r.idx < row.idx);
  const names = (r: ChargeStep) => row.text.startsWith(cascadePrefix(r.name));
  const named = before.filter(names);
  if (named.length > 0) return named[named.length - 1];
  const anyNamed = roots.filter(names);
  if (anyNamed.length > 0) return anyNamed[anyNamed.length - 1];
  return before.length === 1 ? before[0] : undefined;
}

/** The text and root vertex of a stored cause (JSON), '' for what it lacks. */
export function storedCause(cause: string | null): { text: string; rootVertex: string } {
  if (!cause) return { text: '', rootVertex: '' };
  try {
    const c = JSON.parse(cause) as { text?: unknown; rootVertex?: unknown };
    return {
      text: typeof c.text === 'string' ? c.text : '',
      rootVertex: typeof c.rootVertex === 'string' ? c.rootVertex : '',
    };
  } catch {
    return { text: '', rootVertex: '' };
  }
}

/** Builds read per page of the back-fill. */
const BACKFILL_BUILDS = 2000;

/**
 * Sets `root_idx` on the missed steps recorded before it was kept (`chargedTo`, from their stored
 * causes): the schema migration that adds the column runs it once, inside its transaction.
 */
export async function backfillRoots(sql: Sql): Promise<void> {
  await sql.run('UPDATE steps SET root_idx = idx WHERE cached = 0 AND cascade = 0');
  const range = await sql.get<{ lo: number | null; hi: number | null }>(
    'SELECT min(build) AS lo, max(build) AS hi FROM steps WHERE cached = 0 AND cascade = 1',
  );
  if (range?.lo == null || range.hi == null) return;
  // Each update travels as one JSON array of [build, idx, root_idx]: one statement per page.
  const triples =
    sql.dialect === 'sqlite'
      ? `SELECT json_extract(value, '$[0]') AS b, json_extract(value, '$[1]') AS i,
           json_extract(value, '$[2]') AS r FROM json_each(?)`
      : `SELECT CAST(value->>0 AS BIGINT) AS b, CAST(value->>1 AS INTEGER) AS i,
           CAST(value->>2 AS INTEGER) AS r FROM json_array_elements(CAST(? AS json))`;
  for (let lo = range.lo; lo <= range.hi; lo += BACKFILL_BUILDS) {
    const rows = await sql.all<{
      build: number;
      idx: number;
      digest: string;
      name: string;
      cascade: number;
      cause: string | null;
    }>(
      // Only a cascade's cause is read: a root's names nothing.
      `SELECT build, idx, digest, name, cascade, CASE WHEN cascade = 1 THEN cause END AS cause FROM steps
       WHERE build >= ? AND build < ? AND cached = 0 ORDER BY build, idx`,
      [lo, lo + BACKFILL_BUILDS],
    );
    const updates: [number, number, number][] = [];
    for (let i = 0; i < rows.length; ) {
      const build = rows[i]!.build;
      const steps: ChargeStep[] = [];
      for (; i < rows.length && rows[i]!.build === build; i++) {
        const r = rows[i]!;
        steps.push({
          idx: r.idx,
          digest: r.digest,
          name: r.name,
          cached: false,
          cascade: r.cascade === 1,
          ...storedCause(r.cause),
        });
      }
      if (!steps.some((s) => s.cascade)) continue;
      for (const [idx, root] of chargedTo(steps)) if (idx !== root) updates.push([build, idx, root]);
    }
    if (updates.length > 0)
      await sql.run(
        `UPDATE steps SET root_idx = j.r FROM (${triples}) AS j WHERE steps.build = j.b AND steps.idx = j.i`,
        [JSON.stringify(updates)],
      );
  }
}
