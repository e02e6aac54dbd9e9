/** Build-context sync: Docker-exact walk and ignore rules, the stat-keyed hash index, manifests. */

/** Where the hash index lives by default. */
export { dockerfileEntry } from './dockerfile-entry.js';
/** A build-context problem the user can fix; `code` is stable (context_not_found, context_not_dir, ...). */
export { ContextError, type ContextErrorCode } from './errors.js';
export { defaultIndexDir } from './hash-index.js';
/** Patterns of the ignore file a BuildKit build would use, and that file's path (or undefined). */
/** Parses .dockerignore text like moby's ReadAll; the matcher mirrors moby's PatternMatcher. */
export { IgnorePatternError, PatternMatcher, parseDockerignore, readIgnorePatterns } from './ignore.js';
/** Renderings of a manifest for `depot context ls [--json]`. */
export { type ContextListItem, contextListJson, contextTotals, formatContextList } from './list.js';
/** Scan a context into a canonical manifest plus the files that hold each blob. */
export { type ContextScan, type HashProgressListener, type ScanOptions, scanContext } from './scan.js';
/** Re-examines only the changed paths of a previous scan; same result as a fresh scanContext. */
export { MAX_INCREMENTAL_CHANGES, updateScan } from './update-scan.js';
/** The `depot dev` context watcher (chokidar, the build's ignore rules, polling fallback). */
export {
  type ContextWatcher,
  type ContextWatcherOptions,
  createContextWatcher,
  isEditorTemp,
} from './watcher.js';
