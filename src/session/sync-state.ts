import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileDurably } from '../durable-file/index.js';
import {
  buildTree,
  type ContextEntry,
  canonicalManifest,
  parseCanonicalManifest,
} from '../protocol/index.js';
import type { SyncBase } from './client.js';

/** Directory for the client's per-builder sync state. */
export function syncStateDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'depot', 'sync');
}

function stateFile(builderId: string, project: string, contextDir: string): string {
  const key = createHash('sha256').update(`${builderId}\0${project}\0${contextDir}`).digest('hex');
  return join(syncStateDir(), `${key.slice(0, 32)}.manifest`);
}

/** The last snapshot this builder acknowledged for a context, if any and intact. */
export async function loadSyncBase(
  builderId: string,
  project: string,
  contextDir: string,
): Promise<SyncBase | undefined> {
  try {
    const text = await readFile(stateFile(builderId, project, contextDir), 'utf8');
    const nl = text.indexOf('\n');
    const id = text.slice(0, nl);
    const body = text.slice(nl + 1);
    // A damaged file (or one from a client of another snapshot id scheme) must never produce a
    // wrong delta: the id (the Merkle root of the manifest's tree) has to match the content.
    const entries = parseCanonicalManifest(body);
    const tree = buildTree(entries);
    if (tree.id !== id) return undefined;
    return { snapshotId: id, entries, nodes: tree.nodes };
  } catch {
    return undefined;
  }
}

/** Records the snapshot a builder acknowledged (temp file + rename). */
export async function saveSyncBase(
  builderId: string,
  project: string,
  contextDir: string,
  base: { snapshotId: string; entries: ContextEntry[] },
): Promise<void> {
  const file = stateFile(builderId, project, contextDir);
  await mkdir(syncStateDir(), { recursive: true });
  // Only a cache of what the builder acknowledged: atomic, but not worth an fsync.
  await writeFileDurably(file, `${base.snapshotId}\n${canonicalManifest(base.entries)}`, { fsync: false });
}
