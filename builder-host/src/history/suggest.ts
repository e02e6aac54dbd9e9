import { isDockerfileStep, stepInstruction } from '../../../src/protocol/dockerfile-steps.js';
import { type InstallTool, installIn } from '../../../src/smart-cache/installers.js';

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
