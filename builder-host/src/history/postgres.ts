/**
 * The build history of a fleet in PostgreSQL: every builder records into one database, so any
 * builder answers Stats and WatchBuilds for the team. Same tables and queries as SQLite
 * (history.ts); what only a shared database needs lives here: versioned migrations under an
 * advisory lock (builders may start at once), a lock for prunes and roll-up rebuilds, and
 * LISTEN/NOTIFY so each builder's watchers see the builds the others record.
 */
import pg from 'pg';
import {
  type History,
  type HistoryBackend,
  type HistoryOptions,
  historyOn,
  TRACE_SCHEMA_POSTGRES,
} from './history.js';
import { backfillRoots } from './roots.js';
import { numberedParams, type Sql, type SqlDb, type SqlParam } from './sql.js';
import { SUMMARY_COLUMNS, type SummaryRow, toSummary } from './stats-window.js';
import type { BuildSummary } from './types.js';

/** A schema migration: statements, or a function that runs its own (inside the migration's transaction). */
export type PgMigration = string | ((sql: Sql) => Promise<void>);

/**
 * Ordered schema migrations; index i brings the schema to version i + 1. Never edit a shipped one.
 * Version 1 is the SQLite schema at its fifth version, with the builder that ran each build;
 * version 2 is SQLite's sixth, version 3 its seventh.
 */
export const PG_MIGRATIONS: readonly PgMigration[] = [
  `
  CREATE TABLE builds (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_ms BIGINT NOT NULL,
    finished_ms BIGINT NOT NULL DEFAULT 0,
    project TEXT NOT NULL,
    "user" TEXT NOT NULL,
    platform TEXT NOT NULL,
    result TEXT NOT NULL,
    steps INTEGER NOT NULL DEFAULT 0,
    cached_steps INTEGER NOT NULL DEFAULT 0,
    saved_ms BIGINT NOT NULL DEFAULT 0,
    bytes_uploaded BIGINT NOT NULL DEFAULT 0,
    bytes_deduplicated BIGINT NOT NULL DEFAULT 0,
    no_cache INTEGER NOT NULL DEFAULT 0,
    build_id TEXT NOT NULL,
    snapshot_id TEXT NOT NULL,
    prev_snapshot_id TEXT,
    dockerfile_digest TEXT NOT NULL,
    build_args TEXT NOT NULL,
    base_images TEXT NOT NULL,
    snapshot_diff TEXT,
    dockerfile_path TEXT,
    target TEXT,
    owner_pid INTEGER,
    error TEXT,
    build_args_hashed INTEGER NOT NULL DEFAULT 0,
    builder TEXT NOT NULL
  );
  CREATE INDEX builds_started ON builds(started_ms);
  CREATE INDEX builds_project_started ON builds(project, started_ms);
  CREATE INDEX builds_line ON builds(project, platform, dockerfile_path, target, started_ms);
  CREATE INDEX builds_running ON builds(builder, owner_pid) WHERE result = 'running';
  CREATE INDEX builds_finished ON builds(finished_ms, id);
  CREATE INDEX builds_build_id ON builds(build_id);
  CREATE TABLE steps (
    build BIGINT NOT NULL,
    idx INTEGER NOT NULL,
    started_ms BIGINT NOT NULL,
    project TEXT NOT NULL,
    digest TEXT NOT NULL,
    name TEXT NOT NULL,
    instr TEXT NOT NULL,
    cached INTEGER NOT NULL,
    duration_ms BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    saved_ms BIGINT NOT NULL,
    cause_kind TEXT,
    cause TEXT,
    cascade INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (build, idx)
  );
  CREATE INDEX steps_digest ON steps(digest, cached, build);
  CREATE INDEX steps_instr_missed ON steps(project, instr, build) WHERE cached = 0;
  CREATE INDEX steps_missed_window ON steps(started_ms, project, instr, cause_kind, duration_ms)
    WHERE cached = 0 AND cascade = 0;
  CREATE INDEX steps_root_missed ON steps(project, instr, build) WHERE cached = 0 AND cascade = 0;
  CREATE INDEX steps_arg_causes ON steps(project, instr, build)
    WHERE cached = 0 AND cascade = 0 AND cause_kind = 'build_arg';
  CREATE TABLE dockerfiles (
    digest TEXT PRIMARY KEY,
    text TEXT NOT NULL
  );
  CREATE TABLE build_hours (
    dim TEXT NOT NULL,
    all_projects INTEGER NOT NULL,
    project TEXT NOT NULL,
    hour BIGINT NOT NULL,
    key TEXT NOT NULL,
    builds BIGINT NOT NULL,
    failed_builds BIGINT NOT NULL,
    steps BIGINT NOT NULL,
    cached_steps BIGINT NOT NULL,
    saved_ms BIGINT NOT NULL,
    build_ms BIGINT NOT NULL,
    bytes_deduplicated BIGINT NOT NULL,
    bytes_uploaded BIGINT NOT NULL,
    PRIMARY KEY (dim, all_projects, project, hour, key)
  );
  CREATE INDEX build_hours_empty ON build_hours(hour) WHERE builds = 0;
  CREATE TABLE miss_hours (
    hour BIGINT NOT NULL,
    project TEXT NOT NULL,
    instr TEXT NOT NULL,
    kind TEXT NOT NULL,
    misses BIGINT NOT NULL,
    cost_ms BIGINT NOT NULL,
    PRIMARY KEY (hour, project, instr, kind)
  );
  CREATE INDEX miss_hours_empty ON miss_hours(hour) WHERE misses = 0;
  CREATE TABLE miss_days (
    day BIGINT NOT NULL,
    project TEXT NOT NULL,
    instr TEXT NOT NULL,
    kind TEXT NOT NULL,
    misses BIGINT NOT NULL,
    cost_ms BIGINT NOT NULL,
    PRIMARY KEY (day, project, instr, kind)
  );
  CREATE INDEX miss_days_empty ON miss_days(day) WHERE misses = 0;
  -- The name builders announce in Hello: clients ask one builder per history.
  CREATE TABLE history_meta (id TEXT NOT NULL);
  INSERT INTO history_meta (id) VALUES (gen_random_uuid()::text);
  `,
  async (sql) => {
    // Each missed step names the step of its build it is charged to (roots.ts), back-filled; the
    // misses' roll-ups also sum the cascades by their root, made again at open (emptied here).
    await sql.exec(`
      ALTER TABLE steps ADD COLUMN root_idx INTEGER;
      ALTER TABLE miss_hours ADD COLUMN cascaded BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN cascade_cost_ms BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE miss_days ADD COLUMN cascaded BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN cascade_cost_ms BIGINT NOT NULL DEFAULT 0;
      DROP INDEX steps_missed_window;
      CREATE INDEX steps_charged_window ON steps(started_ms, project, root_idx, cascade, duration_ms, build)
        WHERE cached = 0 AND root_idx IS NOT NULL;
    `);
    await backfillRoots(sql);
    await sql.exec('DELETE FROM build_hours; DELETE FROM miss_hours; DELETE FROM miss_days;');
  },
  // Version 3: each build's event trace and builds found by project and id (SQLite's version 7).
  TRACE_SCHEMA_POSTGRES,
];

