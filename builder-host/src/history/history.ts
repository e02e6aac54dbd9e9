import Database from 'better-sqlite3';
import { processAlive } from '../../../src/durable-file/index.js';
import { adviceFor, createDockerfileAdvisor, NO_ADVICE } from './advice.js';
import { buildArgFingerprint } from './explain.js';
import { createRollups, HOUR_MS, ROLLUP_SCHEMA, type Span, splitByDay, splitByHour } from './rollups.js';
import { readStepCosts, type StepCostsQuery, type StepCostsResult } from './step-costs.js';
import { instructionOf } from './suggest.js';
import type {
  BuildFinish,
  BuildOutcome,
  BuildStart,
  BuildSummary,
  PreviousBuild,
  RetentionOptions,
  StatsQuery,
  StatsResult,
  StatsWindow,
  StepCause,
} from './types.js';

/** The recorded builds of one builder, in SQLite. */
export interface History {
  /** Records a build as 'running'; returns the handle `recordBuildFinish` takes and its summary. */
  recordBuildStart(start: BuildStart): { id: number; summary: BuildSummary };
  /** Records the end of a build and its steps (time saved computed here), in one transaction. */
  recordBuildFinish(finish: BuildFinish): BuildSummary;
  /**
   * The last finished build of this project and platform from the same Dockerfile path and
   * target, or undefined for the first (builds recorded before paths were kept match none).
   */
  previousBuild(
    project: string,
    platform: string,
    dockerfilePath: string,
    target: string,
  ): PreviousBuild | undefined;
  /** True when an earlier recorded build ran a step with this digest. */
  hasStep(digest: string): boolean;
  /** What a cached step saved: its last uncached run by digest, else the median for the instruction, else 0. */
  timeSaved(step: { project: string; digest: string; name: string }): number;
  /**
   * Totals, groups, series and cache busters over a window (whole hours from the roll-ups). Each
   * buster's suggestion is the Dockerfile advisor's fix for its step (advice.ts).
   */
  stats(query: StatsQuery): Promise<StatsResult>;
  /** The same answer as `stats`, read from every raw row of the window: the roll-ups' reference. */
  statsFromRaw(query: StatsQuery): Promise<StatsResult>;
  /**
   * What each instruction of one project's line of builds (Dockerfile path, target, and platform
   * when given) cost over its latest finished builds (see step-costs.ts; bounded there).
   */
  stepCosts(query: StepCostsQuery): StepCostsResult;
  /** Makes the roll-up tables again from the raw rows (they are derived data). */
  rebuildRollups(): void;
  /** Deletes builds older than the age limit and beyond the count limit; returns how many went. */
  prune(now: number): number;
  /**
   * Marks builds left 'running' by a builder process that is gone (killed, crashed) as failed with
   * error 'builder stopped'; returns how many. Builds of live processes stay as they are.
   */
  failAbandoned(now: number): number;
  /** The error recorded with a build that did not finish itself, or undefined. */
  errorOf(buildId: string): string | undefined;
  /** The schema version the database is at. */
  schemaVersion(): number;
  close(): void;
}

type Db = Database.Database;

