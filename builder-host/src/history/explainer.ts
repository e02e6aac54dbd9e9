import type { StepCause, StepCauseKind, StepExplainer } from './types.js';

/** A StepCause with every field set. */
export function stepCause(kind: StepCauseKind, text: string, fields: Partial<StepCause> = {}): StepCause {
  return { kind, paths: [], morePaths: 0, name: '', line: 0, digest: '', text, ...fields };
}

/** The explainer used until history/explain.ts is wired in: only what needs no analysis. */
export const trivialExplainer: StepExplainer = {
  explain(input) {
    if (input.noCache) return stepCause('no_cache', 'the build ran with --no-cache');
    if (!input.previous) return stepCause('first_build', `first build of project ${input.project}`);
    return stepCause('unknown', 'no cause found');
  },
};
