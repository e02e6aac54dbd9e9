/**
 * Golden screens of the views' tests, kept in `src/tui/goldens/NAME.txt`. `UPDATE_GOLDEN=1` rewrites
 * them (review the diff); a missing one is written and fails.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';

/** Where the goldens are. */
export const GOLDENS = join(dirname(fileURLToPath(import.meta.url)), 'goldens');

/** A rendered frame as a golden keeps it: no colours, no trailing blanks (Ink trims nothing). */
export function cleanFrame(frame: string): string {
  return stripVTControlCharacters(frame)
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

/** Asserts that `actual` is the golden `name` (see above for how goldens are made). */
export function golden(name: string, actual: string): void {
  const file = join(GOLDENS, `${name}.txt`);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    mkdirSync(GOLDENS, { recursive: true });
    writeFileSync(file, `${actual}\n`);
    if (process.env.UPDATE_GOLDEN !== '1') assert.fail(`wrote missing ${file}; review it and rerun`);
    return;
  }
  assert.equal(`${actual}\n`, readFileSync(file, 'utf8'), `${name} differs from goldens/${name}.txt`);
}
