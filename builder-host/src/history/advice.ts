/**
 * A cache buster's suggestion: the Dockerfile advisor's finding about the buster's step, run on
 * the Dockerfile of its latest miss. One rule set: `depot check` and Stats say the same thing.
 */
import { advise, type Finding, sameInstruction } from '../../../src/advisor/index.js';
import type { ContextFiles } from '../../../src/smart-cache/plan.js';
import type { StepCauseKind } from './types.js';

/**
 * The builder's view of a context it does not have at hand: no file is known to be sent. The
 * advisor then keeps only what the Dockerfile alone shows (a whole-context copy before an install,
 * apt-get, ADD of a URL, ARG placement, unpinned base images) and says nothing that depends on the
 * files (lockfiles, directory copies, what --smart-cache would do).
 */
export const UNKNOWN_CONTEXT: ContextFiles = {
  has: () => false,
  hasUnder: () => false,
  read: (path) => Promise.reject(new Error(`${path}: the context is not at hand`)),
};

/** What a cache buster looks like, for choosing the finding about it. */
export interface BusterFacts {
  /** The step's instruction, e.g. "COPY . .". */
  instr: string;
  misses: number;
  causes: { kind: StepCauseKind | string; count: number }[];
  /** The build argument named most often by its `build_arg` causes. */
  buildArg?: string;
}

/** The suggestion of a buster, with the rule and finding it comes from ('' when none applies). */
export interface BusterAdvice {
  suggestion: string;
  rule: string;
  finding: string;
}

export const NO_ADVICE: BusterAdvice = { suggestion: '', rule: '', finding: '' };

/**
 * The finding of `findings` that is about the buster's step: one naming it first, else one whose
 * `affects` lists it. A finding about an ARG only applies when build-argument changes caused most
 * of the misses and, when the history names the argument, it is that ARG: a step missing for
 * changed files is not helped by moving an ARG.
 */
export function adviceFor(f: BusterFacts, findings: readonly Finding[]): BusterAdvice {
  const args = f.causes.find((c) => c.kind === 'build_arg')?.count ?? 0;
  const relevant = (x: Finding) =>
    x.rule !== 'arg-placement' ||
    (args * 2 > f.misses && (!f.buildArg || sameInstruction(x.instruction, `ARG ${f.buildArg}`)));
  const hit =
    findings.find((x) => relevant(x) && x.instruction && sameInstruction(f.instr, x.instruction)) ??
    findings.find((x) => relevant(x) && x.affects?.some((a) => sameInstruction(f.instr, a)));
  return hit ? { suggestion: hit.fix, rule: hit.rule, finding: hit.message } : NO_ADVICE;
}

/** Dockerfiles whose findings are kept between Stats calls (the dashboard asks every few seconds). */
const CACHED = 64;

/**
 * The advisor's findings for a recorded Dockerfile and target, cached by both (the findings depend
 * on nothing else under UNKNOWN_CONTEXT). A Dockerfile the advisor cannot read (a target it lacks)
 * has no findings.
 */
export function createDockerfileAdvisor(): (dockerfile: string, target: string) => Promise<Finding[]> {
  const cache = new Map<string, Promise<Finding[]>>();
  return (dockerfile, target) => {
    const key = `${target}\0${dockerfile}`;
    let found = cache.get(key);
    if (found) {
      // Most recently used last, so the oldest goes first.
      cache.delete(key);
    } else {
      found = advise({
        dockerfile,
        files: UNKNOWN_CONTEXT,
        contextUnknown: true,
        ...(target ? { target } : {}),
      }).catch(() => []);
      if (cache.size >= CACHED) cache.delete(cache.keys().next().value as string);
    }
    cache.set(key, found);
    return found;
  };
}
