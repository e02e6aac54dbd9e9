/**
 * What counts as a Dockerfile step, shared by the client's summaries, `--metadata-file` and the
 * builder's history, so every place reports the same numbers for the same build.
 *
 * A step is a vertex BuildKit names after a Dockerfile instruction: `[stage n/m] …`, `[n/m] …` or
 * `[platform stage n/m] …`. What BuildKit runs around every build (`[internal] load build
 * definition`, `load .dockerignore`, `load metadata for …`, `load build context`, `exporting to
 * image`, …) is not a step: it varies with the engine, not with the Dockerfile.
 *
 * A step counts once BuildKit reported it cached or completed (a failed step completes too); steps
 * a build never reached (cancelled before they ran, or after a failure) do not count. A `FROM` counts like any step: the builder reports
 * a `FROM` whose image was already in its engine as cached, since nothing was built or fetched.
 */

const STEP_NAME = /^\[(?:[^\]]*?\s)?\d+\/\d+\]/;

/** True for vertices of Dockerfile instructions (`[stage n/m] …`, `[n/m] …`). */
export function isDockerfileStep(name: string): boolean {
  return STEP_NAME.test(name.trim());
}

/** The instruction of a step's vertex name without its `[stage n/m] ` prefix, e.g. `RUN npm ci`. */
export function stepInstruction(name: string): string {
  return name
    .trim()
    .replace(/^\[[^\]]*?\b\d+\/\d+\]\s*/, '')
    .trim();
}

/** True for the `FROM` step of a stage (`[1/6] FROM docker.io/library/busybox:latest`). */
export function isFromStep(name: string): boolean {
  return isDockerfileStep(name) && /^FROM\s/i.test(stepInstruction(name));
}

/** The image a `FROM` step names, as BuildKit printed it (`docker.io/library/busybox:latest`). */
export function fromStepImage(name: string): string | undefined {
  if (!isFromStep(name)) return undefined;
  return stepInstruction(name).split(/\s+/)[1] || undefined;
}

/** The fields of a vertex the counts look at. */
export interface StepCountInput {
  name: string;
  cached: boolean;
  completedMs: number;
}

/** Dockerfile steps of a build (one entry per vertex digest) and how many of them were cached. */
export function countDockerfileSteps(vertices: Iterable<StepCountInput>): { total: number; cached: number } {
  let total = 0;
  let cached = 0;
  for (const v of vertices) {
    if (!isDockerfileStep(v.name)) continue;
    if (!v.cached && v.completedMs <= 0) continue;
    total++;
    if (v.cached) cached++;
  }
  return { total, cached };
}
