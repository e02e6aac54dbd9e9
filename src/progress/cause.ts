import type { StepCauseInfo } from './events.js';
import { shortDigest } from './format.js';
import { type BuildState, findStep, type StepState } from './state.js';

/** How the builder's text of a cascaded miss begins: `follows from <root instruction>: …`. */
const FOLLOWS = /^follows from (.+?): /;

/** Whether the cause is a cascade: the step missed only because a step it builds on did. */
export function isCascade(cause: StepCauseInfo): boolean {
  return Boolean(cause.rootVertex) || FOLLOWS.test(cause.text.trim());
}

/**
 * The step a cascaded miss followed: the one the builder names by vertex, or (builders that only
 * name its instruction, `follows from COPY . .: …`) the latest earlier step that ran with a cause
 * of its own and that instruction. Undefined for a miss that is its own root, or when the root is
 * not among the steps.
 */
export function causeRoot(state: BuildState, step: StepState): StepState | undefined {
  const cause = step.cause;
  if (!cause) return undefined;
  if (cause.rootVertex) {
    const root = findStep(state, cause.rootVertex);
    if (root && root.digest !== step.digest) return root;
  }
  const named = FOLLOWS.exec(cause.text.trim())?.[1];
  if (!named) return undefined;
  let found: StepState | undefined;
  for (const s of state.steps) {
    if (s.number >= step.number) break;
    if (s.cached || !s.cause || isCascade(s.cause)) continue;
    if (shortInstruction(s.instruction || s.name) === named) found = s;
  }
  return found;
}

/** An instruction on one line and cut to 60 characters, as the builder's cascade texts quote it. */
function shortInstruction(text: string, max = 60): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length <= max ? one : `${one.slice(0, max - 1)}…`;
}

/** The builder's own line for a cause, or one made from its fields when it sent none. */
export function causeText(cause: StepCauseInfo): string {
  const text = cause.text.trim();
  if (text !== '') return text.replace(/\s*\n\s*/g, ' ');
  return shortCauseText(cause);
}

/** `first +2 changed` for a list of paths and the count of paths it left out. */
function pathsText(paths: readonly string[], more: number): string {
  if (paths.length === 0) return more > 0 ? `${more} files` : 'files';
  const extra = paths.length - 1 + more;
  return extra > 0 ? `${paths[0]} +${extra}` : (paths[0] ?? '');
}

/**
 * A few words for narrow places (the layer graph's rows): `src/app.js +2 changed`,
 * `arg VERSION changed`, `Dockerfile line 7 changed`, `base image changed`, `--no-cache`,
 * `first build`, `evicted`, `after COPY . .` (a cascade); unknown kinds fall back to the builder's text.
 */
export function shortCauseText(cause: StepCauseInfo): string {
  // A cascade: the step only followed a missed step it builds on, which the builder names.
  const follows = FOLLOWS.exec(cause.text.trim());
  if (follows) return `after ${follows[1]}`;
  switch (cause.kind) {
    case 'changed_files':
      return `${pathsText(cause.paths, cause.morePaths)} changed`;
    case 'build_arg':
      return cause.name ? `arg ${cause.name} changed` : 'build arg changed';
    case 'dockerfile_changed':
      return cause.line > 0 ? `Dockerfile line ${cause.line} changed` : 'Dockerfile changed';
    case 'base_image':
      return cause.digest ? `base image now ${shortDigest(cause.digest)}` : 'base image changed';
    case 'no_cache':
      return '--no-cache';
    case 'first_build':
      return 'first build';
    case 'evicted':
      return 'evicted from cache';
    default:
      return cause.text.trim().replace(/\s*\n\s*/g, ' ') || cause.kind || 'unknown';
  }
}

/** Display names of cause kinds, for breakdowns (`files 10 · arg 2`). */
export const CAUSE_KIND_LABELS: Readonly<Record<string, string>> = {
  changed_files: 'files',
  build_arg: 'arg',
  dockerfile_changed: 'Dockerfile',
  base_image: 'base',
  no_cache: 'no-cache',
  first_build: 'first',
  evicted: 'evicted',
  unknown: 'unknown',
};
