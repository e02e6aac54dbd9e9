import Database from 'better-sqlite3';
import { processAlive } from '../../../src/durable-file/index.js';
import { adviceFor, createDockerfileAdvisor } from './advice.js';
import { buildArgFingerprint } from './explain.js';
import {
  applyRollups,
  dropEmptyRollups,
  ONE_BUILD,
  ROLLUP_SCHEMA,
  rebuildRollups,
  rollupsAgree,
} from './rollups.js';
import { backfillRoots, chargedTo } from './roots.js';
import { type Sql, type SqlDb, type SqlParam, sqliteDb, sqliteStatements } from './sql.js';
import {
  assembleStats,
  rawWindow,
  rolledWindow,
  SUMMARY_COLUMNS,
  type SummaryRow,
  toSummary,
  type Window,
  type WindowData,
  windowOf,
} from './stats-window.js';
import { readStepCosts, type StepCostsQuery, type StepCostsResult } from './step-costs.js';
import { instructionOf } from './suggest.js';
import { DEFAULT_TRACE_MAX_BYTES } from './trace.js';
import type {
  BuildFinish,
  BuildOutcome,
  BuildRecord,
  BuildStart,
  BuildSummary,
  FoundBuild,
  ListBuildsQuery,
  PreviousBuild,
  RetentionOptions,
  StatsQuery,
  StatsResult,
  StepCause,
} from './types.js';

/**
 * The recorded builds: one builder's, in SQLite (the default), or a fleet's, in PostgreSQL
 * (postgres.ts). Both backends give the same answers to the same builds.
 */
export interface History {
  /** Where the builds are kept. */
  readonly backend: 'sqlite' | 'postgres';
  /**
   * The shared history's name, the same on every builder recording into it (Hello announces it);
   * '' for a builder's own.
   */
  readonly id: string;
  /** The largest event trace kept per build, compressed (0: none are kept). */
  readonly traceMaxBytes: number;
  /** Records a build as 'running'; returns the handle `recordBuildFinish` takes and its summary. */
  recordBuildStart(start: BuildStart): Promise<{ id: number; summary: BuildSummary }>;
  /** Records the end of a build and its steps (time saved computed here), in one transaction. */
  recordBuildFinish(finish: BuildFinish): Promise<BuildSummary>;
  /**
   * The last finished build of this project and platform from the same Dockerfile path and
   * target on this builder (whose cache the new build meets), or undefined for the first (builds
   * recorded before paths were kept match none).
   */
  previousBuild(
    project: string,
    platform: string,
    dockerfilePath: string,
    target: string,
  ): Promise<PreviousBuild | undefined>;
  /** True when an earlier recorded build ran a step with this digest. */
  hasStep(digest: string): Promise<boolean>;
  /** What a cached step saved: its last uncached run by digest, else the median for the instruction, else 0. */
  timeSaved(step: { project: string; digest: string; name: string }): Promise<number>;
  /**
   * Totals, groups, series and cache busters over a window (whole hours from the roll-ups). A buster
   * is a root cause, ranked by the rebuild time of its misses and of the steps they invalidated
   * (roots.ts); its suggestion is the Dockerfile advisor's fix for its step (advice.ts).
   */
  stats(query: StatsQuery): Promise<StatsResult>;
  /** The same answer as `stats`, read from every raw row of the window: the roll-ups' reference. */
  statsFromRaw(query: StatsQuery): Promise<StatsResult>;
  /**
   * What each instruction of one project's line of builds (Dockerfile path, target, and platform
   * when given) cost over its latest finished builds (see step-costs.ts; bounded there).
   */
  stepCosts(query: StepCostsQuery): Promise<StepCostsResult>;
  /** Makes the roll-up tables again from the raw rows (they are derived data). */
  rebuildRollups(): Promise<void>;
  /** Deletes builds older than the age limit and beyond the count limit; returns how many went. */
  prune(now: number): Promise<number>;
  /**
   * Marks builds this builder left 'running' in a process that is gone (killed, crashed) as failed
   * with error 'builder stopped'; returns how many. Builds of live processes, and of other
   * builders of a shared history, stay as they are.
   */
  failAbandoned(now: number): Promise<number>;
  /** The error recorded with a build (one that failed, or did not finish itself), or undefined. */
  errorOf(buildId: string): Promise<string | undefined>;
  /** One project's latest builds, newest first, and whether more match (see ListBuildsQuery). */
  listBuilds(query: ListBuildsQuery): Promise<{ builds: BuildRecord[]; more: boolean }>;
  /**
   * The project's build with this id (the newest, should a client have used an id twice), else
   * (with `prefix`) the one build id of the project that starts with it; with its Dockerfile and
   * trace. Builds of other projects are never looked at.
   */
  findBuild(project: string, idOrPrefix: string, prefix?: boolean): Promise<FoundBuild>;
  /** The schema version the database is at. */
  schemaVersion(): Promise<number>;
  /**
   * Calls `listener` with every start and end of a build that another builder records into the
   * same history, until the returned function is called. A history of one builder never calls it.
   */
  follow(listener: (summary: BuildSummary) => void): () => void;
  close(): Promise<void>;
}

