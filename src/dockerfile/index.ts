export {
  type ContextReads,
  contextReads,
  copyWords,
  type InstructionRead,
  instructionReads,
  REMOTE_SOURCE,
  type ScopedInstruction,
  UnknownValue,
  walkInstructions,
} from './context-reads.js';
export { flagsOf } from './flags.js';
export {
  type ArgPlacement,
  argMovableBelow,
  argPlacements,
  type DfArg,
  type DfInstr,
  type DfModel,
  type DfStage,
  escapeRe,
  matchScore,
  normalizeVertexInstruction,
  parseDockerfile,
  printedFrom,
  references,
} from './model.js';
