import { existsSync, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { contextListJson, contextTotals, formatContextList, scanContext } from '../context-sync/index.js';
import { formatBytes } from '../progress/index.js';
import { snapshotId } from '../protocol/merkle.js';
import { DepotError } from '../session/index.js';

/** `depot context ls`: exactly the entries a build of this context would send. */
export async function runContextLs(
  path: string,
  opts: { file?: string; json?: boolean; id?: boolean },
): Promise<void> {
  const abs = resolve(path);
  if (!existsSync(abs) || !statSync(abs).isDirectory())
    throw new DepotError('context_not_found', `build context not found: ${path}`);
  const contextDir = realpathSync(abs);
  const dockerfile = opts.file ? resolve(opts.file) : resolve(contextDir, 'Dockerfile');
  const scan = await scanContext({ contextDir, dockerfile });
  if (opts.id) process.stdout.write(`${snapshotId(scan.entries)}\n`);
  else if (opts.json) process.stdout.write(`${JSON.stringify(contextListJson(scan.entries), null, 2)}\n`);
  else {
    // The JSON stays a plain array of entries; the totals are for people reading the table.
    const t = contextTotals(scan.entries);
    process.stdout.write(
      `${formatContextList(scan.entries)}total: ${t.entries} entr${t.entries === 1 ? 'y' : 'ies'}, ${t.files} file${t.files === 1 ? '' : 's'}, ${formatBytes(t.bytes)}\n`,
    );
  }
}
