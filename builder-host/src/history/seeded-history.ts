/**
 * A seeded random history for tests that compare answers: builds of several projects, users and
 * platforms on and off hour and day boundaries, some left running or abandoned, and the window
 * ends that cut them in every way.
 */
import { cascadePrefix } from './explain.js';
import { stepCause } from './explainer.js';
import { HOUR_MS } from './rollups.js';
import type { BuildStart, StepCauseKind, StepRecord } from './types.js';

const H = HOUR_MS;
const D = 24 * H;
/** Mid-hour on purpose: recorded times and windows fall on and off hour and day boundaries. */
export const T0 = Date.UTC(2025, 0, 1, 0, 17, 23, 411);

/** A seeded generator of numbers in [0, 1). */
export function lcg(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

const PROJECTS = ['web', 'api', 'jobs', 'docs'];
const USERS = ['ann', 'bob', 'cy'];
const PLATFORMS = ['linux/amd64', 'linux/arm64'];
const INSTRS = ['FROM node:20', 'COPY . .', 'RUN npm ci', 'ARG V', 'RUN echo $V', 'RUN make'];
const KINDS: (StepCauseKind | undefined)[] = [
  'changed_files',
  'build_arg',
  'dockerfile_changed',
  'base_image',
  'unknown',
  undefined,
];

export interface Planned {
  start: BuildStart;
  finishedMs: number;
  result: 'ok' | 'failed' | 'cancelled';
  steps: StepRecord[];
  fate: 'finish' | 'running' | 'abandoned';
}

/** A seeded history: `n` builds over `days` days, some left running or abandoned by a dead builder. */
export function plan(seed: number, n: number, days: number): Planned[] {
  const rand = lcg(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const out: Planned[] = [];
  for (let i = 0; i < n; i++) {
    const r = rand();
    // Some builds start exactly on an hour or a day, the rest anywhere.
    let startedMs = T0 + Math.floor(rand() * days * D);
    if (r < 0.08) startedMs -= startedMs % H;
    else if (r < 0.1) startedMs -= startedMs % D;
    const steps: StepRecord[] = [];
    const roots: StepRecord[] = [];
    const count = 1 + Math.floor(rand() * INSTRS.length);
    for (let k = 0; k < count; k++) {
      const instr = INSTRS[k]!;
      const cached = rand() < 0.5;
      const kind = pick(KINDS);
      const step: StepRecord = {
        digest: `sha256:${pick(PROJECTS)}-${instr}-${Math.floor(rand() * 5)}`,
        name: `[${k + 1}/${count}] ${instr}`,
        cached,
        durationMs: cached ? 0 : Math.floor(rand() * 20_000),
        bytes: Math.floor(rand() * 1000),
        cause: cached || kind === undefined ? undefined : stepCause(kind, `${kind} text`, { name: 'V' }),
        cascade: !cached && rand() < (roots.length > 0 ? 0.5 : 0.05),
      };
      const root = roots[Math.floor(rand() * roots.length)];
      const how = rand();
      // A cascade names its root by vertex (as the recorder does), by its cause text only (older
      // records), or not at all (then only a build's one earlier root is taken for it).
      if (step.cascade && root) {
        const text = `${cascadePrefix(root.name)}${root.cause?.text ?? ''}`;
        const cause = root.cause ?? stepCause('unknown', '');
        step.cause =
          how < 0.6
            ? { ...cause, text, rootVertex: root.digest }
            : how < 0.8
              ? { ...cause, text }
              : undefined;
      }
      if (!cached && !step.cascade) roots.push(step);
      steps.push(step);
    }
    const fr = rand();
    out.push({
      start: {
        buildId: `b${i}`,
        project: pick(PROJECTS),
        user: pick(USERS),
        platform: pick(PLATFORMS),
        startedMs,
        snapshotId: `sha256:s${i}`,
        buildArgs: { V: String(i % 3) },
        dockerfilePath: 'Dockerfile',
        target: '',
        dockerfileDigest: `sha256:df${i % 4}`,
        dockerfile: `FROM node:20\nCOPY . .\nRUN npm ci\nARG V\nRUN echo $V\nRUN make\n# ${i % 4}\n`,
        baseImages: {},
        noCache: false,
        bytesUploaded: Math.floor(rand() * 100_000),
        bytesDeduplicated: Math.floor(rand() * 1_000_000),
      },
      // Up to three hours: many builds finish in a later hour than they started.
      finishedMs: startedMs + Math.floor(rand() * 3 * H),
      result: rand() < 0.7 ? 'ok' : rand() < 0.5 ? 'failed' : 'cancelled',
      steps,
      fate: fr < 0.03 ? 'running' : fr < 0.08 ? 'abandoned' : 'finish',
    });
  }
  return out.sort((a, b) => a.start.startedMs - b.start.startedMs);
}

/** Windows ending at hour and day boundaries, a ms either side, at recorded start times and anywhere. */
export function windowEnds(builds: Planned[], seed: number): number[] {
  const rand = lcg(seed);
  const ends = new Set<number>();
  for (let i = 0; i < 6; i++) {
    const b = builds[Math.floor(rand() * builds.length)]!.start.startedMs;
    ends.add(b);
    ends.add(b + 7 * D); // that build sits exactly on the 7d window's first ms
    ends.add(b + D);
    ends.add(b + H);
    const hour = b - (b % H);
    ends.add(hour);
    ends.add(hour - 1);
    ends.add(hour + 1);
    ends.add(b - (b % D) + D);
    ends.add(T0 + Math.floor(rand() * 12 * D));
  }
  return [...ends];
}
