/**
 * The few things the build history asks of a SQL database, so one set of queries serves SQLite
 * (embedded, one builder) and PostgreSQL (shared by a fleet). Queries are written once with `?`
 * placeholders in the SQL both understand; the few places the dialects differ ask `dialect`.
 */
import type Database from 'better-sqlite3';

/**
 * A value bound to a `?`. Integers only as numbers (ms, counts, bytes: all below 2^53); bytes as a
 * Buffer (a BLOB in SQLite, a bytea in PostgreSQL, read back as a Buffer by both).
 */
export type SqlParam = string | number | Buffer | null;

/** Which SQL a statement is read by. */
export type Dialect = 'sqlite' | 'postgres';

/**
 * Statements on a database, or inside one of its transactions. Integer and numeric columns (counts
 * and sums too) come back as numbers.
 */
export interface Sql {
  readonly dialect: Dialect;
  /** Every row of a query. */
  all<T>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  /** The first row of a query, or undefined. */
  get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined>;
  /** Runs a statement; returns the number of rows it changed. */
  run(sql: string, params?: readonly SqlParam[]): Promise<number>;
  /** Runs statements separated by `;`, without parameters. */
  exec(sql: string): Promise<void>;
}

/** A database: statements, transactions and the end of it. */
export interface SqlDb extends Sql {
  /**
   * Runs `fn` in one transaction that writes (committed when it resolves, rolled back when it
   * throws). Statements of `fn` must go through the `Sql` it is given.
   */
  tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  /** Runs `fn`'s reads on one consistent view of the database (no writes). */
  read<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * A better-sqlite3 database behind the async `SqlDb`. The connection is one for the whole process,
 * so a transaction holds it: statements and transactions of other callers wait for its end (they
 * would otherwise run inside it, or see its rows before it commits).
 */
export function sqliteDb(db: Database.Database): SqlDb {
  const direct = sqliteStatements(db);
  // The holder of the connection: every use waits for the one before it to settle.
  let turn: Promise<unknown> = Promise.resolve();
  const queued = <T>(fn: () => Promise<T>): Promise<T> => {
    const mine = turn.then(fn);
    turn = mine.catch(() => {});
    return mine;
  };
  const inTx = <T>(begin: string, fn: (sql: Sql) => Promise<T>) =>
    queued(async () => {
      db.exec(begin);
      try {
        const out = await fn(direct);
        db.exec('COMMIT');
        return out;
      } catch (err) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw err;
      }
    });
  return {
    dialect: 'sqlite',
    all: (sql, params) => queued(() => direct.all(sql, params)),
    get: (sql, params) => queued(() => direct.get(sql, params)),
    run: (sql, params) => queued(() => direct.run(sql, params)),
    exec: (sql) => queued(() => direct.exec(sql)),
    // IMMEDIATE: another process on the same file waits for the write lock here (busy_timeout),
    // not halfway through.
    tx: (fn) => inTx('BEGIN IMMEDIATE', fn),
    // A deferred transaction reads one snapshot of a WAL database, whatever other processes write.
    read: (fn) => inTx('BEGIN', fn),
    close: () =>
      queued(async () => {
        if (db.open) db.close();
      }),
  };
}

/**
 * Statements run straight on a better-sqlite3 connection, with no queue and no transaction of their
 * own: for the one user of the connection (a schema migration, inside its transaction).
 */
export function sqliteStatements(db: Database.Database): Sql {
  const cache = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    let st = cache.get(sql);
    if (!st) {
      st = db.prepare(sql);
      cache.set(sql, st);
    }
    return st;
  };
  return {
    dialect: 'sqlite',
    async all<T>(sql: string, params: readonly SqlParam[] = []) {
      return prepare(sql).all(...params) as T[];
    },
    async get<T>(sql: string, params: readonly SqlParam[] = []) {
      return prepare(sql).get(...params) as T | undefined;
    },
    async run(sql, params = []) {
      return prepare(sql).run(...params).changes;
    },
    async exec(sql) {
      db.exec(sql);
    },
  };
}

/** `?` placeholders as PostgreSQL's `$1, $2, …` (the history's SQL has no `?` inside literals). */
export function numberedParams(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