/** How a history is kept, and by whom. */
export interface HistoryOptions extends RetentionOptions {
  /** The recording builder's id: every build names it, and a shared history tells builders apart by it. */
  builder?: string;
}

/** What a backend brings to the history besides its SQL. */
export interface HistoryBackend {
  name: History['backend'];
  /** See History.id. */
  id: string;
  db: SqlDb;
  /** Several builders record here: a builder's own builds are those with its id. */
  shared: boolean;
  schemaVersion(): Promise<number>;
  /** Tells the other builders that a build started or ended (inside the transaction that records it). */
  announce?(sql: Sql, summary: BuildSummary): Promise<void>;
  /** Makes `sql`'s transaction the only one writing builds until it ends (prune, roll-up rebuilds). */
  lockWriters?(sql: Sql): Promise<void>;
  follow?(listener: (summary: BuildSummary) => void): () => void;
}

type Db = Database.Database;

/**
 * Ordered SQLite schema migrations; index i brings the schema to version i + 1. Never edit a shipped
 * one. (PostgreSQL's are in postgres.ts.)
 */
export const MIGRATIONS: ((db: Db) => void | Promise<void>)[] = [
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
    // (The back-fill is the open's: roll-ups that count fewer builds than the raw rows are rebuilt.)
    db.exec(ROLLUP_SCHEMA);
    db.exec(`
      CREATE INDEX builds_finished ON builds(finished_ms);
      CREATE INDEX steps_arg_causes ON steps(project, instr)
        WHERE cached = 0 AND cascade = 0 AND cause_kind = 'build_arg';
    `);
  },
  (db) => {
    // The builder that ran each build (NULL: recorded before it was kept, by this file's builder).
    db.exec('ALTER TABLE builds ADD COLUMN builder TEXT');
  },
  async (db) => {
    // Each missed step names the step of its build it is charged to (roots.ts): itself for a root
    // cause, its root for a cascade (NULL: cached, or a cascade whose root is unknown), back-filled
    // from the stored causes. The misses' roll-ups also sum the cascades by their root: they are
    // emptied here and made again at open, where their count of builds disagrees with the raw rows.
    db.exec(`
      ALTER TABLE steps ADD COLUMN root_idx INTEGER;
      ALTER TABLE miss_hours ADD COLUMN cascaded INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE miss_hours ADD COLUMN cascade_cost_ms INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE miss_days ADD COLUMN cascaded INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE miss_days ADD COLUMN cascade_cost_ms INTEGER NOT NULL DEFAULT 0;
      DROP INDEX steps_missed_window;
      CREATE INDEX steps_charged_window ON steps(started_ms, project, root_idx, cascade, duration_ms)
        WHERE cached = 0 AND root_idx IS NOT NULL;
    `);
    await backfillRoots(sqliteStatements(db));
    db.exec('DELETE FROM build_hours; DELETE FROM miss_hours; DELETE FROM miss_days;');
  },
  (db) => db.exec(TRACE_SCHEMA_SQLITE),
];

/** Most instructions a cache buster lists as invalidated by its latest miss. */
const MAX_INVALIDATED = 10;

/**
 * Each build's event trace (trace.ts), apart from the builds so that window scans never read it,
 * deleted with its build; and builds found by project and id (`depot history show ID`).
 */