/** Ordered schema migrations; index i brings the schema to version i + 1. Never edit a shipped one. */
export const MIGRATIONS: ((db: Db) => void)[] = [
  (db) => {
    // Aggregated columns come first so window scans never read the JSON columns' overflow pages.
    db.exec(`
      CREATE TABLE builds (
        id INTEGER PRIMARY KEY,
        started_ms INTEGER NOT NULL,
        finished_ms INTEGER NOT NULL DEFAULT 0,
        project TEXT NOT NULL,
        user TEXT NOT NULL,
        platform TEXT NOT NULL,
        result TEXT NOT NULL,
        steps INTEGER NOT NULL DEFAULT 0,
        cached_steps INTEGER NOT NULL DEFAULT 0,
        saved_ms INTEGER NOT NULL DEFAULT 0,
        bytes_uploaded INTEGER NOT NULL DEFAULT 0,
        bytes_deduplicated INTEGER NOT NULL DEFAULT 0,
        no_cache INTEGER NOT NULL DEFAULT 0,
        build_id TEXT NOT NULL,
        snapshot_id TEXT NOT NULL,
        prev_snapshot_id TEXT,
        dockerfile_digest TEXT NOT NULL,
        build_args TEXT NOT NULL,
        base_images TEXT NOT NULL,
        snapshot_diff TEXT
      );
      CREATE INDEX builds_started ON builds(started_ms);
      CREATE INDEX builds_project_started ON builds(project, started_ms);
      CREATE TABLE steps (
        build INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        started_ms INTEGER NOT NULL,
        project TEXT NOT NULL,
        digest TEXT NOT NULL,
        name TEXT NOT NULL,
        instr TEXT NOT NULL,
        cached INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        saved_ms INTEGER NOT NULL,
        cause_kind TEXT,
        cause TEXT,
        PRIMARY KEY (build, idx)
      ) WITHOUT ROWID;
      CREATE INDEX steps_digest ON steps(digest, cached);
      CREATE INDEX steps_instr_missed ON steps(project, instr) WHERE cached = 0;
      CREATE INDEX steps_missed_window ON steps(started_ms, project, instr, cause_kind, duration_ms)
        WHERE cached = 0;
      CREATE TABLE dockerfiles (
        digest TEXT PRIMARY KEY,
        text TEXT NOT NULL
      ) WITHOUT ROWID;
    `);
  },
  (db) => {
    // Builds are compared with the last one of the same Dockerfile path and target (NULL: recorded
    // before these were kept); a cascaded miss (it only followed a missed step it builds on) is no
    // cache buster of its own. Older causes of cascades read "after <step>: …".
    db.exec(`
      ALTER TABLE builds ADD COLUMN dockerfile_path TEXT;
      ALTER TABLE builds ADD COLUMN target TEXT;
      CREATE INDEX builds_line ON builds(project, platform, dockerfile_path, target, started_ms);
      ALTER TABLE steps ADD COLUMN cascade INTEGER NOT NULL DEFAULT 0;
      UPDATE steps SET cascade = 1
        WHERE cached = 0 AND cause IS NOT NULL AND json_extract(cause, '$.text') LIKE 'after %';
      DROP INDEX steps_missed_window;
      CREATE INDEX steps_missed_window ON steps(started_ms, project, instr, cause_kind, duration_ms)
        WHERE cached = 0 AND cascade = 0;
    `);
  },
  (db) => {
    // owner_pid: the builder process running the build, so a restart fails only the builds of a
    // process that is gone (the embedded builder shares its data dir between CLI processes).
    // build_args_hashed: build_args holds sha256 fingerprints of the values, not the values.
    db.exec(`
      ALTER TABLE builds ADD COLUMN owner_pid INTEGER;
      ALTER TABLE builds ADD COLUMN error TEXT;
      ALTER TABLE builds ADD COLUMN build_args_hashed INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX builds_running ON builds(result) WHERE result = 'running';
    `);
  },
  (db) => {
    // Hourly roll-ups (see rollups.ts), back-filled from the builds already recorded. Builds by
    // finish time serve Stats' `recent`, and build-arg causes by step serve the busters'
    // suggestions, without reading the whole window or every miss of a step.
    db.exec(ROLLUP_SCHEMA);
    db.exec(`
      CREATE INDEX builds_finished ON builds(finished_ms);
      CREATE INDEX steps_arg_causes ON steps(project, instr)
        WHERE cached = 0 AND cascade = 0 AND cause_kind = 'build_arg';
    `);
    createRollups(db).rebuild();
  },
];

/** Longest list of paths kept per kind in a snapshot diff. */
export const SNAPSHOT_DIFF_CAP = 200;

const WINDOW_MS: Record<StatsWindow, number> = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
};
// Sparkline resolution: 12 × 5 min, 24 × 1 h, 7 × 1 day.
const BUCKET_MS: Record<StatsWindow, number> = {
  '1h': 300_000,
  '24h': 3_600_000,
  '7d': 86_400_000,
};

/** Length of a Stats window in ms. */
export function windowMs(w: StatsWindow): number {
  return WINDOW_MS[w];
}