/** The channel builders announce recorded builds on. */
const CHANNEL = 'depot_builds';
/** NOTIFY payloads must stay under 8000 bytes; a longer summary is sent as its row id alone. */
const MAX_PAYLOAD = 7000;
/** Advisory lock keys (one 64-bit space per database): migrations. */
const MIGRATION_LOCK = 0x6465_706f_7401;
/** Transactions that two builders' writes deadlocked or serialized are run again this often. */
const TX_ATTEMPTS = 5;
const RETRY_CODES = new Set(['40001', '40P01']);
/** The application name of a builder's listening connection. */
export const FOLLOWER_NAME = 'depot-builder watch';
/** How long the follower waits before it connects again after losing its connection: doubling, up to the max. */
const RECONNECT_MS = 1000;
const RECONNECT_MAX_MS = 30_000;
/**
 * A database that does not answer must not hold a build or an RPC forever: connecting gives up
 * after this long, and so does any one statement (the builder's own and the server's timeout).
 */
const CONNECT_TIMEOUT_MS = 10_000;
/** How far the builders' clocks may disagree, for the builds a reconnected follower reads back. */
const CLOCK_SLACK_MS = 60_000;
/** The listening connection is asked this often whether it still works (a silent network loss). */
const FOLLOWER_PING_MS = 30_000;
const STATEMENT_TIMEOUT_MS = 30_000;

/** True for a `--history` value naming a PostgreSQL database. */
export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

/** A URL as logs and errors may show it: without its password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}

/** Options of a shared history: the builder recording into it is required. */
export interface PostgresHistoryOptions extends HistoryOptions {
  builder: string;
  /** Connections of this builder's pool (default 8), besides the one that listens. */
  poolSize?: number;
  /** Called with what goes wrong in the background (the listening connection). */
  onError?: (err: Error) => void;
}

