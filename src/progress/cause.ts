import type { StepCauseInfo } from './events.js';
import { shortDigest } from './format.js';

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
  const follows = /^follows from (.+?): /.exec(cause.text.trim());
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
