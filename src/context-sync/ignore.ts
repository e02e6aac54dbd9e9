/** .dockerignore files of a build: which one applies, read from disk (the matcher lives in src/protocol). */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { IgnorePatternError, PatternMatcher, parseDockerignoreLines } from '../protocol/ignore-patterns.js';
import { ContextError, errnoCode } from './errors.js';

export {
  cleanPath,
  type IgnorePattern,
  IgnorePatternError,
  PatternMatcher,
  parseDockerignore,
  parseDockerignoreLines,
} from '../protocol/ignore-patterns.js';

/** How an ignore file is named in messages: relative to the working directory when inside it. */
function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/**
 * The patterns of ignore file `file` (its text given), each checked to compile: a bad one is a
 * ContextError('invalid_ignore_pattern') naming the file and the line, which the user fixes.
 */
export function checkedPatterns(file: string, text: string): string[] {
  const lines = parseDockerignoreLines(text);
  for (const l of lines) {
    try {
      new PatternMatcher([l.pattern]);
    } catch (err) {
      if (!(err instanceof IgnorePatternError)) throw err;
      throw new ContextError(
        'invalid_ignore_pattern',
        `${displayPath(file)} line ${l.line}: bad pattern ${JSON.stringify(l.text)}: ${err.reason} (fix or remove the line)`,
        { cause: err },
      );
    }
  }
  return lines.map((l) => l.pattern);
}

/**
 * Reads the ignore patterns a BuildKit build of `contextDir` with `dockerfile` uses:
 * "<Dockerfile>.dockerignore" next to the Dockerfile if it exists, else "<context>/.dockerignore".
 * Rejects with ContextError('invalid_ignore_pattern') when a pattern does not compile.
 */
export async function readIgnorePatterns(
  contextDir: string,
  dockerfile?: string,
): Promise<{ patterns: string[]; source: string | undefined }> {
  const candidates: string[] = [];
  if (dockerfile) candidates.push(`${resolve(dockerfile)}.dockerignore`);
  candidates.push(join(resolve(contextDir), '.dockerignore'));
  for (const file of candidates) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') continue;
      throw new ContextError(
        'context_unreadable',
        `cannot read ignore file ${file}: ${code ?? String(err)}`,
        {
          cause: err,
        },
      );
    }
    return { patterns: checkedPatterns(file, text), source: file };
  }
  return { patterns: [], source: undefined };
}