/** Opens (creating and migrating) the history database at `file`; ':memory:' for tests. */
export function openHistory(file: string, retention: RetentionOptions = {}): History {
  const maxAgeDays = retention.maxAgeDays ?? 30;
  const maxBuilds = retention.maxBuilds ?? 200_000;
  const hashArgs = (retention.buildArgs ?? 'hashed') === 'hashed';
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  const rollups = createRollups(db);
  // Derived data that disagrees with the raw rows (written by hand, or by a bug) is made again.
  if (!rollups.agree()) db.transaction(() => rollups.rebuild())();
  const stmts = new Map<string, Database.Statement>();
  const stmt = (sql: string) => {
    let st = stmts.get(sql);
    if (!st) {
      st = db.prepare(sql);
      stmts.set(sql, st);
    }
    return st;
  };

  const q = {
    insertBuild: db.prepare(`
      INSERT INTO builds (started_ms, project, user, platform, result, no_cache, build_id, snapshot_id,
        prev_snapshot_id, dockerfile_digest, build_args, base_images, snapshot_diff, bytes_uploaded,
        bytes_deduplicated, dockerfile_path, target, owner_pid, build_args_hashed)
      VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    runningOwners: db.prepare("SELECT DISTINCT owner_pid FROM builds WHERE result = 'running'").pluck(),
    failRunning: db.prepare(
      `UPDATE builds SET result = 'failed', finished_ms = ?, error = 'builder stopped'
       WHERE result = 'running' AND (owner_pid IS ? OR owner_pid = ?)`,
    ),
    runningOf: db
      .prepare("SELECT id FROM builds WHERE result = 'running' AND (owner_pid IS ? OR owner_pid = ?)")
      .pluck(),
    errorOf: db.prepare('SELECT error FROM builds WHERE build_id = ? ORDER BY id DESC LIMIT 1').pluck(),
    upsertDockerfile: db.prepare('INSERT OR IGNORE INTO dockerfiles (digest, text) VALUES (?, ?)'),
    buildRow: db.prepare(
      'SELECT id, build_id, project, user, platform, started_ms, finished_ms, result, steps, cached_steps, saved_ms FROM builds WHERE id = ?',
    ),
    finishBuild: db.prepare(
      'UPDATE builds SET finished_ms = ?, result = ?, steps = ?, cached_steps = ?, saved_ms = ? WHERE id = ?',
    ),
    insertStep: db.prepare(`
      INSERT INTO steps (build, idx, started_ms, project, digest, name, instr, cached, duration_ms, bytes,
        saved_ms, cause_kind, cause, cascade)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    lastUncachedByDigest: db
      .prepare('SELECT duration_ms FROM steps WHERE digest = ? AND cached = 0 ORDER BY build DESC LIMIT 1')
      .pluck(),
    recentUncachedByInstr: db
      .prepare(
        'SELECT duration_ms FROM steps WHERE project = ? AND instr = ? AND cached = 0 ORDER BY build DESC LIMIT 51',
      )
      .pluck(),
    hasStep: db.prepare('SELECT 1 FROM steps WHERE digest = ? LIMIT 1').pluck(),
    previous: db.prepare(`
      SELECT b.id, b.build_id, b.platform, b.started_ms, b.finished_ms, b.result, b.snapshot_id, b.build_args,
        b.build_args_hashed, b.dockerfile_digest, b.base_images, d.text AS dockerfile
      FROM builds b LEFT JOIN dockerfiles d ON d.digest = b.dockerfile_digest
      WHERE b.project = ? AND b.platform = ? AND b.dockerfile_path = ? AND b.target = ? AND b.result != 'running'
      ORDER BY b.started_ms DESC, b.id DESC LIMIT 1`),
    stepsOf: db.prepare('SELECT digest, name, cached, duration_ms FROM steps WHERE build = ? ORDER BY idx'),
    latestMissBuild: db
      .prepare(
        'SELECT build FROM steps WHERE project = ? AND instr = ? AND cached = 0 AND cascade = 0 ORDER BY build DESC LIMIT 1',
      )
      .pluck(),
    dockerfileOf: db.prepare(
      'SELECT d.text, b.target FROM builds b JOIN dockerfiles d ON d.digest = b.dockerfile_digest WHERE b.id = ?',
    ),
    recentArgCauses: db
      .prepare(`
      SELECT cause FROM steps WHERE project = ? AND instr = ? AND cached = 0 AND cascade = 0
        AND cause_kind = 'build_arg'
      ORDER BY build DESC LIMIT 50`)
      .pluck(),
  };

  function summaryOf(id: number): BuildSummary {
    const r = q.buildRow.get(id) as BuildRow | undefined;
    if (!r) throw new Error(`history: no build with row id ${id}`);
    return toSummary(r);
  }

  function timeSaved(step: { project: string; digest: string; name: string }): number {
    const last = q.lastUncachedByDigest.get(step.digest) as number | undefined;
    if (last !== undefined) return last;
    const runs = q.recentUncachedByInstr.all(step.project, instructionOf(step.name)) as number[];
    return median(runs);
  }

  const finishTx = db.transaction((f: BuildFinish): BuildSummary => {
    const row = q.buildRow.get(f.id) as BuildRow | undefined;
    if (!row) throw new Error(`history: no build with row id ${f.id}`);
    if (!Number.isSafeInteger(f.finishedMs))
      throw new Error(`history: finish time ${f.finishedMs} is not a whole number of ms`);
    // A build finished twice (e.g. failed as abandoned, then finished) counts once, as it ends.
    const again = row.result !== 'running';
    if (again) rollups.apply('SELECT ?', [f.id], -1);
    let cached = 0;
    let saved = 0;
    // Savings are looked up before this build's own steps are inserted: a step never saves its own run.
    const savedBy = f.steps.map((s) =>
      s.cached ? timeSaved({ project: row.project, digest: s.digest, name: s.name }) : 0,
    );
    f.steps.forEach((s, i) => {
      if (s.cached) cached++;
      saved += savedBy[i]!;
      q.insertStep.run(
        f.id,
        i,
        row.started_ms,
        row.project,
        s.digest,
        s.name,
        instructionOf(s.name),
        s.cached ? 1 : 0,
        Math.max(0, Math.round(s.durationMs)),
        Math.max(0, Math.round(s.bytes)),
        savedBy[i]!,
        s.cached ? null : (s.cause?.kind ?? null),
        s.cached || !s.cause ? null : JSON.stringify(s.cause),
        !s.cached && s.cascade ? 1 : 0,
      );
    });
    q.finishBuild.run(f.finishedMs, f.result, f.steps.length, cached, saved, f.id);
    rollups.apply('SELECT ?', [f.id], 1);
    if (again) rollups.dropEmpty();
    return summaryOf(f.id);
  });

  /** What a cache buster's suggestion looks at: the Dockerfile and target of its latest miss, its build args. */
  function busterFacts(project: string, instr: string) {
    const build = q.latestMissBuild.get(project, instr) as number | undefined;
    const args = new Map<string, number>();
    for (const c of q.recentArgCauses.all(project, instr) as string[]) {
      const name = (JSON.parse(c) as Partial<StepCause>).name;
      if (name) args.set(name, (args.get(name) ?? 0) + 1);
    }
    const buildArg = [...args].sort((a, b) => b[1] - a[1])[0]?.[0];
    const kept =
      build === undefined
        ? undefined
        : (q.dockerfileOf.get(build) as { text: string; target: string | null });
    return { buildArg, dockerfile: kept?.text, target: kept?.target ?? '' };
  }

  const advisor = createDockerfileAdvisor();

  /** Gives each buster the advisor's finding about its step, when the Dockerfile of its latest miss has one. */
  async function advised(result: StatsResult): Promise<StatsResult> {
    // Read from the database before the first await: nothing else runs on it in between.
    const facts = result.busters.map((b) => busterFacts(b.project, b.step));
    await Promise.all(
      result.busters.map(async (b, i) => {
        const { dockerfile, target, buildArg } = facts[i]!;
        const findings = dockerfile ? await advisor(dockerfile, target) : [];
        Object.assign(
          b,
          adviceFor(
            { instr: b.step, misses: Number(b.misses), causes: b.causes, ...(buildArg ? { buildArg } : {}) },
            findings,
          ),
        );
      }),
    );
    return result;
  }

  return {
    recordBuildStart(s) {
      if (!Number.isSafeInteger(s.startedMs))
        throw new Error(`history: start time ${s.startedMs} is not a whole number of ms`);
      const info = db.transaction(() => {
        q.upsertDockerfile.run(s.dockerfileDigest, s.dockerfile);
        return q.insertBuild.run(
          s.startedMs,
          s.project,
          s.user,
          s.platform,
          s.noCache ? 1 : 0,
          s.buildId,
          s.snapshotId,
          s.prevSnapshotId ?? null,
          s.dockerfileDigest,
          JSON.stringify(
            hashArgs
              ? Object.fromEntries(Object.entries(s.buildArgs).map(([k, v]) => [k, buildArgFingerprint(v)]))
              : s.buildArgs,
          ),
          JSON.stringify(s.baseImages),
          s.snapshotDiff ? JSON.stringify(s.snapshotDiff) : null,
          s.bytesUploaded,
          s.bytesDeduplicated,
          s.dockerfilePath,
          s.target,
          process.pid,
          hashArgs ? 1 : 0,
        );
      })();
      const id = Number(info.lastInsertRowid);
      return { id, summary: summaryOf(id) };
    },

    recordBuildFinish(f) {
      return finishTx(f);
    },

    previousBuild(project, platform, dockerfilePath, target) {
      const r = q.previous.get(project, platform, dockerfilePath, target) as PreviousRow | undefined;
      if (!r) return undefined;
      const steps = (q.stepsOf.all(r.id) as StepRow[]).map((s) => ({
        digest: s.digest,
        name: s.name,
        cached: s.cached === 1,
        durationMs: s.duration_ms,
      }));
      return {
        buildId: r.build_id,
        platform: r.platform,
        startedMs: r.started_ms,
        finishedMs: r.finished_ms,
        result: r.result as BuildOutcome,
        snapshotId: r.snapshot_id,
        buildArgs: JSON.parse(r.build_args) as Record<string, string>,
        buildArgsHashed: r.build_args_hashed === 1,
        dockerfileDigest: r.dockerfile_digest,
        dockerfile: r.dockerfile ?? undefined,
        baseImages: JSON.parse(r.base_images) as Record<string, string>,
        steps,
      };
    },

    hasStep(digest) {
      return q.hasStep.get(digest) !== undefined;
    },

    timeSaved,

    // Not async: a bad query throws at once; the answer comes once the busters are advised.
    stats(query) {
      const w = windowOf(query);
      return advised(assembleStats(w, rolledWindow(w, stmt)));
    },

    statsFromRaw(query) {
      const w = windowOf(query);
      return advised(assembleStats(w, rawWindow(db, w)));
    },

    stepCosts(query) {
      return readStepCosts(stmt, query);
    },

    rebuildRollups() {
      db.transaction(() => rollups.rebuild())();
    },

    prune(now) {
      return db.transaction(() => {
        const cutoff = now - maxAgeDays * 86_400_000;
        const keepFrom = db
          .prepare('SELECT id FROM builds ORDER BY id DESC LIMIT 1 OFFSET ?')
          .pluck()
          .get(Math.max(0, maxBuilds - 1)) as number | undefined;
        const doomed = `SELECT id FROM builds WHERE started_ms < ? OR id < ?`;
        const args = [cutoff, keepFrom ?? 0] as const;
        rollups.apply(doomed, args, -1);
        rollups.dropEmpty();
        db.prepare(`DELETE FROM steps WHERE build IN (${doomed})`).run(...args);
        const n = db.prepare(`DELETE FROM builds WHERE id IN (${doomed})`).run(...args).changes;
        if (n > 0)
          db.exec(
            'DELETE FROM dockerfiles WHERE digest NOT IN (SELECT DISTINCT dockerfile_digest FROM builds)',
          );
        return n;
      })();
    },

    failAbandoned(now) {
      let n = 0;
      db.transaction(() => {
        for (const pid of q.runningOwners.all() as Array<number | null>) {
          if (pid !== null && processAlive(pid)) continue;
          const ids = q.runningOf.all(pid, pid) as number[];
          n += q.failRunning.run(now, pid, pid).changes;
          for (const id of ids) rollups.apply('SELECT ?', [id], 1);
        }
      })();
      return n;
    },
    errorOf(buildId) {
      return (q.errorOf.get(buildId) as string | null | undefined) ?? undefined;
    },
    schemaVersion() {
      return currentVersion(db);
    },

    close() {
      if (db.open) db.close();
    },
  };
}

/** The columns of `builds` a BuildSummary is made of. */
type SummaryRow = Omit<BuildRow, 'id'>;

/** A `builds` row as the summary that Stats, WatchBuilds and the recorder hand out. */
function toSummary(r: SummaryRow): BuildSummary {
  return {
    buildId: r.build_id,
    project: r.project,
    user: r.user,
    platform: r.platform,
    startedMs: r.started_ms,
    finishedMs: r.finished_ms,
    result: r.result,
    steps: r.steps,
    cachedSteps: r.cached_steps,
    savedMs: r.saved_ms,
  };
}

interface BuildRow {
  id: number;
  build_id: string;
  project: string;
  user: string;
  platform: string;
  started_ms: number;
  finished_ms: number;
  result: string;
  steps: number;
  cached_steps: number;
  saved_ms: number;
}

interface PreviousRow {
  id: number;
  build_id: string;
  platform: string;
  started_ms: number;
  finished_ms: number;
  result: string;
  snapshot_id: string;
  build_args: string;
  build_args_hashed: number;
  dockerfile_digest: string;
  base_images: string;
  dockerfile: string | null;
}

interface StepRow {
  digest: string;
  name: string;
  cached: number;
  duration_ms: number;
}

function currentVersion(db: Db): number {
  return (db.prepare('SELECT max(version) FROM schema_version').pluck().get() as number | null) ?? 0;
}

function migrate(db: Db): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_ms INTEGER NOT NULL)',
  );
  const from = currentVersion(db);
  if (from > MIGRATIONS.length)
    throw new Error(
      `history database is at schema version ${from}, newer than this builder knows (${MIGRATIONS.length})`,
    );
  for (let v = from; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      MIGRATIONS[v]!(db);
      db.prepare('INSERT INTO schema_version (version, applied_ms) VALUES (?, ?)').run(v + 1, Date.now());
    })();
  }
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : Math.round((s[mid - 1]! + s[mid]!) / 2);
}

