/**
 * Which part of the context a build syncs: only what its Dockerfile can read (COPY/ADD and
 * bind-mount sources, the Dockerfile and .dockerignore), as BuildKit's own frontend asks for it,
 * or the whole context when that cannot be known. `DEPOT_CONTEXT=full` always takes everything.
 */
import { isAbsolute, relative, sep } from 'node:path';
import type { BuildInputs } from './build.js';

export async function contextScope(
  inputs: Pick<BuildInputs, 'contextDir' | 'dockerfileAbs' | 'buildArgs'>,
  dockerfile: string,
): Promise<string[] | undefined> {
  if (process.env.DEPOT_CONTEXT === 'full') return undefined;
  const { contextReads } = await import('../dockerfile/index.js');
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
