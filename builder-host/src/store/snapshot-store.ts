import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildTree,
  type ContextEntry,
  type DirNode,
  decodeNode,
  EMPTY_NODE,
  nodeHash,
  type TreeResult,
  walkTree,
} from '../../../src/protocol/index.js';
import { syncDir, wrapIo } from './blob-store.js';
import { digestHex, StoreError } from './errors.js';
import { tempPath } from './tmp-dir.js';

/**
 * Build-context snapshots as Merkle trees of directory nodes (see src/protocol/merkle.ts). A
 * snapshot is its root node, stored as `<root>/<hex>` under its id; every other directory node is
 * stored once by hash in `<root>/nodes/<hex>`, shared by every snapshot (of any project) that has
 * the same directory. Nodes are reached only by walking down from a root: whoever may use a root
 * may use what it references, and nothing else names a node.
 */
export interface SnapshotStore {
  /** Validates (ManifestError on failure, nothing written), stores the tree of a whole manifest and returns its id. */
  put(entries: ContextEntry[]): Promise<string>;
  /** Stores a tree whose nodes were made by `buildTree` or `applyDelta`; returns its id. */
  putTree(tree: TreeResult): Promise<string>;
  /** The entries of a stored snapshot, or undefined when unknown; throws StoreError 'invalid_digest' for a malformed id. */
  get(id: string): Promise<ContextEntry[] | undefined>;
  /** One directory node (a root or any node under one), verified against its hash; undefined when absent. */
  node(hash: string): Promise<DirNode | undefined>;
  /** True when the snapshot is stored. */
  has(id: string): Promise<boolean>;
  /** Deletes a snapshot file (collection, quarantine); returns its size, 0 when absent. A put of the same id waits for it. */
  remove(id: string): Promise<number>;
  /** Every snapshot file with its size. */
  list(): AsyncIterable<{ id: string; size: number }>;
  /** The root node's raw bytes (for checks), or undefined when absent. */
  raw(id: string): Promise<Buffer | undefined>;
  /**
   * Deletes the directory nodes no stored snapshot reaches, except those written or reused since
   * `sinceMs` (a sync storing its tree meanwhile); returns how many and their bytes.
   */
  sweepNodes(sinceMs: number): Promise<{ nodes: number; bytes: number }>;
}

/** Parsed nodes kept in memory (per builder): a delta loads only its path, and mostly from here. */
const NODE_CACHE_BYTES = 64 * 1024 * 1024;