interface TotalsRow {
  key: string;
  builds: number;
  steps: number;
  cached_steps: number;
  saved_ms: number;
  build_ms: number;
  bytes_deduplicated: number;
  bytes_uploaded: number;
  failed_builds: number;
}

interface MissRow {
  project: string;
  instr: string;
  kind: string | null;
  n: number;
  cost: number;
}

/** What a window's answer is made of, however it was read. */
interface WindowData {
  groups: TotalsRow[];
  /** Steps and cached steps by series bucket; a bucket may appear more than once (summed). */
  series: { b: number; steps: number; cached: number }[];
  misses: MissRow[];
  recent: SummaryRow[];
}

/** A Stats query checked and turned into the window's bounds. */
interface Window {
  query: StatsQuery;
  span: number;
  bucket: number;
  /** Series buckets. */
  n: number;
  from: number;
  groupCol: 'project' | 'user' | 'platform';
}

const TOP_BUSTERS = 10;
/** Builds walked newest-finished first for `recent` before the window's own rows are read instead. */
const RECENT_WALK = 1000;

function windowOf(query: StatsQuery): Window {
  const span = WINDOW_MS[query.window];
  const bucket = BUCKET_MS[query.window];
  if (!span || !bucket) throw new Error(`unknown stats window ${JSON.stringify(query.window)}`);
  const groupCol = ({ project: 'project', user: 'user', platform: 'platform' } as const)[query.groupBy];
  if (!groupCol) throw new Error(`unknown stats grouping ${JSON.stringify(query.groupBy)}`);
  // Hours are cut on whole ms: a fractional or unsafe `now` would put edges between rows.
  if (!Number.isSafeInteger(query.now))
    throw new Error(`stats time ${query.now} is not a whole number of ms`);
  return { query, span, bucket, n: Math.ceil(span / bucket), from: query.now - span, groupCol };
}