const TRACE_SCHEMA_SQLITE = `
  CREATE TABLE build_traces (
    build INTEGER PRIMARY KEY,
    codec TEXT NOT NULL,
    data BLOB NOT NULL,
    raw_bytes INTEGER NOT NULL,
    events INTEGER NOT NULL,
    cut_log_bytes INTEGER NOT NULL DEFAULT 0,
    cut_statuses INTEGER NOT NULL DEFAULT 0,
    cut_events INTEGER NOT NULL DEFAULT 0,
    max_bytes INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX builds_project_build_id ON builds(project, build_id);
`;

/** The same for PostgreSQL (postgres.ts' PG_MIGRATIONS). */
export const TRACE_SCHEMA_POSTGRES = `
  CREATE TABLE build_traces (
    build BIGINT PRIMARY KEY,
    codec TEXT NOT NULL,
    data BYTEA NOT NULL,
    raw_bytes BIGINT NOT NULL,
    events INTEGER NOT NULL,
    cut_log_bytes BIGINT NOT NULL DEFAULT 0,
    cut_statuses INTEGER NOT NULL DEFAULT 0,
    cut_events INTEGER NOT NULL DEFAULT 0,
    max_bytes BIGINT NOT NULL DEFAULT 0
  );
  CREATE INDEX builds_project_build_id ON builds(project, build_id);
`;

/** The longest error text kept with a build. */
export const MAX_ERROR_CHARS = 1024;
/** Build ids a prefix that names several of them lists. */
const AMBIGUOUS_IDS = 5;

/** Longest list of paths kept per kind in a snapshot diff. */
export const SNAPSHOT_DIFF_CAP = 200;

