import { existsSync, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { contextListJson, formatContextList, scanContext } from '../context-sync/index.js';
import { DepotError } from '../session/index.js';

/** `depot context ls`: exactly the entries a build of this context would send. */
export async function runContextLs(path: string, opts: { file?: string; json?: boolean }): Promise<void> {
  const abs = resolve(path);
  if (!existsSync(abs) || !statSync(abs).isDirectory())
    throw new DepotError('context_not_found', `build context not found: ${path}`);
  const contextDir = realpathSync(abs);
  const dockerfile = opts.file ? resolve(opts.file) : resolve(contextDir, 'Dockerfile');
  const scan = await scanContext({ contextDir, dockerfile });
  if (opts.json) process.stdout.write(`${JSON.stringify(contextListJson(scan.entries), null, 2)}\n`);
  else process.stdout.write(formatContextList(scan.entries));
}