/** The reference reading: every raw row of the window. */
function rawWindow(db: Db, w: Window): WindowData {
  const { query, from, bucket, n, groupCol } = w;
  const scope = query.project === undefined ? '' : 'AND project = ?';
  const params: (string | number)[] = [from, query.now];
  if (query.project !== undefined) params.push(query.project);
  // The window is [now - span, now]; builds still running count once they finish.
  const where = `started_ms >= ? AND started_ms <= ? ${scope}`;
  const groups = db
    .prepare(`
      SELECT ${groupCol} AS key, count(*) AS builds, sum(steps) AS steps, sum(cached_steps) AS cached_steps,
        sum(saved_ms) AS saved_ms, sum(finished_ms - started_ms) AS build_ms,
        sum(bytes_deduplicated) AS bytes_deduplicated, sum(bytes_uploaded) AS bytes_uploaded,
        sum(result = 'failed') AS failed_builds
      FROM builds WHERE ${where} AND result != 'running' GROUP BY key`)
    .all(...params) as TotalsRow[];
  const series = db
    .prepare(`
      SELECT min(CAST(? AS INTEGER), CAST((started_ms - ?) / ? AS INTEGER)) AS b, sum(steps) AS steps, sum(cached_steps) AS cached
      FROM builds WHERE ${where} AND result != 'running' GROUP BY b`)
    .all(n - 1, from, bucket, ...params) as WindowData['series'];
  const misses = db
    .prepare(`
      SELECT project, instr, cause_kind AS kind, count(*) AS n, sum(duration_ms) AS cost
      FROM steps WHERE cached = 0 AND cascade = 0 AND ${where} GROUP BY project, instr, cause_kind`)
    .all(...params) as MissRow[];
  const recent = db
    .prepare(`
      SELECT build_id, project, user, platform, started_ms, finished_ms, result, steps, cached_steps, saved_ms
      FROM builds WHERE ${where} AND result != 'running' ORDER BY finished_ms DESC, id DESC LIMIT ${RECENT_BUILDS}`)
    .all(...params) as SummaryRow[];
  return { groups, series, misses, recent };
}

