import { isDockerfileStep, stepInstruction } from '../../../src/protocol/dockerfile-steps.js';
import { type InstallTool, installIn } from '../../../src/smart-cache/installers.js';
import { argMovableBelow } from './explain.js';
import type { StepCauseKind } from './types.js';

/** The instruction of a vertex name without its "[stage n/m] " prefix, e.g. "RUN npm ci". */
export function instructionOf(name: string): string {
  return stepInstruction(name);
}

/** Stage and position of a vertex name "[stage n/m] …" (stage '' for "[n/m]"), if it has one. */
export function positionOf(name: string): { stage: string; n: number } | undefined {
  const m = /^\[(?:(.*?)\s+)?(\d+)\/\d+\]/.exec(name);
  return m ? { stage: m[1] ?? '', n: Number(m[2]) } : undefined;
}

/** True for vertices of Dockerfile instructions: the shared definition (src/protocol/dockerfile-steps). */
export { isDockerfileStep };

const COPY_ALL = /^(COPY|ADD)\s+(--\S+\s+)*\.\/?\s+\S+\s*$/i;

/** True for an instruction that copies the whole context (`COPY . .`, `ADD ./ /app`). */
export function copiesWholeContext(instr: string): boolean {
  return COPY_ALL.test(instr);
}

/** The dependency install a RUN instruction runs, if any (installers.ts). */
export function installer(instr: string): InstallTool | undefined {
  if (!/^RUN\s/i.test(instr)) return undefined;
  return installIn(instr);
}

/** What a cache buster looks like, for the suggestion rules. */
export interface BusterFacts {
  /** The step's instruction, e.g. "COPY . .". */
  instr: string;
  /** Instructions just before and after it in the same stage of its latest build, when known. */
  before?: string;
  after?: string;
  misses: number;
  causes: { kind: StepCauseKind | string; count: number }[];
  /** The build argument named most often by its `build_arg` causes. */
  buildArg?: string;
  /** The Dockerfile of its latest miss, when kept: where the ARG sits and who uses it. */
  dockerfile?: string;
}

/** A concrete change that would keep the step cached, or '' when no rule knows one. */
export function suggestFor(f: BusterFacts): string {
  const copyThenInstall =
    (COPY_ALL.test(f.instr) && f.after && installer(f.after)) ||
    (f.before && COPY_ALL.test(f.before) && installer(f.instr));
  if (copyThenInstall)
    return `copy the package manifests (${copyThenInstall.manifests.join(', ')}) first, install, then copy the rest`;
  const args = f.causes.find((c) => c.kind === 'build_arg')?.count ?? 0;
  // Only when steps that do not use the ARG sit between it and its first use: an ARG directly above
  // the step that uses it is already where it belongs.
  if (f.buildArg && args * 2 > f.misses && f.dockerfile && argMovableBelow(f.dockerfile, f.buildArg, f.instr))
    return `move ARG ${f.buildArg} below the steps that don't use it`;
  return '';
}