/** Opens (creating and migrating) this builder's history database at `file`; ':memory:' for tests. */
export async function openHistory(file: string, opts: HistoryOptions = {}): Promise<History> {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  try {
    await migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  const sql = sqliteDb(db);
  return historyOn(
    {
      name: 'sqlite',
      id: '',
      db: sql,
      shared: false,
      async schemaVersion() {
        return (await sql.get<{ v: number | null }>('SELECT max(version) AS v FROM schema_version'))?.v ?? 0;
      },
    },
    opts,
  );
}

/** The history over a backend whose schema is current. */
export async function historyOn(backend: HistoryBackend, opts: HistoryOptions = {}): Promise<History> {
  const maxAgeDays = opts.maxAgeDays ?? 30;
  const maxBuilds = opts.maxBuilds ?? 200_000;
  const hashArgs = (opts.buildArgs ?? 'hashed') === 'hashed';
  const traceMaxBytes = opts.traceMaxBytes ?? DEFAULT_TRACE_MAX_BYTES;
  const builder = opts.builder ?? '';
  const { db } = backend;
  // A shared history keeps every builder's builds: "this builder's" is a filter there.
  const own = backend.shared ? 'AND builder = ?' : '';
  const ownArgs = backend.shared ? [builder] : [];
  // Derived data that disagrees with the raw rows (written by hand, by a bug, or by a schema
  // before the roll-ups) is made again.
  if (!(await rollupsAgree(db)))
    await db.tx(async (sql) => {
      await backend.lockWriters?.(sql);
      if (!(await rollupsAgree(sql))) await rebuildRollups(sql);
    });

  async function summaryOf(sql: Sql, id: number): Promise<BuildSummary> {
    const r = await sql.get<SummaryRow>(`SELECT ${SUMMARY_COLUMNS} FROM builds WHERE id = ?`, [id]);
    if (!r) throw new Error(`history: no build with row id ${id}`);
    return toSummary(r, builder);
  }

  async function timeSaved(sql: Sql, step: { project: string; digest: string; name: string }) {
    const last = await sql.get<{ ms: number }>(
      'SELECT duration_ms AS ms FROM steps WHERE digest = ? AND project = ? AND cached = 0 ORDER BY build DESC LIMIT 1',
      [step.digest, step.project],
    );
    if (last !== undefined) return last.ms;
    const runs = await sql.all<{ ms: number }>(
      'SELECT duration_ms AS ms FROM steps WHERE project = ? AND instr = ? AND cached = 0 ORDER BY build DESC LIMIT 51',
      [step.project, instructionOf(step.name)],
    );
    return median(runs.map((r) => r.ms));
  }

  /**
   * The instructions invalidated by the latest of a buster's misses that invalidated any, in build
   * order (asked only for a buster with cascades, so such a miss exists).
   */
  async function invalidatedBy(sql: Sql, project: string, instr: string): Promise<string[]> {
    const invalidates =
      'EXISTS (SELECT 1 FROM steps c WHERE c.build = r.build AND c.root_idx = r.idx AND c.cascade = 1)';
    // The build first, newest first along the (project, instr, build) index; then, should the
    // instruction be a root twice in it, its last such step.
    const latest = await sql.get<{ build: number }>(
      `
      SELECT r.build FROM steps r
      WHERE r.project = ? AND r.instr = ? AND r.cached = 0 AND r.cascade = 0 AND ${invalidates}
      ORDER BY r.build DESC LIMIT 1`,
      [project, instr],
    );
    if (!latest) return [];
    const rows = await sql.all<{ instr: string }>(
      `
      SELECT instr FROM steps WHERE build = ? AND cascade = 1 AND root_idx = (
        SELECT max(r.idx) FROM steps r
        WHERE r.build = ? AND r.instr = ? AND r.cached = 0 AND r.cascade = 0 AND ${invalidates})
      ORDER BY idx LIMIT ${MAX_INVALIDATED}`,
      [latest.build, latest.build, instr],
    );
    return rows.map((r) => r.instr);
  }

  /** What a cache buster's suggestion looks at: the Dockerfile and target of its latest miss, its build args. */
  async function busterFacts(sql: Sql, project: string, instr: string) {
    const latest = await sql.get<{ build: number }>(
      'SELECT build FROM steps WHERE project = ? AND instr = ? AND cached = 0 AND cascade = 0 ORDER BY build DESC LIMIT 1',
      [project, instr],
    );
    const causes = await sql.all<{ cause: string }>(
      `
      SELECT cause FROM steps WHERE project = ? AND instr = ? AND cached = 0 AND cascade = 0
        AND cause_kind = 'build_arg'
      ORDER BY build DESC LIMIT 50`,
      [project, instr],
    );
    const args = new Map<string, number>();
    for (const c of causes) {
      const name = (JSON.parse(c.cause) as Partial<StepCause>).name;
      if (name) args.set(name, (args.get(name) ?? 0) + 1);
    }
    const buildArg = [...args].sort((a, b) => b[1] - a[1])[0]?.[0];
    const kept =
      latest === undefined
        ? undefined
        : await sql.get<{ text: string; target: string | null }>(
            'SELECT d.text, b.target FROM builds b JOIN dockerfiles d ON d.digest = b.dockerfile_digest WHERE b.id = ?',
            [latest.build],
          );
    return { buildArg, dockerfile: kept?.text, target: kept?.target ?? '' };
  }

  const advisor = createDockerfileAdvisor();

  /**
   * A window's answer, read on one view of the database, each buster with the advisor's finding
   * about its step when the Dockerfile of its latest miss has one.
   */
  async function answer(query: StatsQuery, read: (sql: Sql, w: Window) => Promise<WindowData>) {
    const w = windowOf(query);
    const { result, facts } = await db.read(async (sql) => {
      const result = assembleStats(w, await read(sql, w), builder);
      const facts = [];
      for (const b of result.busters) {
        facts.push(await busterFacts(sql, b.project, b.step));
        if (b.cascadedMisses > 0) b.invalidated = await invalidatedBy(sql, b.project, b.step);
      }
      return { result, facts };
    });
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
    backend: backend.name,
    id: backend.id,
    traceMaxBytes,

    async recordBuildStart(s) {
      if (!Number.isSafeInteger(s.startedMs))
        throw new Error(`history: start time ${s.startedMs} is not a whole number of ms`);
      return db.tx(async (sql) => {
        const row = await sql.get<{ id: number }>(
          `
          INSERT INTO builds (started_ms, project, "user", platform, result, no_cache, build_id, snapshot_id,
            prev_snapshot_id, dockerfile_digest, build_args, base_images, snapshot_diff, bytes_uploaded,
            bytes_deduplicated, dockerfile_path, target, owner_pid, build_args_hashed, builder)
          VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
          [
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
            builder,
          ],
        );
        // After the build's row: a prune running now (it holds the writers' lock) cannot drop the
        // text between the two.
        await sql.run(
          'INSERT INTO dockerfiles (digest, text) VALUES (?, ?) ON CONFLICT (digest) DO NOTHING',
          [s.dockerfileDigest, s.dockerfile],
        );
        const summary = await summaryOf(sql, row!.id);
        await backend.announce?.(sql, summary);
        return { id: row!.id, summary };
      });
    },

    async recordBuildFinish(f) {
      if (!Number.isSafeInteger(f.finishedMs))
        throw new Error(`history: finish time ${f.finishedMs} is not a whole number of ms`);
      return db.tx(async (sql) => {
        const row = await sql.get<{ project: string; result: string; started_ms: number }>(
          'SELECT project, result, started_ms FROM builds WHERE id = ?',
          [f.id],
        );
        if (!row) throw new Error(`history: no build with row id ${f.id}`);
        // A build finished twice (e.g. failed as abandoned, then finished) counts once, as it ends.
        const again = row.result !== 'running';
        if (again) await applyRollups(sql, ONE_BUILD, [f.id], -1);
        let cached = 0;
        let saved = 0;
        // Savings are looked up before this build's own steps are inserted: a step never saves its own run.
        const savedBy: number[] = [];
        for (const s of f.steps)
          savedBy.push(
            s.cached ? await timeSaved(sql, { project: row.project, digest: s.digest, name: s.name }) : 0,
          );
        const charged = chargedTo(
          f.steps.map((s, idx) => ({
            idx,
            digest: s.digest,
            name: s.name,
            cached: s.cached,
            cascade: !s.cached && s.cascade === true,
            text: s.cause?.text ?? '',
            rootVertex: s.cause?.rootVertex ?? '',
          })),
        );
        for (const [i, s] of f.steps.entries()) {
          if (s.cached) cached++;
          saved += savedBy[i]!;
          await sql.run(
            `
            INSERT INTO steps (build, idx, started_ms, project, digest, name, instr, cached, duration_ms, bytes,
              saved_ms, cause_kind, cause, cascade, root_idx)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            [
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
              charged.get(i) ?? null,
            ],
          );
        }
        await sql.run(
          'UPDATE builds SET finished_ms = ?, result = ?, steps = ?, cached_steps = ?, saved_ms = ?, error = ? WHERE id = ?',
          [
            f.finishedMs,
            f.result,
            f.steps.length,
            cached,
            saved,
            f.error ? f.error.slice(0, MAX_ERROR_CHARS) : null,
            f.id,
          ],
        );
        if (f.trace) {
          const t = f.trace;
          await sql.run(
            `
            INSERT INTO build_traces (build, codec, data, raw_bytes, events, cut_log_bytes, cut_statuses,
              cut_events, max_bytes)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (build) DO UPDATE SET codec = excluded.codec, data = excluded.data,
              raw_bytes = excluded.raw_bytes, events = excluded.events, cut_log_bytes = excluded.cut_log_bytes,
              cut_statuses = excluded.cut_statuses, cut_events = excluded.cut_events, max_bytes = excluded.max_bytes`,
            [
              f.id,
              t.codec,
              t.data,
              t.rawBytes,
              t.events,
              t.cut.logBytes,
              t.cut.statuses,
              t.cut.events,
              traceMaxBytes,
            ],
          );
        }
        await applyRollups(sql, ONE_BUILD, [f.id], 1);
        if (again) await dropEmptyRollups(sql);
        const summary = await summaryOf(sql, f.id);
        await backend.announce?.(sql, summary);
        return summary;
      });
    },

    previousBuild(project, platform, dockerfilePath, target) {
      return db.read(async (sql) => {
        const r = await sql.get<PreviousRow>(
          `
          SELECT b.id, b.build_id, b.platform, b.started_ms, b.finished_ms, b.result, b.snapshot_id, b.build_args,
            b.build_args_hashed, b.dockerfile_digest, b.base_images, d.text AS dockerfile
          FROM builds b LEFT JOIN dockerfiles d ON d.digest = b.dockerfile_digest
          WHERE b.project = ? AND b.platform = ? AND b.dockerfile_path = ? AND b.target = ?
            AND b.result != 'running' ${own && 'AND b.builder = ?'}
          ORDER BY b.started_ms DESC, b.id DESC LIMIT 1`,
          [project, platform, dockerfilePath, target, ...ownArgs],
        );
        if (!r) return undefined;
        const steps = await sql.all<StepRow>(
          'SELECT digest, name, cached, duration_ms FROM steps WHERE build = ? ORDER BY idx',
          [r.id],
        );
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
          steps: steps.map((s) => ({
            digest: s.digest,
            name: s.name,
            cached: s.cached === 1,
            durationMs: s.duration_ms,
          })),
        };
      });
    },

    async hasStep(digest) {
      return (await db.get('SELECT 1 AS one FROM steps WHERE digest = ? LIMIT 1', [digest])) !== undefined;
    },

    timeSaved: (step) => db.read((sql) => timeSaved(sql, step)),

    stats: (query) => answer(query, rolledWindow),

    statsFromRaw: (query) => answer(query, rawWindow),

    stepCosts: (query) => db.read((sql) => readStepCosts(sql, query)),

    rebuildRollups: () =>
      db.tx(async (sql) => {
        await backend.lockWriters?.(sql);
        await rebuildRollups(sql);
      }),

    prune(now) {
      return db.tx(async (sql) => {
        await backend.lockWriters?.(sql);
        const cutoff = now - maxAgeDays * 86_400_000;
        const keepFrom = await sql.get<{ id: number }>(
          'SELECT id FROM builds ORDER BY id DESC LIMIT 1 OFFSET ?',
          [Math.max(0, maxBuilds - 1)],
        );
        const doomed = 'SELECT id FROM builds WHERE started_ms < ? OR id < ?';
        const args = [cutoff, keepFrom?.id ?? 0];
        await applyRollups(sql, doomed, args, -1);
        await dropEmptyRollups(sql);
        await sql.run(`DELETE FROM steps WHERE build IN (${doomed})`, args);
        await sql.run(`DELETE FROM build_traces WHERE build IN (${doomed})`, args);
        const n = await sql.run(`DELETE FROM builds WHERE id IN (${doomed})`, args);
        if (n > 0)
          await sql.run(
            'DELETE FROM dockerfiles WHERE digest NOT IN (SELECT DISTINCT dockerfile_digest FROM builds)',
          );
        return n;
      });
    },

    failAbandoned(now) {
      return db.tx(async (sql) => {
        let n = 0;
        const owners = await sql.all<{ pid: number | null }>(
          `SELECT DISTINCT owner_pid AS pid FROM builds WHERE result = 'running' ${own}`,
          ownArgs,
        );
        for (const { pid } of owners) {
          if (pid !== null && processAlive(pid)) continue;
          const failed = await sql.all<{ id: number }>(
            `
            UPDATE builds SET result = 'failed', finished_ms = ?, error = 'builder stopped'
            WHERE result = 'running' ${own} AND owner_pid IS NOT DISTINCT FROM ? RETURNING id`,
            [now, ...ownArgs, pid],
          );
          n += failed.length;
          for (const { id } of failed) {
            await applyRollups(sql, ONE_BUILD, [id], 1);
            // Watchers of the other builders drop it from their running builds.
            await backend.announce?.(sql, await summaryOf(sql, id));
          }
        }
        return n;
      });
    },

    async errorOf(buildId) {
      const r = await db.get<{ error: string | null }>(
        'SELECT error FROM builds WHERE build_id = ? ORDER BY id DESC LIMIT 1',
        [buildId],
      );
      return r?.error ?? undefined;
    },

    listBuilds(q) {
      return db.read(async (sql) => {
        const where = ['b.project = ?'];
        const args: SqlParam[] = [q.project];
        if (q.result) {
          where.push('b.result = ?');
          args.push(q.result);
        }
        if (q.platform) {
          where.push('b.platform = ?');
          args.push(q.platform);
        }
        if (q.missedStep) {
          // A root miss: its own root (a cascaded miss points at the step it followed).
          where.push(
            'EXISTS (SELECT 1 FROM steps s WHERE s.build = b.id AND s.project = b.project AND s.instr = ? AND s.cached = 0 AND s.root_idx = s.idx)',
          );
          args.push(q.missedStep);
        }
        const rows = await sql.all<RecordRow>(
          `
          SELECT ${RECORD_COLUMNS}
          FROM builds b LEFT JOIN build_traces t ON t.build = b.id
          WHERE ${where.join(' AND ')}
          ORDER BY b.started_ms DESC, b.id DESC LIMIT ?`,
          [...args, q.limit + 1],
        );
        return {
          builds: rows.slice(0, q.limit).map((r) => toRecord(r, builder)),
          more: rows.length > q.limit,
        };
      });
    },

    findBuild(project, idOrPrefix, prefix = true) {
      return db.read(async (sql): Promise<FoundBuild> => {
        let row = await sql.get<{ id: number }>(
          'SELECT id FROM builds WHERE project = ? AND build_id = ? ORDER BY id DESC LIMIT 1',
          [project, idOrPrefix],
        );
        if (!row && !prefix) return { kind: 'none' };
        if (!row) {
          // substr, not LIKE: exact bytes (SQLite's LIKE ignores case), and no wildcard to escape.
          const ids = await sql.all<{ build_id: string; id: number }>(
            `
            SELECT build_id, max(id) AS id FROM builds
            WHERE project = ? AND substr(build_id, 1, ?) = ?
            GROUP BY build_id ORDER BY max(id) DESC LIMIT ?`,
            [project, idOrPrefix.length, idOrPrefix, AMBIGUOUS_IDS],
          );
          if (ids.length === 0) return { kind: 'none' };
          if (ids.length > 1) return { kind: 'ambiguous', ids: ids.map((r) => r.build_id) };
          row = ids[0];
        }
        const r = await sql.get<RecordRow & { dockerfile: string | null }>(
          `
          SELECT ${RECORD_COLUMNS}, d.text AS dockerfile
          FROM builds b LEFT JOIN build_traces t ON t.build = b.id
            LEFT JOIN dockerfiles d ON d.digest = b.dockerfile_digest
          WHERE b.id = ?`,
          [row!.id],
        );
        if (!r) return { kind: 'none' };
        const trace = await sql.get<{ codec: string; data: Buffer; events: number }>(
          'SELECT codec, data, events FROM build_traces WHERE build = ?',
          [row!.id],
        );
        return {
          kind: 'found',
          record: toRecord(r, builder),
          dockerfile: r.dockerfile ?? '',
          trace: trace
            ? {
                codec: trace.codec,
                data: Buffer.from(trace.data),
                events: trace.events,
                cut: {
                  logBytes: r.cut_log_bytes ?? 0,
                  statuses: r.cut_statuses ?? 0,
                  events: r.cut_events ?? 0,
                },
                maxBytes: r.max_bytes ?? 0,
              }
            : undefined,
        };
      });
    },

    schemaVersion: () => backend.schemaVersion(),

    follow: (listener) => backend.follow?.(listener) ?? (() => {}),

    close: () => db.close(),
  };
}