/**
 * The same data as `rawWindow`, with whole hours (and, for misses, whole days) read from the
 * roll-ups and only the partial hours from the raw rows: the window's two edges and, for the
 * series, the hours a bucket boundary falls inside.
 */
function rolledWindow(w: Window, stmt: (sql: string) => Database.Statement): WindowData {
  const { query, from, bucket, n, groupCol } = w;
  const scoped = query.project !== undefined;
  const project = query.project ?? '';
  const scope = scoped ? 'AND project = ?' : '';
  const scopeArgs = scoped ? [project] : [];
  const rollScope = [w.groupCol, scoped ? 0 : 1, project] as const;
  // Raw rows are read as [lo, hi) on whole ms; the window itself is [from, now].
  const lo = from;
  const hi = query.now + 1;
  const edges = splitByHour(lo, hi);
  const [head, tail] = rawEdges(edges.raw, lo, hi);
  const hours = edges.hours[0] ?? [0, 0];

  const rawBuilds = `
    SELECT ${groupCol} AS key, 1 AS builds, steps, cached_steps, saved_ms, finished_ms - started_ms AS build_ms,
      bytes_deduplicated, bytes_uploaded, result = 'failed' AS failed_builds
    FROM builds WHERE started_ms >= ? AND started_ms < ? AND result != 'running' ${scope}`;
  const groups = stmt(`
    SELECT key, sum(builds) AS builds, sum(steps) AS steps, sum(cached_steps) AS cached_steps,
      sum(saved_ms) AS saved_ms, sum(build_ms) AS build_ms, sum(bytes_deduplicated) AS bytes_deduplicated,
      sum(bytes_uploaded) AS bytes_uploaded, sum(failed_builds) AS failed_builds
    FROM (
      ${rawBuilds}
      UNION ALL
      SELECT key, builds, steps, cached_steps, saved_ms, build_ms, bytes_deduplicated, bytes_uploaded, failed_builds
      FROM build_hours WHERE dim = ? AND all_projects = ? AND project = ? AND hour >= ? AND hour < ?
      UNION ALL
      ${rawBuilds}
    ) GROUP BY key`).all(...head, ...scopeArgs, ...rollScope, ...hours, ...tail, ...scopeArgs) as TotalsRow[];

  const cuts = Array.from({ length: n - 1 }, (_, i) => from + (i + 1) * bucket);
  const bySeries = splitByHour(lo, hi, cuts);
  const series: WindowData['series'] = [];
  const seriesRaw = stmt(`
    SELECT min(CAST(? AS INTEGER), CAST((started_ms - ?) / ? AS INTEGER)) AS b, sum(steps) AS steps,
      sum(cached_steps) AS cached
    FROM builds WHERE started_ms >= ? AND started_ms < ? AND result != 'running' ${scope} GROUP BY b`);
  for (const [a, b] of bySeries.raw)
    series.push(...(seriesRaw.all(n - 1, from, bucket, a, b, ...scopeArgs) as WindowData['series']));
  // The platform rows are the fewest that still count every build of the scope.
  const seriesRolled = stmt(`
    SELECT hour, sum(steps) AS steps, sum(cached_steps) AS cached FROM build_hours
    WHERE dim = 'platform' AND all_projects = ? AND project = ? AND hour >= ? AND hour < ? GROUP BY hour`);
  for (const [h0, h1] of bySeries.hours)
    for (const r of seriesRolled.all(scoped ? 0 : 1, project, h0, h1) as {
      hour: number;
      steps: number;
      cached: number;
    }[])
      series.push({
        b: Math.min(n - 1, Math.floor((r.hour * HOUR_MS - from) / bucket)),
        steps: r.steps,
        cached: r.cached,
      });

  const { days, before, after } = splitByDay(hours[0], hours[1]);
  const rawMisses = `
    SELECT project, instr, coalesce(cause_kind, 'unknown') AS kind, 1 AS n, duration_ms AS cost
    FROM steps WHERE cached = 0 AND cascade = 0 AND started_ms >= ? AND started_ms < ? ${scope}`;
  const rolledMisses = (table: string, col: string) => `
    SELECT project, instr, kind, misses AS n, cost_ms AS cost FROM ${table}
    WHERE ${col} >= ? AND ${col} < ? ${scope}`;
  const misses = stmt(`
    SELECT project, instr, kind, sum(n) AS n, sum(cost) AS cost FROM (
      ${rawMisses}
      UNION ALL ${rolledMisses('miss_hours', 'hour')}
      UNION ALL ${rolledMisses('miss_days', 'day')}
      UNION ALL ${rolledMisses('miss_hours', 'hour')}
      UNION ALL ${rawMisses}
    ) GROUP BY project, instr, kind`).all(
    ...head,
    ...scopeArgs,
    ...before,
    ...scopeArgs,
    ...days,
    ...scopeArgs,
    ...after,
    ...scopeArgs,
    ...tail,
    ...scopeArgs,
  ) as MissRow[];

  return { groups, series, misses, recent: recentOf(w, stmt) };
}