// Counts and sums of BIGINT columns come back as int8 and numeric, which pg leaves as strings;
// every such value here is far below 2^53.
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return Number;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/**
 * Opens the shared history at `url` (`postgres://user@host/db`, or
 * `postgres:///db?host=/socket/dir` for a unix socket), bringing its schema up to date first.
 */
export async function openPostgresHistory(url: string, opts: PostgresHistoryOptions): Promise<History> {
  const where = redactUrl(url);
  const config: pg.PoolConfig = {
    connectionString: url,
    types: TYPES,
    application_name: `depot-builder ${opts.builder}`.slice(0, 63),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS,
    keepAlive: true,
  };
  const pool = new pg.Pool({ ...config, max: opts.poolSize ?? 8 });
  // An idle connection the server closed: the pool drops it and opens another when needed.
  pool.on('error', (err) => opts.onError?.(err));
  try {
    await migratePostgres(pool);
  } catch (err) {
    await pool.end().catch(() => {});
    throw new Error(`history database ${where}: ${(err as Error).message}`, { cause: err });
  }
  const db = postgresDb(pool);
  const id = (await db.get<{ id: string }>('SELECT id FROM history_meta'))?.id ?? '';
  const follower = createFollower(config, opts.builder, opts.onError);
  const backend: HistoryBackend = {
    name: 'postgres',
    id,
    db: {
      ...db,
      async close() {
        await follower.close();
        await db.close();
      },
    },
    shared: true,
    async schemaVersion() {
      return (await db.get<{ v: number | null }>('SELECT max(version) AS v FROM schema_version'))?.v ?? 0;
    },
    async announce(sql, summary) {
      await sql.run('SELECT pg_notify(?, ?)', [CHANNEL, payloadOf(summary)]);
    },
    async lockWriters(sql) {
      // Writers of builds (recording, failing abandoned ones) wait; readers go on.
      await sql.exec('LOCK TABLE builds IN SHARE ROW EXCLUSIVE MODE');
    },
    follow: follower.follow,
  };
  return historyOn(backend, opts);
}

/** A summary as NOTIFY carries it. */
function payloadOf(summary: BuildSummary): string {
  const full = JSON.stringify({ summary });
  return Buffer.byteLength(full) <= MAX_PAYLOAD
    ? full
    : JSON.stringify({ buildId: summary.buildId, builder: summary.builder, startedMs: summary.startedMs });
}