/** A build row and its trace's facts (no trace bytes), as ListBuilds and BuildTrace answer them. */
const RECORD_COLUMNS = `b.build_id, b.project, b."user", b.platform, b.builder, b.started_ms, b.finished_ms,
  b.result, b.steps, b.cached_steps, b.saved_ms, b.dockerfile_path, b.target, b.error,
  length(t.data) AS trace_bytes, t.cut_log_bytes, t.cut_statuses, t.cut_events, t.max_bytes`;

interface RecordRow extends SummaryRow {
  dockerfile_path: string | null;
  target: string | null;
  error: string | null;
  trace_bytes: number | null;
  cut_log_bytes: number | null;
  cut_statuses: number | null;
  cut_events: number | null;
  max_bytes: number | null;
}

function toRecord(r: RecordRow, builder: string): BuildRecord {
  return {
    summary: toSummary(r, builder),
    dockerfilePath: r.dockerfile_path ?? '',
    target: r.target ?? '',
    error: r.error ?? '',
    hasTrace: r.trace_bytes !== null,
    traceBytes: r.trace_bytes ?? 0,
    traceCut: (r.cut_log_bytes ?? 0) + (r.cut_statuses ?? 0) + (r.cut_events ?? 0) > 0,
  };
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

async function migrate(db: Db): Promise<void> {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_ms INTEGER NOT NULL)',
  );
  const from = currentVersion(db);
  if (from > MIGRATIONS.length)
    throw new Error(
      `history database is at schema version ${from}, newer than this builder knows (${MIGRATIONS.length})`,
    );
  for (let v = from; v < MIGRATIONS.length; v++) {
    // One transaction per version; a migration may await its statements (the connection is still
    // this function's alone: the history is not handed out before it returns).
    db.exec('BEGIN IMMEDIATE');
    try {
      await MIGRATIONS[v]!(db);
      db.prepare('INSERT INTO schema_version (version, applied_ms) VALUES (?, ?)').run(v + 1, Date.now());
      db.exec('COMMIT');
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : Math.round((s[mid - 1]! + s[mid]!) / 2);
}