/** The raw spans before and after the whole hours of a window (empty spans where there are none). */
function rawEdges(raw: Span[], lo: number, hi: number): [Span, Span] {
  const head = raw.find((s) => s[0] === lo);
  const tail = raw.find((s) => s[1] === hi && s !== head);
  return [head ?? [0, 0], tail ?? [0, 0]];
}

/**
 * The window's last finished builds: walks builds newest-finished first, which for a window ending
 * now stops after about as many rows as it lists; a window far in the past, or a scope with few
 * builds, reads its own rows instead.
 */
function recentOf(w: Window, stmt: (sql: string) => Database.Statement): SummaryRow[] {
  const { query, from } = w;
  const walk = stmt(`
    SELECT id, build_id, project, user, platform, started_ms, finished_ms, result, steps, cached_steps, saved_ms
    FROM builds INDEXED BY builds_finished WHERE result != 'running' ORDER BY finished_ms DESC, id DESC`);
  const out: SummaryRow[] = [];
  let seen = 0;
  for (const r of walk.iterate() as IterableIterator<BuildRow>) {
    if (++seen > RECENT_WALK) break;
    if (r.started_ms < from || r.started_ms > query.now) continue;
    if (query.project !== undefined && r.project !== query.project) continue;
    const { id: _, ...row } = r;
    out.push(row);
    if (out.length === RECENT_BUILDS) return out;
  }
  if (seen <= RECENT_WALK) return out; // every finished build was seen
  const scope = query.project === undefined ? '' : 'AND project = ?';
  return stmt(`
    SELECT build_id, project, user, platform, started_ms, finished_ms, result, steps, cached_steps, saved_ms
    FROM builds WHERE started_ms >= ? AND started_ms <= ? ${scope} AND result != 'running'
    ORDER BY finished_ms DESC, id DESC LIMIT ${RECENT_BUILDS}`).all(
    from,
    query.now,
    ...(query.project === undefined ? [] : [query.project]),
  ) as SummaryRow[];
}

