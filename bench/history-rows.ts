/**
 * The seeded rows the history benchmarks insert straight into the tables (the recording path is
 * per build and not what they measure): `builds` builds of `steps` steps over `spanMs` before
 * `now`, 70% cache hits, the same rows for the same seed in every run and backend. A build's first
 * miss is a root cause; three in four of the misses after it only follow it (cascades, charged to it
 * by `root_idx`, their cause naming it by vertex and text as the recorder writes them).
 */
import { cascadePrefix } from '../builder-host/src/history/explain.js';

/** One row, in the order of its columns. */
export type Row = (string | number | null)[];

/** Columns of the builds rows (`"user"` quoted: a reserved word in PostgreSQL). */
export const BUILD_COLS = [
  'id',
  'started_ms',
  'finished_ms',
  'project',
  '"user"',
  'platform',
  'result',
  'steps',
  'cached_steps',
  'saved_ms',
  'bytes_uploaded',
  'bytes_deduplicated',
  'build_id',
  'snapshot_id',
  'dockerfile_digest',
  'build_args',
  'base_images',
  'builder',
] as const;

/** Columns of the steps rows. */
export const STEP_COLS = [
  'build',
  'idx',
  'started_ms',
  'project',
  'digest',
  'name',
  'instr',
  'cached',
  'duration_ms',
  'bytes',
  'saved_ms',
  'cause_kind',
  'cause',
  'cascade',
  'root_idx',
] as const;

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

/** The rows: builds of 40 projects and 25 users, on `fleet` builders (`bld-N`), seeded LCG. */
export function historyRows(o: {
  builds: number;
  steps: number;
  now: number;
  spanMs: number;
  fleet?: number;
  seed?: number;
}): { builds: Row[]; steps: Row[] } {
  let seed = o.seed ?? 42;
  const rand = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const builds: Row[] = [];
  const steps: Row[] = [];
  for (let id = 1; id <= o.builds; id++) {
    const started = Math.floor(o.now - o.spanMs + (o.spanMs * id) / o.builds);
    const project = `project-${Math.floor(rand() * 40)}`;
    let cached = 0;
    let saved = 0;
    let total = 0;
    let root: { idx: number; kind: string; name: string } | undefined;
    for (let i = 0; i < o.steps; i++) {
      const hit = rand() < 0.7;
      const dur = hit ? 0 : Math.floor(rand() * 5000);
      total += dur;
      if (hit) {
        cached++;
        saved += 1000;
      }
      const own = hit ? null : CAUSES[Math.floor(rand() * CAUSES.length)]!;
      const instr = INSTR[i % INSTR.length]!;
      const name = `[${i + 1}/${o.steps}] ${instr}`;
      // Decided by position, not drawn: the same hits, durations and builds as without cascades.
      const follows = !hit && root !== undefined && (id + i) % 4 !== 0 ? root : undefined;
      const kind = follows ? follows.kind : own;
      const cause = follows
        ? JSON.stringify({
            kind,
            text: `${cascadePrefix(follows.name)}${kind} text`,
            rootVertex: `sha256:${id}-${follows.idx}`,
          })
        : kind
          ? `{"kind":"${kind}"}`
          : null;
      if (!hit && !root) root = { idx: i, kind: own!, name };
      steps.push([
        id,
        i,
        started,
        project,
        `sha256:${id}-${i}`,
        name,
        instr,
        hit ? 1 : 0,
        dur,
        0,
        hit ? 1000 : 0,
        kind,
        cause,
        follows ? 1 : 0,
        hit ? null : (follows?.idx ?? i),
      ]);
    }
    builds.push([
      id,
      started,
      started + total + 500,
      project,
      `user-${Math.floor(rand() * 25)}`,
      rand() < 0.8 ? 'linux/amd64' : 'linux/arm64',
      rand() < 0.05 ? 'failed' : 'ok',
      o.steps,
      cached,
      saved,
      Math.floor(rand() * 1e6),
      Math.floor(rand() * 1e8),
      `b-${id}`,
      `sha256:${id}`,
      'sha256:df',
      '{}',
      '{}',
      `bld-${id % (o.fleet ?? 1)}`,
    ]);
  }
  return { builds, steps };
}
