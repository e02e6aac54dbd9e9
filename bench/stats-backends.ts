// Stats over a large history in each backend: the same 100k synthetic builds (~10 steps each)
// seeded straight into SQLite and into PostgreSQL (a private server, scripts/postgres.sh), and
// into four SQLite histories of 25k builds each (a fleet whose builders keep their own, asked one
// by one and merged as `depot stats --fleet` does). Times `stats()` for the 24h and 7d windows
// grouped by project and checks that every way gives the same answer. Prints markdown rows.
//   node --import tsx bench/stats-backends.ts [builds]
import { deepStrictEqual } from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { History } from '../builder-host/src/history/index.js';
import { openHistory, type StatsResult, type StatsWindow } from '../builder-host/src/history/index.js';
import { openPostgresHistory } from '../builder-host/src/history/postgres.js';
import { mergeStats } from '../src/cli/fleet-history.js';
import type { StatsResponseWire } from '../src/session/index.js';
import { BUILD_COLS, historyRows, type Row, STEP_COLS } from './history-rows.js';

const BUILDS = Number(process.argv[2] ?? 100_000);
const STEPS = 10;
const FLEET = 4;
const NOW = Date.now();
const SPAN = 7 * 86_400_000;
const RUNS = 7;
const ROOT = resolve(import.meta.dirname, '..');

// The same seeded rows in every backend.
const { builds, steps } = historyRows({ builds: BUILDS, steps: STEPS, now: NOW, spanMs: SPAN, fleet: FLEET });
const buildCols = BUILD_COLS;
const stepCols = STEP_COLS;

const placeholders = (n: number) => `(${Array(n).fill('?').join(', ')})`;

/** A SQLite history holding the builds `keep` selects, seeded in one transaction; returns seconds. */
async function seedSqlite(file: string, keep: (b: Row) => boolean): Promise<{ h: History; seedS: number }> {
  // Opened once to create the schema, closed, seeded around it, opened again (roll-ups rebuilt).
  await (await openHistory(file)).close();
  const t = performance.now();
  const db = new Database(file);
  const b = db.prepare(
    `INSERT INTO builds (${buildCols.join(', ')}) VALUES ${placeholders(buildCols.length)}`,
  );
  const s = db.prepare(`INSERT INTO steps (${stepCols.join(', ')}) VALUES ${placeholders(stepCols.length)}`);
  const ids = new Set<number>();
  db.transaction(() => {
    for (const r of builds)
      if (keep(r)) {
        b.run(...r);
        ids.add(r[0] as number);
      }
    for (const r of steps) if (ids.has(r[0] as number)) s.run(...r);
  })();
  db.close();
  const h = await openHistory(file);
  return { h, seedS: (performance.now() - t) / 1000 };
}

/** The PostgreSQL history, seeded with every build by `unnest` batches; returns seconds. */
async function seedPostgres(url: string): Promise<{ h: History; seedS: number }> {
  await (await openPostgresHistory(url, { builder: 'bench' })).close();
  const t = performance.now();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const insert = async (table: string, cols: readonly string[], types: string[], rows: Row[]) => {
    const BATCH = 20_000;
    for (let i = 0; i < rows.length; i += BATCH) {
      const batch = rows.slice(i, i + BATCH);
      await c.query(
        `INSERT INTO ${table} (${cols.join(', ')}) OVERRIDING SYSTEM VALUE
         SELECT * FROM unnest(${types.map((ty, k) => `$${k + 1}::${ty}[]`).join(', ')})`,
        cols.map((_, k) => batch.map((r) => r[k])),
      );
    }
  };
  const bigints = (n: number) => Array(n).fill('bigint');
  await insert(
    'builds',
    buildCols,
    [...bigints(3), ...Array(4).fill('text'), ...bigints(5), ...Array(6).fill('text')],
    builds,
  );
  await insert(
    'steps',
    stepCols,
    [
      'bigint',
      'int',
      'bigint',
      'text',
      'text',
      'text',
      'text',
      'int',
      'bigint',
      'bigint',
      'bigint',
      'text',
      'text',
      'int',
      'int',
    ],
    steps,
  );
  await c.query('ANALYZE');
  await c.end();
  const h = await openPostgresHistory(url, { builder: 'bench' });
  return { h, seedS: (performance.now() - t) / 1000 };
}

/** Median and max of RUNS calls of `ask`, and its first answer. */
async function time<T>(ask: () => Promise<T>): Promise<{ med: number; max: number; first: T }> {
  const times: number[] = [];
  let first: T | undefined;
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const r = await ask();
    times.push(performance.now() - t);
    first ??= r;
  }
  times.sort((a, b) => a - b);
  return { med: times[RUNS >> 1]!, max: times[RUNS - 1]!, first: first! };
}

const dir = mkdtempSync(join(tmpdir(), 'depot-bench-backends-'));
const server = `bench-stats-${process.pid}`;
const script = join(ROOT, 'scripts', 'postgres.sh');
const started = spawnSync(script, ['start', server], { encoding: 'utf8' });
if (started.status !== 0) throw new Error(`scripts/postgres.sh start: ${started.stderr}`);
const url = started.stdout.trim();
try {
  const lite = await seedSqlite(join(dir, 'history.db'), () => true);
  const pgh = await seedPostgres(url);
  const fleet = await Promise.all(
    Array.from({ length: FLEET }, (_, k) =>
      seedSqlite(join(dir, `builder-${k}.db`), (b) => b[17] === `bld-${k}`),
    ),
  );
  console.log(
    `| window | SQLite, ${BUILDS / 1000}k builds | PostgreSQL, ${BUILDS / 1000}k builds | ${FLEET} SQLite × ${BUILDS / FLEET / 1000}k, slowest + merge |`,
  );
  console.log('|---|---|---|---|');
  for (const window of ['24h', '7d'] as StatsWindow[]) {
    const q = { window, groupBy: 'project' as const, now: NOW };
    const a = await time(() => lite.h.stats(q));
    const p = await time(() => pgh.h.stats(q));
    // The fleet's builders answer at once, each on its own machine: the slowest one, then the merge.
    // (Timed one after another: in one process they would wait for each other.)
    const each = [];
    for (const f of fleet) each.push(await time(() => f.h.stats(q)));
    const answers = each.map((e) => e.first as StatsResponseWire);
    const merge = await time(async () => mergeStats(answers));
    deepStrictEqual(p.first, a.first, `${window}: PostgreSQL and SQLite disagree`);
    const merged = merge.first as unknown as StatsResult;
    // Totals, groups and series add up exactly; busters may differ (each builder sends its ten).
    deepStrictEqual(
      [merged.totals, merged.groups, merged.series],
      [a.first.totals, a.first.groups, a.first.series],
      `${window}: the merged fleet disagrees`,
    );
    const ms = (x: { med: number; max: number }) => `${x.med.toFixed(1)} ms (max ${x.max.toFixed(1)})`;
    const slowest = Math.max(...each.map((e) => e.med));
    console.log(
      `| ${window} | ${ms(a)} | ${ms(p)} | ${(slowest + merge.med).toFixed(1)} ms (${slowest.toFixed(1)} + ${merge.med.toFixed(2)}) |`,
    );
  }
  console.log(
    `\nseeding (rows written around the history, then open with the roll-ups rebuilt): SQLite ${lite.seedS.toFixed(1)} s, PostgreSQL ${pgh.seedS.toFixed(1)} s`,
  );
  await Promise.all([lite.h.close(), pgh.h.close(), ...fleet.map((f) => f.h.close())]);
} finally {
  spawnSync(script, ['stop', server]);
  rmSync(dir, { recursive: true, force: true });
}