/** The answer of a window; the busters' suggestions are left to `advised`. */
function assembleStats(w: Window, data: WindowData): StatsResult {
  const { query, from, bucket, n } = w;
  const zero: Omit<TotalsRow, 'key'> = {
    builds: 0,
    steps: 0,
    cached_steps: 0,
    saved_ms: 0,
    build_ms: 0,
    bytes_deduplicated: 0,
    bytes_uploaded: 0,
    failed_builds: 0,
  };
  const add = <T extends Omit<TotalsRow, 'key'>>(t: T, g: Omit<TotalsRow, 'key'>): T => ({
    ...t,
    builds: t.builds + g.builds,
    steps: t.steps + g.steps,
    cached_steps: t.cached_steps + g.cached_steps,
    saved_ms: t.saved_ms + g.saved_ms,
    build_ms: t.build_ms + g.build_ms,
    bytes_deduplicated: t.bytes_deduplicated + g.bytes_deduplicated,
    bytes_uploaded: t.bytes_uploaded + g.bytes_uploaded,
    failed_builds: t.failed_builds + g.failed_builds,
  });
  const groups = data.groups;
  const totals = groups.reduce<Omit<TotalsRow, 'key'>>((t, g) => add(t, g), { ...zero });

  const series = Array.from({ length: n }, (_, i) => ({
    startMs: from + i * bucket,
    steps: 0,
    cachedSteps: 0,
  }));
  for (const r of data.series) {
    const s = series[r.b];
    if (s) {
      s.steps += r.steps;
      s.cachedSteps += r.cached;
    }
  }

  const byStep = new Map<
    string,
    { project: string; step: string; misses: number; costMs: number; causes: Map<string, number> }
  >();
  for (const m of data.misses) {
    const k = `${m.project}\0${m.instr}`;
    let b = byStep.get(k);
    if (!b) {
      b = { project: m.project, step: m.instr, misses: 0, costMs: 0, causes: new Map() };
      byStep.set(k, b);
    }
    b.misses += m.n;
    b.costMs += m.cost;
    const kind = m.kind ?? 'unknown';
    b.causes.set(kind, (b.causes.get(kind) ?? 0) + m.n);
  }
  const busters = [...byStep.values()]
    .sort(
      (a, b) =>
        b.costMs - a.costMs ||
        b.misses - a.misses ||
        a.project.localeCompare(b.project) ||
        a.step.localeCompare(b.step),
    )
    .slice(0, TOP_BUSTERS)
    .map((b) => {
      const causes = [...b.causes]
        .map(([kind, count]) => ({ kind, count }))
        .sort((x, y) => y.count - x.count || x.kind.localeCompare(y.kind));
      return { project: b.project, step: b.step, misses: b.misses, costMs: b.costMs, causes, ...NO_ADVICE };
    });

  const toTotals = (t: Omit<TotalsRow, 'key'>) => ({
    builds: t.builds,
    steps: t.steps,
    cachedSteps: t.cached_steps,
    hitRatio: t.steps ? t.cached_steps / t.steps : 0,
    savedMs: t.saved_ms,
    buildMs: t.build_ms,
    bytesDeduplicated: t.bytes_deduplicated,
    bytesUploaded: t.bytes_uploaded,
    failedBuilds: t.failed_builds,
  });
  return {
    window: query.window,
    totals: toTotals(totals),
    groups: groups
      .map((g) => ({ key: g.key, totals: toTotals(g) }))
      .sort((a, b) => b.totals.builds - a.totals.builds || a.key.localeCompare(b.key)),
    series,
    busters,
    running: [],
    // The dashboard lists these under the running builds: a window with builds is never "none".
    recent: data.recent.map(toSummary),
  };
}

/** Finished builds a Stats answer lists (`recent`). */
const RECENT_BUILDS = 20;
