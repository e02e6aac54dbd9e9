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
// what this measures. A seeded LCG keeps runs comparable.
let seed = 42;
const rand = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL, applied_ms INTEGER NOT NULL)');
for (let v = 0; v < PRE_ROLLUP_VERSION; v++) {
  MIGRATIONS[v]!(db);
  db.prepare('INSERT INTO schema_version VALUES (?, 0)').run(v + 1);
}
const insertBuild = db.prepare(`
  INSERT INTO builds (id, started_ms, finished_ms, project, user, platform, result, steps, cached_steps, saved_ms,
    bytes_uploaded, bytes_deduplicated, build_id, snapshot_id, dockerfile_digest, build_args, base_images, snapshot_diff)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}', '{}', ?)`);
const insertStep = db.prepare(`
  INSERT INTO steps (build, idx, started_ms, project, digest, name, instr, cached, duration_ms, bytes, saved_ms,
    cause_kind, cause)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`);
const CAUSES = ['changed_files', 'build_arg', 'dockerfile_changed', 'base_image', 'no_cache', 'evicted'];
const INSTR = [
  'FROM node:20',
  'WORKDIR /app',
  'COPY . .',
  'RUN npm ci',
  'RUN npm run build',
  'ARG VERSION',
  'RUN echo $VERSION',
  'COPY dist /srv',
  'EXPOSE 80',
  'CMD node /srv/main.js',
];
const diff = JSON.stringify({
  added: [],
  changed: ['src/index.ts'],
  removed: [],
  addedCount: 0,
  changedCount: 1,
  removedCount: 0,
});
const t0 = performance.now();
db.transaction(() => {
  for (let id = 1; id <= BUILDS; id++) {
    const started = Math.floor(NOW - SPAN + (SPAN * id) / BUILDS);
    const project = `project-${Math.floor(rand() * 40)}`;
    let cached = 0;
    let saved = 0;
    let total = 0;
    for (let i = 0; i < STEPS; i++) {
      const hit = rand() < 0.7;
      const dur = hit ? 0 : Math.floor(rand() * 5000);
      total += dur;
      if (hit) {
        cached++;
        saved += 1000;
      }
      const kind = hit ? null : CAUSES[Math.floor(rand() * CAUSES.length)]!;
      insertStep.run(
        id,
        i,
        started,
        project,
        `sha256:${id}-${i}`,
        `[${i + 1}/${STEPS}] ${INSTR[i]}`,
        INSTR[i],
        hit ? 1 : 0,
        dur,
        hit ? 1000 : 0,
        kind,
        kind ? `{"kind":"${kind}"}` : null,
      );
    }
    insertBuild.run(
      id,
      started,
      started + total + 500,
      project,
      `user-${Math.floor(rand() * 25)}`,
      rand() < 0.8 ? 'linux/amd64' : 'linux/arm64',
      rand() < 0.05 ? 'failed' : 'ok',
      STEPS,
      cached,
      saved,
      Math.floor(rand() * 1e6),
      Math.floor(rand() * 1e8),
      `b-${id}`,
      `sha256:${id}`,
      'sha256:df',
      diff,
    );
  }
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
