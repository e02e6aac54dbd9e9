// Stats over a large history: inserts 100k synthetic builds (~10 steps each) into a temp database
// and times `stats()` for the 24h and 7d windows grouped by project. Prints markdown rows. The
// rows go into a database at the schema before the roll-ups, so opening it times their back-fill.
//   node --import tsx bench/stats.ts [builds]
import { deepStrictEqual } from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, openHistory, type StatsWindow } from '../builder-host/src/history/index.js';
import { BUILD_COLS, historyRows, STEP_COLS } from './history-rows.js';

const BUILDS = Number(process.argv[2] ?? 100_000);
const STEPS = 10;
const NOW = Date.now();
const SPAN = 7 * 86_400_000;
const TARGET_MS = 100;

const dir = mkdtempSync(join(tmpdir(), 'depot-bench-stats-'));
const file = join(dir, 'history.db');
// The last schema without roll-ups: what a builder recorded before them.
const PRE_ROLLUP_VERSION = 3;

// Bulk insert straight into the tables (one transaction): the recording path is per build and not
// what this measures.
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL, applied_ms INTEGER NOT NULL)');
for (let v = 0; v < PRE_ROLLUP_VERSION; v++) {
  MIGRATIONS[v]!(db);
  db.prepare('INSERT INTO schema_version VALUES (?, 0)').run(v + 1);
}
// Schema 3 has no builder column: every build row but its last column, and the snapshot diff.
const buildCols = [...BUILD_COLS.filter((c) => c !== 'builder'), 'snapshot_diff'];
const insertBuild = db.prepare(
  `INSERT INTO builds (${buildCols.join(', ')}) VALUES (${buildCols.map(() => '?').join(', ')})`,
);
// Schema 3 keeps no roots: the migration that adds them back-fills them from the causes (timed in
// the open).
const stepCols = STEP_COLS.filter((c) => c !== 'root_idx');
const insertStep = db.prepare(
  `INSERT INTO steps (${stepCols.join(', ')}) VALUES (${stepCols.map(() => '?').join(', ')})`,
);
const diff = JSON.stringify({
  added: [],
  changed: ['src/index.ts'],
  removed: [],
  addedCount: 0,
  changedCount: 1,
  removedCount: 0,
});
const rows = historyRows({ builds: BUILDS, steps: STEPS, now: NOW, spanMs: SPAN });
const t0 = performance.now();
db.transaction(() => {
  for (const r of rows.steps) insertStep.run(...r.slice(0, -1));
  for (const r of rows.builds) insertBuild.run(...r.slice(0, -1), diff);
})();
db.close();
const insertMs = performance.now() - t0;

const t1 = performance.now();
const h = await openHistory(file);
const openMs = performance.now() - t1;
console.log(
  `| builds | steps | window | group by | stats() median ms | max ms | insert s | roll-up back-fill s |`,
);
console.log(`|---|---|---|---|---|---|---|---|`);
let worst = 0;
for (const window of ['24h', '7d'] as StatsWindow[]) {
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    const r = await h.stats({ window, groupBy: 'project', now: NOW });
    times.push(performance.now() - t);
    if (i === 0 && !r.totals?.builds) throw new Error('no builds in the window');
    if (i === 0) deepStrictEqual(r, await h.statsFromRaw({ window, groupBy: 'project', now: NOW }));
  }
  times.sort((a, b) => a - b);
  const med = times[3]!;
  worst = Math.max(worst, med);
  console.log(
    `| ${BUILDS} | ${BUILDS * STEPS} | ${window} | project | ${med.toFixed(1)} | ${times[6]!.toFixed(1)} | ${(insertMs / 1000).toFixed(1)} | ${(openMs / 1000).toFixed(1)} |`,
  );
}
await h.close();
if (process.env.KEEP_DB) console.error(file);
else rmSync(dir, { recursive: true, force: true });
if (worst > TARGET_MS) {
  console.error(`stats() took ${worst.toFixed(1)} ms, over the ${TARGET_MS} ms target`);
}
