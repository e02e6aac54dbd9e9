/**
 * Which changed files a COPY/ADD step copies: the sources parsed from a BuildKit vertex name
 * (`[build 3/4] COPY src/ ./src`) matched against context-relative paths. Used to show why a
 * step rebuilt. The parsing itself lives in src/protocol/copy-sources.ts, shared with builder-host.
 */

import { parseVertexName } from '../progress/index.js';
import { copyInstructionSources, pathsCoveredBySources } from '../protocol/copy-sources.js';

/**
 * The context sources of a COPY/ADD vertex name; `undefined` when the step copies nothing from
 * the context (not COPY/ADD, `--from=`, only URLs or heredocs). Flags such as `--chown=` are skipped.
 */
export function copySources(name: string): string[] | undefined {
  return copyInstructionSources(parseVertexName(name).instruction);
}

/** The paths of `paths` that a COPY/ADD step named `names` (a vertex name) copies from the context. */
export function pathsUnderSources(names: string, paths: string[]): string[] {
  const sources = copySources(names);
  return sources ? pathsCoveredBySources(sources, paths) : [];
}
