/** The Dockerfile advisor: static findings about what busts a build's cache, each with its fix. */
export { type CheckJson, formatFindings, summaryLine } from './format.js';
export {
  type AdviseInput,
  advise,
  BUILD_OUTPUTS,
  NEVER_SENT,
  type SentDir,
  UnknownTargetError,
} from './rules.js';
export { sameInstruction } from './same-instruction.js';
export { SENT_DIRS_LIMIT, sentDirs } from './sent-dirs.js';
export {
  type CheckSummary,
  type Finding,
  failsAt,
  type RuleId,
  SEVERITIES,
  type Severity,
  summarize,
} from './types.js';
