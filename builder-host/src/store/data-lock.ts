import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { processAlive } from '../../../src/durable-file/index.js';
import { StoreError } from './errors.js';

/**
 * Who uses a data directory, in `<data>/run/`: each builder process registers `builder-<pid>`, and
 * whatever deletes or moves store files (gc, fsck, a serving builder's own collection) holds
 * `maintenance.lock` and runs only when no other live builder is registered. Both sides write their
 * file first and look for the other's second, so of two that start together at least one sees the
 * other. Files of dead processes (kill -9) are ignored and replaced: no stale lock outlives a crash.
 */

const LOCK = 'maintenance.lock';
// Lock files this process holds: one with our pid that is not here was left by a dead process whose pid we reuse.
const heldHere = new Set<string>();

async function lockHolder(dir: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(join(dir, LOCK), 'utf8')).trim());
    if (pid === process.pid) return heldHere.has(join(dir, LOCK)) ? pid : undefined;
    return processAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Other live builder processes registered on the data directory. */
export async function otherBuilders(dataDir: string): Promise<number[]> {
  const dir = join(dataDir, 'run');
  const out: number[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = /^builder-(\d+)$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid) continue;
    if (processAlive(pid)) out.push(pid);
    else await unlink(join(dir, name)).catch(() => {});
  }
  return out;
}

/**
 * Registers this process as a builder of the data directory; waits (up to `waitMs`) while a
 * gc or fsck holds it. Returns the unregister function.
 */
export async function registerBuilder(dataDir: string, waitMs = 60_000): Promise<() => Promise<void>> {
  const dir = join(dataDir, 'run');
  await mkdir(dir, { recursive: true });
  const mine = join(dir, `builder-${process.pid}`);
  const deadline = Date.now() + waitMs;
  for (;;) {
    await (await open(mine, 'w')).close();
    const holder = await lockHolder(dir);
    if (holder === undefined) return () => unlink(mine).catch(() => {});
    await unlink(mine).catch(() => {});
    if (Date.now() > deadline)
      throw new StoreError(
        'data_dir_busy',
        `${dataDir} is locked by a gc or fsck (pid ${holder}): wait for it to finish`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Takes the maintenance lock for deleting or moving store files. Throws StoreError
 * 'data_dir_busy' when another live builder serves the directory or another gc/fsck runs.
 */
export async function acquireMaintenance(dataDir: string): Promise<() => Promise<void>> {
  const dir = join(dataDir, 'run');
  await mkdir(dir, { recursive: true });
  const file = join(dir, LOCK);
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      heldHere.add(file);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 3) throw err;
      const holder = await lockHolder(dir);
      if (holder !== undefined)
        throw new StoreError(
          'data_dir_busy',
          `another gc or fsck (pid ${holder}) is working on ${dataDir}: wait for it to finish`,
        );
      // A dead holder's lock: move it aside (only one taker's rename succeeds), then retry.
      await rename(file, `${file}.stale-${process.pid}`)
        .then(() => unlink(`${file}.stale-${process.pid}`))
        .catch(() => {});
    }
  }
  const release = async () => {
    heldHere.delete(file);
    const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (pid === process.pid) await unlink(file).catch(() => {});
  };
  const others = await otherBuilders(dataDir);
  if (others.length) {
    await release();
    throw new StoreError(
      'data_dir_busy',
      `a builder (pid ${others.join(', ')}) is serving ${dataDir}: stop it first, or let it collect itself (serve --gc-keep-storage)`,
    );
  }
  return release;
}
