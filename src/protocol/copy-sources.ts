/**
 * Which context paths a COPY/ADD instruction copies: its sources parsed from the instruction text
 * (`COPY --chown=app src/ ./src`, no vertex prefix) matched against context-relative paths.
 * Pure and dependency-free so both the CLI (src/dev) and builder-host (why a step missed) share it.
 */
import { posix } from 'node:path';

/**
 * The context sources of a COPY/ADD instruction; `undefined` when it copies nothing from the
 * context (not COPY/ADD, `--from=`, only URLs or heredocs). Flags such as `--chown=` are skipped.
 */
export function copyInstructionSources(instruction: string): string[] | undefined {
  const m = /^(COPY|ADD)\s+(.*)$/is.exec(instruction.trim());
  if (!m) return undefined;
  const isAdd = (m[1] ?? '').toUpperCase() === 'ADD';
  let rest = m[2] ?? '';
  for (;;) {
    const flag = /^--([a-z-]+)(?:=(\S*))?\s*/i.exec(rest);
    if (!flag) break;
    if ((flag[1] ?? '').toLowerCase() === 'from') return undefined;
    rest = rest.slice(flag[0].length);
  }
  const args = splitArgs(rest.trim());
  // The last argument is the destination.
  const sources = args
    .slice(0, -1)
    .filter((s) => !s.startsWith('<<'))
    .filter((s) => !(isAdd && (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^git@/.test(s))));
  return sources.length > 0 ? sources : undefined;
}

/** The paths of `paths` (context-relative) that any of `sources` (COPY/ADD sources) covers. */
export function pathsCoveredBySources(sources: readonly string[], paths: readonly string[]): string[] {
  if (sources.length === 0) return [];
  const matchers = sources.map(sourceMatcher);
  return paths.filter((p) => {
    const path = normalizeContextPath(p);
    return matchers.some((match) => match(path));
  });
}

function splitArgs(text: string): string[] {
  if (text.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed;
    } catch {
      // Not JSON after all: BuildKit treats it as shell form, so do we.
    }
  }
  return text.split(/\s+/).filter(Boolean);
}

/** Context-relative, no leading `./` or `/`, no trailing `/`; '' is the whole context. */
export function normalizeContextPath(p: string): string {
  const n = posix.normalize(p.replace(/\\/g, '/'));
  const stripped = n.replace(/^\/+/, '').replace(/\/+$/, '');
  return stripped === '.' ? '' : stripped;
}

function sourceMatcher(source: string): (path: string) => boolean {
  const src = normalizeContextPath(source);
  if (src === '') return () => true;
  if (!/[*?[]/.test(src)) return (p) => p === src || p.startsWith(`${src}/`);
  // A wildcard source copies every match whole, directories included: test the path and its parents.
  const re = globToRegExp(src);
  return (p) => {
    const parts = p.split('/');
    for (let i = parts.length; i > 0; i--) {
      if (re.test(parts.slice(0, i).join('/'))) return true;
    }
    return false;
  };
}

/** Go's filepath.Match syntax (`*`, `?`, `[…]`, `\` escapes) plus `**` across directories. */
function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*') {
      if (glob[i + 1] === '*') {
        out += '.*';
        i++;
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) out += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/^\^/, '!');
        out += body.startsWith('!') ? `[^${escapeClass(body.slice(1))}]` : `[${escapeClass(body)}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      out += escapeRe(glob[i + 1] ?? '');
      i++;
    } else out += escapeRe(c);
  }
  return new RegExp(`^${out}$`);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function escapeClass(body: string): string {
  return body.replace(/[\\\]^]/g, '\\$&');
}
