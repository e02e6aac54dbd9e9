import { isAbsolute, relative, sep } from 'node:path';

/**
 * The path of the Dockerfile in a scan of `contextDir` when it is a regular file of it (the
 * builder then reads it from the snapshot), else '' (outside the context, or excluded by
 * .dockerignore: it travels as content).
 */
export function dockerfileEntry(
  entries: ReadonlyArray<{ path: string; type: string }>,
  contextDir: string,
  dockerfileAbs: string | undefined,
): string {
  if (!dockerfileAbs) return '';
  const rel = relative(contextDir, dockerfileAbs);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return '';
  const relPosix = rel.split(sep).join('/');
  const entry = entries.find((e) => e.path === relPosix);
  return entry && (entry.type === 'file' || entry.type === 'hardlink') ? relPosix : '';
}
