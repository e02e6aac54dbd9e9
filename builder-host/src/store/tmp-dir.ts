import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { processAlive } from '../../../src/durable-file/index.js';

// Temp names carry the writer's pid so startup cleanup can tell a live process's
// in-flight file (another builder-host CLI on the same data dir) from a dead one's leftover.
const TEMP_RE = /^(\d+)-[0-9a-f]+(?:\.[a-z0-9-]+)?\.tmp$/;

/** A fresh, unique path inside `tmpDir` owned by this process; `hint` is a short [a-z0-9-] tag. */
export function tempPath(tmpDir: string, hint = 'blob'): string {
  return join(tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}.${hint}.tmp`);
}

/** Another live process; our own pid on a temp file was a dead process's (we have written nothing yet). */
const alive = (pid: number) => pid !== process.pid && processAlive(pid);

/** Removes everything in `tmpDir` not owned by a live other process; returns the names removed. */
export async function cleanStaleTemp(tmpDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(tmpDir)) {
    const m = TEMP_RE.exec(name);
    if (m && alive(Number(m[1]))) continue;
    await rm(join(tmpDir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