/** A SnapshotStore over `<root>/<hex>` and `<root>/nodes/<hex>`, staging writes in `tmpDir` (same filesystem as `root`). */
export function createSnapshotStore(root: string, tmpDir: string): SnapshotStore {
  const nodesDir = join(root, 'nodes');
  const pathOf = (id: string): string => join(root, digestHex(id));
  const nodePath = (hash: string): string => join(nodesDir, digestHex(hash));
  let nodesDirMade: Promise<unknown> | undefined;

  // LRU by insertion order, bounded by the nodes' text bytes. Content-addressed, so sharing it
  // between projects shares nothing a root of theirs does not already reference.
  const cache = new Map<string, { node: DirNode; bytes: number }>();
  let cachedBytes = 0;
  const cachePut = (hash: string, node: DirNode, bytes: number) => {
    const had = cache.get(hash);
    if (had) {
      cache.delete(hash);
      cachedBytes -= had.bytes;
    }
    cache.set(hash, { node, bytes });
    cachedBytes += bytes;
    while (cachedBytes > NODE_CACHE_BYTES && cache.size > 1) {
      const [k, v] = cache.entries().next().value!;
      cache.delete(k);
      cachedBytes -= v.bytes;
    }
  };

  const has = async (id: string): Promise<boolean> => {
    const p = pathOf(id);
    try {
      return (await stat(p)).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new StoreError('io_error', `checking snapshot ${id} failed`, err);
    }
  };

  const readText = async (path: string, what: string): Promise<string | undefined> => {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StoreError('io_error', `reading ${what} failed`, err);
    }
  };

  const node = async (hash: string): Promise<DirNode | undefined> => {
    if (hash === EMPTY_NODE) return [];
    const hit = cache.get(hash);
    if (hit) {
      cache.delete(hash);
      cache.set(hash, hit);
      return hit.node;
    }
    const text =
      (await readText(nodePath(hash), `directory node ${hash}`)) ??
      (await readText(pathOf(hash), `snapshot ${hash}`));
    if (text === undefined) return undefined;
    // The name is the content's hash: a mismatch means the disk, not the client, is wrong.
    if (nodeHash(text) !== hash)
      throw new StoreError('snapshot_corrupt', `directory node ${hash} is corrupt on disk`);
    let parsed: DirNode;
    try {
      parsed = decodeNode(text);
    } catch (err) {
      throw new StoreError('snapshot_corrupt', `directory node ${hash} is corrupt on disk`, err);
    }
    cachePut(hash, parsed, text.length);
    return parsed;
  };

  /** Writes a file by content hash unless present (then refreshes its mtime for sweepNodes); true when written. */
  const writeOnce = async (final: string, text: string, what: string): Promise<boolean> => {
    const now = new Date();
    try {
      await utimes(final, now, now);
      return false;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw wrapIo(err, `storing ${what} failed`);
    }
    const tmp = tempPath(tmpDir, 'snapshot');
    try {
      await writeFile(tmp, text, { mode: 0o444, flush: true });
      await rename(tmp, final);
      return true;
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw wrapIo(err, `storing ${what} failed`);
    }
  };

  const removing = new Map<string, Promise<void>>();
  const putTree = async (tree: TreeResult): Promise<string> => {
    const { id } = tree;
    await removing.get(id);
    const rootText = tree.nodes.get(id);
    if (rootText === undefined && !(await has(id)))
      throw new StoreError('snapshot_corrupt', `snapshot ${id} has no root node to store`);
    // Children before the root, made durable before it: a stored root never names a missing node.
    const children = [...tree.nodes].filter(([h]) => h !== id && h !== EMPTY_NODE);
    if (children.length) {
      nodesDirMade ??= mkdir(nodesDir, { recursive: true });
      await nodesDirMade;
      const written = await Promise.all(
        children.map(([h, t]) => writeOnce(nodePath(h), t, `directory node ${h}`)),
      );
      if (written.some(Boolean)) await syncDir(nodesDir);
    }
    for (const [h, t] of tree.nodes) if (h !== EMPTY_NODE) cachePut(h, decodeNode(t), t.length);
    if (rootText !== undefined && (await writeOnce(pathOf(id), rootText, `snapshot ${id}`)))
      // The rename is durable only once the directory is: the claim that follows relies on it.
      await syncDir(root);
    return id;
  };

  return {
    has,
    node,
    putTree,
    async put(entries) {
      return putTree(buildTree(entries));
    },
    async remove(id) {
      const p = pathOf(id);
      await removing.get(id);
      const done = (async () => {
        try {
          const size = (await stat(p)).size;
          await unlink(p);
          return size;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
          throw wrapIo(err, `deleting snapshot ${id} failed`);
        }
      })();
      const guard = done.then(
        () => {},
        () => {},
      );
      removing.set(id, guard);
      try {
        return await done;
      } finally {
        if (removing.get(id) === guard) removing.delete(id);
      }
    },
    async *list() {
      for (const hex of (await readdir(root).catch(() => [] as string[])).sort()) {
        if (!/^[0-9a-f]{64}$/.test(hex)) continue;
        const st = await stat(join(root, hex)).catch(() => undefined);
        if (st?.isFile()) yield { id: `sha256:${hex}`, size: st.size };
      }
    },
    async raw(id) {
      try {
        return await readFile(pathOf(id));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw wrapIo(err, `reading snapshot ${id} failed`);
      }
    },
    async get(id) {
      // The root from the disk, every time (it is what a snapshot's presence and integrity mean);
      // the nodes under it may come from memory.
      const text = await readText(pathOf(id), `snapshot ${id}`);
      if (text === undefined) return undefined;
      if (nodeHash(text) !== id)
        throw new StoreError('snapshot_corrupt', `snapshot ${id} is corrupt on disk`);
      try {
        const root = decodeNode(text);
        return await walkTree(id, (h) => (h === id ? root : node(h)));
      } catch (err) {
        if (err instanceof StoreError) throw err;
        throw new StoreError('snapshot_corrupt', `snapshot ${id} is corrupt on disk`, err);
      }
    },
    async sweepNodes(sinceMs) {
      const reached = new Set<string>();
      const visit = async (hash: string) => {
        if (reached.has(hash)) return;
        reached.add(hash);
        const n = await node(hash).catch(() => undefined);
        for (const c of n ?? []) if (c.type === 'dir') await visit(c.node);
      };
      for (const hex of await readdir(root).catch(() => [] as string[]))
        if (/^[0-9a-f]{64}$/.test(hex)) await visit(`sha256:${hex}`);
      let nodes = 0;
      let bytes = 0;
      for (const hex of await readdir(nodesDir).catch(() => [] as string[])) {
        const hash = `sha256:${hex}`;
        if (!/^[0-9a-f]{64}$/.test(hex) || reached.has(hash)) continue;
        const p = join(nodesDir, hex);
        const st = await stat(p).catch(() => undefined);
        if (!st?.isFile() || st.mtimeMs >= sinceMs) continue;
        await unlink(p).catch(() => {});
        const c = cache.get(hash);
        if (c) {
          cache.delete(hash);
          cachedBytes -= c.bytes;
        }
        nodes++;
        bytes += st.size;
      }
      return { nodes, bytes };
    },
  };
}
