/** The build context as the smart cache's planner sees it: files on disk that the ignore rules keep. */
import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PatternMatcher, readIgnorePatterns } from '../context-sync/ignore.js';
import type { ContextFiles } from './plan.js';

/** Entries looked at under a directory before concluding it sends something. */
const UNDER_LIMIT = 10_000;

export async function contextFiles(
  contextDir: string,
  dockerfileAbs: string | undefined,
): Promise<ContextFiles> {
  const { patterns } = await readIgnorePatterns(contextDir, dockerfileAbs);
  const matcher = new PatternMatcher(patterns);
  const kept = (path: string) => !matcher.matches(path);
  const isFile = (path: string) => {
    try {
      return statSync(join(contextDir, path)).isFile();
    } catch {
      return false;
    }
  };
  return {
    has: (path) => isFile(path) && kept(path),
    hasUnder(dir) {
      // Any entry under `dir` the ignore rules keep is sent (an excluded directory can still have
      // re-included entries, `!node_modules/x`, so a match on the directory alone is not enough).
      let seen = 0;
      const walk = (rel: string): boolean => {
        let names: string[];
        try {
          names = readdirSync(join(contextDir, rel));
        } catch {
          return false;
        }
        for (const name of names) {
          if (++seen > UNDER_LIMIT) return true;
          const p = `${rel}/${name}`;
          if (kept(p)) return true;
          if (matcher.hasExclusions && walk(p)) return true;
        }
        return false;
      };
      try {
        if (!statSync(join(contextDir, dir)).isDirectory()) return false;
      } catch {
        return false;
      }
      return kept(dir) || walk(dir);
    },
    read: (path) => readFile(join(contextDir, path), 'utf8'),
  };
}