/** Runs the migrations a database lacks, one builder at a time. */
async function migratePostgres(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    // Session-level: held across the migrations' own transactions, released below or with the session.
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_ms BIGINT NOT NULL)',
      );
      const from =
        (await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_version')).rows[0]
          ?.v ?? 0;
      if (from > PG_MIGRATIONS.length)
        throw new Error(
          `the history database is at schema version ${from}, newer than this builder knows (${PG_MIGRATIONS.length})`,
        );
      for (let v = from; v < PG_MIGRATIONS.length; v++) {
        await client.query('BEGIN');
        try {
          const m = PG_MIGRATIONS[v]!;
          if (typeof m === 'string') await client.query(m);
          else await m(clientSql(client));
          await client.query('INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)', [
            v + 1,
            Date.now(),
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

/** `Sql` over one way of running a statement (with its parameters) and one of running a script. */
function sqlOver(
  query: <T extends pg.QueryResultRow>(
    sql: string,
    params: readonly SqlParam[],
  ) => Promise<pg.QueryResult<T>>,
  exec: (sql: string) => Promise<unknown>,
): Sql {
  return {
    dialect: 'postgres',
    async all<T>(sql: string, params: readonly SqlParam[] = []) {
      return (await query(sql, params)).rows as T[];
    },
    async get<T>(sql: string, params: readonly SqlParam[] = []) {
      return (await query(sql, params)).rows[0] as T | undefined;
    },
    async run(sql, params = []) {
      return (await query(sql, params)).rowCount ?? 0;
    },
    async exec(sql) {
      await exec(sql);
    },
  };
}

/** Statements on one connection, unprepared: for the migrations, which run each once. */
function clientSql(c: pg.PoolClient): Sql {
  return sqlOver(
    (sql, params) => c.query(numberedParams(sql), [...params]),
    (sql) => c.query(sql),
  );
}

/** The pool behind `SqlDb`: statements are prepared once per connection. */
function postgresDb(pool: pg.Pool): SqlDb {
  const names = new Map<string, { name: string; text: string }>();
  const prepared = (sql: string) => {
    let p = names.get(sql);
    if (!p) {
      p = { name: `depot_${names.size + 1}`, text: numberedParams(sql) };
      names.set(sql, p);
    }
    return p;
  };
  const on = (q: pg.Pool | pg.PoolClient): Sql =>
    sqlOver(
      (sql, params) => q.query({ ...prepared(sql), values: [...params] }),
      (sql) => q.query(sql),
    );
  const inTx = async <T>(begin: string, fn: (sql: Sql) => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query(begin);
        const out = await fn(on(client));
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => {
          broken = e;
        });
        const code = (err as { code?: string }).code;
        if (attempt >= TX_ATTEMPTS || !code || !RETRY_CODES.has(code)) throw err;
      } finally {
        // A connection that could not even roll back is not given to the next caller.
        client.release(broken);
      }
    }
  };
  return {
    ...on(pool),
    tx: (fn) => inTx('BEGIN', fn),
    read: (fn) => inTx('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', fn),
    async close() {
      await pool.end();
    },
  };
}

/**
 * Listens for the builds other builders record and hands them to the listeners. On (re)connect it
 * reads the other builders' running builds, and those that ended while it was away, so a watcher
 * misses none.
 */
function createFollower(
  config: pg.ClientConfig,
  self: string,
  onError: ((err: Error) => void) | undefined,
): { follow(listener: (s: BuildSummary) => void): () => void; close(): Promise<void> } {
  const listeners = new Set<(s: BuildSummary) => void>();
  let client: pg.Client | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let ping: NodeJS.Timeout | undefined;
  let retryMs = RECONNECT_MS;
  /** When the last connection was lost (0: never connected). */
  let lostAt = 0;
  const emit = (s: BuildSummary) => {
    if (s.builder === self) return; // this builder's own feed has it already
    for (const l of [...listeners]) l(s);
  };

  const fetchOne = async (c: pg.Client, buildId: string, builder: string, startedMs: number) => {
    const r = await c.query<SummaryRow>(
      `SELECT ${SUMMARY_COLUMNS} FROM builds WHERE build_id = $1 AND builder = $2 AND started_ms = $3`,
      [buildId, builder, startedMs],
    );
    if (r.rows[0]) emit(toSummary(r.rows[0]));
  };

  async function connect(): Promise<void> {
    if (closed || client) return;
    // Named apart from the pool's connections, so an operator (or a test) can tell it is listening.
    const c = new pg.Client({ ...config, types: TYPES, application_name: FOLLOWER_NAME });
    client = c;
    const lose = (err?: Error) => {
      if (client !== c) return;
      client = undefined;
      clearInterval(ping);
      lostAt = Date.now();
      if (err) onError?.(err);
      c.end().catch(() => {});
      if (!closed && listeners.size > 0) {
        timer = setTimeout(() => void connect(), retryMs);
        timer.unref();
        retryMs = Math.min(retryMs * 2, RECONNECT_MAX_MS);
      }
    };
    c.on('error', lose);
    c.on('end', () => lose());
    c.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      try {
        const p = JSON.parse(msg.payload) as
          | { summary: BuildSummary }
          | { buildId: string; builder: string; startedMs: number };
        if ('summary' in p) emit(p.summary);
        else if (p.builder !== self) void fetchOne(c, p.buildId, p.builder, p.startedMs).catch(lose);
      } catch (err) {
        onError?.(err as Error);
      }
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
      // Listening first, then reading: a build that starts in between is announced and read, never
      // lost. Ends are read from a minute before the loss: builders' clocks differ a little, and a
      // build heard twice is harmless (watchers key builds by id).
      const since = lostAt && lostAt - CLOCK_SLACK_MS;
      const r = await c.query<SummaryRow>(
        `SELECT ${SUMMARY_COLUMNS} FROM builds
         WHERE builder != $1 AND (result = 'running' OR ($2::bigint > 0 AND finished_ms >= $2::bigint))
         ORDER BY started_ms, id`,
        [self, since],
      );
      for (const row of r.rows) emit(toSummary(row));
      retryMs = RECONNECT_MS;
      ping = setInterval(() => void c.query('SELECT 1').catch(lose), FOLLOWER_PING_MS);
      ping.unref();
    } catch (err) {
      lose(err as Error);
    }
  }

  return {
    follow(listener) {
      listeners.add(listener);
      void connect();
      return () => {
        listeners.delete(listener);
      };
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(ping);
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}
