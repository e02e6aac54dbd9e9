export { type ContextReads, contextReads } from './context-reads.js';
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
