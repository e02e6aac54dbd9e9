/**
 * Which part of the context a build syncs: only what its Dockerfile can read (COPY/ADD and
 * bind-mount sources, the Dockerfile and .dockerignore), as BuildKit's own frontend asks for it,
 * or the whole context when that cannot be known. `DEPOT_CONTEXT=full` always takes everything.
 */
import { isAbsolute, relative, sep } from 'node:path';
import { coveredBy, type IncludePattern, includeMatch } from '../protocol/follow-paths.js';

export async function contextScope(
  inputs: {
    contextDir: string;
    dockerfileAbs: string | undefined;
    buildArgs: Readonly<Record<string, string>>;
  },
  dockerfile: string,
): Promise<string[] | undefined> {
  if (process.env.DEPOT_CONTEXT === 'full') return undefined;
  const { contextReads } = await import('./context-reads.js');
  const reads = contextReads(dockerfile, inputs.buildArgs);
  if (reads.kind === 'all') return undefined;
  const scope = [...reads.paths, '.dockerignore'];
  if (inputs.dockerfileAbs) {
    const rel = relative(inputs.contextDir, inputs.dockerfileAbs);
    if (rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel))
      scope.push(rel.split(sep).join('/'));
  }
  return scope;
}

/** True when a scan of `scope` may be sent to a builder with these capabilities. */
export function builderTakesScope(capabilities: readonly string[]): boolean {
  return capabilities.includes('context.scoped');
}

/** True when a change of `path` (context-relative; '.' for anything) can change a scan of `include`. */
export function touchesScope(include: readonly IncludePattern[], path: string): boolean {
  return path === '.' || coveredBy(include, path) || includeMatch(include, path) !== undefined;
}
