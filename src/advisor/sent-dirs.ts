/**
 * How much of the context sits in directories that are usually not meant to be sent (node_modules,
 * .git, build outputs): the same walk rules as the build's (src/context-sync/scan.ts `admit`), only
 * counting, and bounded so a huge directory costs a fixed amount of time.
 */
import { type Dirent, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PatternMatcher, readIgnorePatterns } from '../context-sync/ignore.js';
import { admit, walkable } from '../context-sync/scan.js';
import type { SentDir } from './rules.js';

/** Entries looked at under each directory measured: beyond it, its counts are lower bounds. */
export const SENT_DIRS_LIMIT = 100_000;

/**
 * The top-level directories among `names` that a build of `contextDir` (with `dockerfileAbs`'s
 * ignore file) sends, with the files and bytes under each it sends; and whether an ignore file applies.
 */
export async function sentDirs(
  contextDir: string,
  dockerfileAbs: string | undefined,
  names: readonly string[],
  limit = SENT_DIRS_LIMIT,
): Promise<{ dirs: SentDir[]; ignoreFile: string | undefined }> {
  const { patterns, source } = await readIgnorePatterns(contextDir, dockerfileAbs);
  const matcher = patterns.length ? new PatternMatcher(patterns) : undefined;
  const dirs: SentDir[] = [];
  for (const name of names) {
    const st = lstatSync(join(contextDir, name), { throwIfNoEntry: false });
    if (!st?.isDirectory() || admit(name, true, matcher) === 'skip') continue;
    const out: SentDir = { dir: name, files: 0, bytes: 0, complete: true };
    let budget = limit;
    const stack = [name];
    while (stack.length > 0) {
      const rel = stack.pop()!;
      let dirents: Dirent[];
      try {
        dirents = readdirSync(join(contextDir, rel), { withFileTypes: true });
      } catch {
        continue;
      }
      for (const d of dirents) {
        if (--budget < 0) {
          out.complete = false;
          stack.length = 0;
          break;
        }
        if (!walkable(d)) continue;
        const child = `${rel}/${d.name}`;
        const verdict = admit(child, d.isDirectory(), matcher);
        if (verdict === 'skip') continue;
        if (d.isDirectory()) stack.push(child);
        else if (verdict === 'included') {
          out.files++;
          if (d.isFile())
            out.bytes += lstatSync(join(contextDir, child), { throwIfNoEntry: false })?.size ?? 0;
        }
      }
    }
    dirs.push(out);
  }
  return { dirs, ignoreFile: source };
}
