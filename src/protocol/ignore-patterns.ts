/**
 * .dockerignore parsing and matching, ported from the code `docker build` (20.10, BuildKit) runs:
 * moby builder/dockerignore.ReadAll and moby pkg/fileutils.PatternMatcher (the version vendored by
 * tonistiigi/fsutil, which the docker CLI uses to send the context).
 *
 * Why not @balena/dockerignore: checked against the real engine, it differs in two ways that change
 * what is sent: it matches case-insensitively by default (Docker on Linux does not), and for patterns
 * containing `**` it tests every ancestor of a path, where moby tests only the ancestor with as many
 * components as the pattern (so `**\/foo` + `!a/b/foo/keep` sends `a/b/foo/x` with Docker, not balena).
 */

/** A .dockerignore pattern that cannot be compiled; `reason` says why, in a few lowercase words. */
export class IgnorePatternError extends Error {
  readonly code = 'invalid_ignore_pattern';
  constructor(
    readonly pattern: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`invalid .dockerignore pattern ${JSON.stringify(pattern)}: ${reason}`, options);
  }
}

/** The part of a JS RegExp syntax error a person can use: "unterminated character class". */
function regexpReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const why = msg.slice(msg.lastIndexOf(': ') + 2).trim();
  return why ? why.charAt(0).toLowerCase() + why.slice(1) : 'syntax error in pattern';
}

// Go's strings.TrimSpace set (unicode.IsSpace); unlike JS trim() it keeps U+FEFF and drops U+0085.
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const TRIM_RE = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, 'g');

/** Go's strings.TrimSpace. */
function trimSpace(s: string): string {
  return s.replace(TRIM_RE, '');
}

/** Go's path.Clean for '/'-separated paths. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = (rooted ? '/' : '') + out.join('/');
  return joined === '' ? '.' : joined;
}

/** Parses .dockerignore text into patterns exactly like moby's dockerignore.ReadAll. */
export function parseDockerignore(text: string): string[] {
  return parseDockerignoreLines(text).map((l) => l.pattern);
}

/** One pattern of a .dockerignore file and where it came from (for error messages). */
export interface IgnoreLine {
  pattern: string;
  /** 1-based line number in the file */
  line: number;
  /** the line as written, trimmed */
  text: string;
}

/** parseDockerignore, keeping each pattern's line number and text. */
export function parseDockerignoreLines(text: string): IgnoreLine[] {
  const lines = text.split('\n');
  // bufio.ScanLines: a final empty "line" after a trailing newline is not a line.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const patterns: IgnoreLine[] = [];
  lines.forEach((raw, i) => {
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (i === 0 && line.startsWith('\ufeff')) line = line.slice(1);
    // The comment test comes before trimming: "  # x" is a pattern, as in Docker.
    if (line.startsWith('#')) return;
    let pattern = trimSpace(line);
    if (pattern === '') return;
    const invert = pattern.startsWith('!');
    if (invert) pattern = trimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    patterns.push({ pattern: invert ? `!${pattern}` : pattern, line: i + 1, text: trimSpace(line) });
  });
  return patterns;
}

/** One compiled pattern of a PatternMatcher. */
export interface IgnorePattern {
  /** The cleaned pattern without its leading '!'. */
  readonly text: string;
  /** True for `!` re-inclusion patterns. */
  readonly exclusion: boolean;
  readonly dirs: number;
  readonly regexp: RegExp;
}

function isAsciiAlnum(ch: string): boolean {
  return /^[0-9A-Za-z]$/.test(ch);
}

/** Literal code point as a regexp atom valid in and out of classes, with or without the u flag. */
function literalAtom(ch: string): string {
  const cp = ch.codePointAt(0)!;
  if (cp > 0xffff) return ch;
  return `\\u${cp.toString(16).padStart(4, '0')}`;
}

/** Translates a cleaned pattern to a regexp the way moby's Pattern.compile does. */
function compilePattern(pattern: string): RegExp {
  const chars = Array.from(pattern); // Go scans runes, not UTF-16 units
  let re = '^';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++;
        // Go's '.' excludes only '\n'; JS's also excludes \r, U+2028 and U+2029.
        re += i + 1 >= chars.length ? '[^\\n]*' : '(?:[^\\n]*/)?';
      } else {
        re += '[^/]*';
      }
    } else if (ch === '?') {
      re += '[^/]';
    } else if (ch === '.' || ch === '$') {
      re += `\\${ch}`;
    } else if (ch === '\\') {
      const next = chars[i + 1];
      if (next === undefined) re += '\\\\';
      else {
        i++;
        // \d, \w, ... keep their regexp meaning as in Go; anything else is a literal.
        re += isAsciiAlnum(next) ? `\\${next}` : literalAtom(next);
      }
    } else {
      // Everything else passes through as regexp syntax, as in moby: [a-z], [^a], +, (, |, ...
      re += ch;
    }
  }
  re += '$';
  try {
    return new RegExp(re, 'u');
  } catch {
    // Go's RE2 accepts a lone ']' or '{' as a literal; JS does only without the u flag.
    try {
      return new RegExp(re);
    } catch (err) {
      throw new IgnorePatternError(pattern, regexpReason(err), { cause: err });
    }
  }
}

/** Go's filepath.Dir for a relative '/'-path. */
function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '.' : cleanPath(path.slice(0, slash));
}

/** moby's fileutils.PatternMatcher: the last matching pattern wins; parents' matches count. */
export class PatternMatcher {
  readonly patterns: readonly IgnorePattern[];
  /** True when at least one `!` pattern exists. */
  readonly hasExclusions: boolean;

  constructor(patterns: readonly string[]) {
    const list: IgnorePattern[] = [];
    for (const raw of patterns) {
      let p = trimSpace(raw);
      if (p === '') continue;
      p = cleanPath(p);
      let exclusion = false;
      if (p.startsWith('!')) {
        if (p.length === 1) throw new IgnorePatternError('!', 'a lone "!" excludes nothing');
        exclusion = true;
        p = p.slice(1);
      }
      list.push({ text: p, exclusion, dirs: p.split('/').length, regexp: compilePattern(p) });
    }
    this.patterns = list;
    this.hasExclusions = list.some((p) => p.exclusion);
  }

  /** True when `path` (relative, '/'-separated) is excluded from the context. */
  matches(path: string): boolean {
    let matched = false;
    let parentDirs: string[] | undefined;
    let parent: string | undefined;
    for (const pat of this.patterns) {
      // A pattern can only change the verdict in the direction it points.
      if (pat.exclusion !== matched) continue;
      let match = pat.regexp.test(path);
      if (!match) {
        parent ??= parentOf(path);
        if (parent !== '.') {
          parentDirs ??= parent.split('/');
          if (pat.dirs <= parentDirs.length) match = pat.regexp.test(parentDirs.slice(0, pat.dirs).join('/'));
        }
      }
      if (match) matched = !pat.exclusion;
    }
    return matched;
  }

  /**
   * Whether the walk descends into an excluded directory `dir`. fsutil (as vendored by docker 20.10)
   * descends only when some `!` pattern literally starts with "<dir>/"; a wildcard exception such as
   * `!**\/keep` does not open an excluded directory.
   */
  descendsInto(dir: string): boolean {
    if (!this.hasExclusions) return false;
    const prefix = `${dir}/`;
    return this.patterns.some((p) => p.exclusion && `${p.text}/`.startsWith(prefix));
  }
}
