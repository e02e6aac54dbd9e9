/**
 * The paths BuildKit asks a session for ("followpaths" and "include-patterns" of a DiffCopy) and
 * what they take in, by fsutil's rules: a pattern is matched component by component with Go's
 * filepath.Match; a path a pattern matches is taken with everything below it; a directory a pattern
 * may match below is walked (and sent when something below it is). Symlinks met on the way to a
 * follow path are followed, their targets taken too.
 *
 * One implementation for both ends: the client walks only what the Dockerfile can read, and the
 * builder serves (and checks) what the engine asks for, by the same rules.
 */

/** A build's code when the engine asked a scoped context for a path it does not hold. */
export const CONTEXT_INCOMPLETE = 'context_incomplete';

/** Go's filepath.Match for one '/'-separated path, compiled to a RegExp (undefined when malformed). */
function globRegExp(pattern: string): RegExp | undefined {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '\\') {
      i++;
      if (i >= pattern.length) return undefined;
      re += `\\u${pattern.charCodeAt(i).toString(16).padStart(4, '0')}`;
    } else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) return undefined;
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\(.)/g, '\\$1')}]`;
      i = end;
    } else re += ch.replace(/[.+^${}()|\]]/g, '\\$&');
  }
  try {
    return new RegExp(`${re}$`, 'u');
  } catch {
    return undefined;
  }
}

/** One include pattern, compiled. */
export interface IncludePattern {
  /** The pattern's components; 0 for the whole tree ('', '.', '/'). */
  parts: number;
  /** Regexps of the pattern cut to its first k components, k = 1..parts. */
  prefixes: (RegExp | undefined)[];
}

/** Context-relative form of a pattern: no leading './' or '/', no trailing '/'; '' is the whole tree. */
export function cleanFollowPath(pattern: string): string {
  const parts: string[] = [];
  for (const p of pattern.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return parts.join('/');
}

export function compileInclude(pattern: string): IncludePattern {
  const clean = cleanFollowPath(pattern);
  if (clean === '') return { parts: 0, prefixes: [] };
  const parts = clean.split('/');
  const prefixes = parts.map((_, k) => globRegExp(parts.slice(0, k + 1).join('/')));
  return { parts: parts.length, prefixes };
}

/**
 * fsutil's include test of one path: `full` when a pattern matches the path itself (everything
 * below an included directory is included), `partial` when the path is a directory a pattern may
 * match below, else undefined.
 */
export function includeMatch(
  patterns: readonly IncludePattern[],
  path: string,
): 'full' | 'partial' | undefined {
  const depth = path.split('/').length;
  let partial = false;
  for (const p of patterns) {
    if (p.parts === 0) return 'full';
    if (p.parts > depth) {
      if (p.prefixes[depth - 1]?.test(path)) partial = true;
    } else if (p.parts === depth && p.prefixes[depth - 1]?.test(path)) return 'full';
  }
  return partial ? 'partial' : undefined;
}

/** True when `path` (or a pattern written as a path) lies within what `patterns` take in. */
export function coveredBy(patterns: readonly IncludePattern[], path: string): boolean {
  const clean = cleanFollowPath(path);
  if (clean === '') return patterns.some((p) => p.parts === 0);
  const parts = clean.split('/');
  for (let k = 1; k <= parts.length; k++) {
    if (includeMatch(patterns, parts.slice(0, k).join('/')) === 'full') return true;
  }
  return false;
}

/** What a lookup knows of a path: enough to follow symlinks. */
export interface PathKind {
  type: string;
  link: string;
}

/**
 * fsutil's FollowLinks: each follow path, with the symlinks met on the way to it (within the tree
 * `lookup` describes) followed and added, their targets too. Paths come back cleaned.
 */
export function resolveFollowPaths(
  lookup: (path: string) => PathKind | undefined,
  paths: readonly string[],
): string[] {
  const out = new Set<string>();
  const visit = (raw: string, hops: number) => {
    const parts = raw.split('/').filter((p) => p && p !== '.');
    const resolved: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      resolved.push(part);
      const cur = resolved.join('/');
      const e = lookup(cur);
      if (e?.type === 'symlink' && hops < 40) {
        out.add(cur);
        const target = e.link.startsWith('/') ? e.link : [...resolved.slice(0, -1), e.link].join('/');
        visit([target, ...parts.slice(i + 1)].join('/'), hops + 1);
        return;
      }
    }
    out.add(resolved.join('/'));
  };
  for (const p of paths) visit(p, 0);
  return [...out];
}
