import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildEvent } from './events.js';
import { parseEventLines } from './json.js';

/** Folder of recorded event streams (`*.jsonl`) and their expected plain output (`*.golden.txt`). */
export const FIXTURES_DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** Every recorded stream in FIXTURES_DIR: name without extension, and its events. */
export function loadFixtures(): { name: string; events: BuildEvent[] }[] {
  return readdirSync(FIXTURES_DIR)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => ({
      name: f.slice(0, -'.jsonl'.length),
      events: parseEventLines(readFileSync(join(FIXTURES_DIR, f), 'utf8')),
    }));
}
