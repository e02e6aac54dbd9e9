/** .dockerignore files of a build: which one applies, read from disk (the matcher lives in src/protocol). */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseDockerignore } from '../protocol/ignore-patterns.js';
import { ContextError, errnoCode } from './errors.js';

export {
  cleanPath,
  type IgnorePattern,
  IgnorePatternError,
  PatternMatcher,
  parseDockerignore,
} from '../protocol/ignore-patterns.js';

/**
 * Reads the ignore patterns a BuildKit build of `contextDir` with `dockerfile` uses:
 * "<Dockerfile>.dockerignore" next to the Dockerfile if it exists, else "<context>/.dockerignore".
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
    return { patterns: parseDockerignore(text), source: file };
  }
  return { patterns: [], source: undefined };
}
