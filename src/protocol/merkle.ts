import { createHash } from 'node:crypto';
import {
  type ContextEntry,
  comparePaths,
  type EntryKind,
  entryProblem,
  type ManifestDiff,
  ManifestError,
  unsafePathReason,
  validateManifest,
} from './manifest.js';

/**
 * Snapshot ids as a Merkle tree over directories. A directory node is the canonical list of its
 * children — each child's own fields and, for a directory, its node's hash and what lies under it
 * — so the id of a snapshot (the root node's hash) covers every entry, and a change of one entry
 * changes only the nodes on its path. A delta is applied by loading those nodes, re-hashing them up
 * to the root and validating only the changed entries: O(depth × changed entries), not O(entries).
 */

/** One child of a directory node. */
export interface NodeChild {
  /** One path component. */
  name: string;
  type: EntryKind;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  digest: string;
  link: string;
  /** A directory's node hash; "" otherwise. */
  node: string;
  /** A directory's entries, files' bytes and hardlinks under it (all depths); 0 otherwise. */
  entries: number;
  bytes: number;
  hardlinks: number;
}

/** A directory's children, sorted by name (byte order). */
export type DirNode = readonly NodeChild[];

/** Where a tree's nodes come from: a store, a cache, a client's memory. Undefined when unknown. */
export type NodeSource = (hash: string) => DirNode | undefined | Promise<DirNode | undefined>;

/** What a subtree holds, summed over every depth. */
export interface TreeTotals {
  entries: number;
  bytes: number;
  hardlinks: number;
}

/** The result of building or changing a tree: its id, its totals and the nodes made for it. */
export interface TreeResult extends TreeTotals {
  /** The root node's hash: the snapshot id. */
  id: string;
  /** Every node made (hash → canonical text), the root's included; those of a delta only on its paths. */
  nodes: Map<string, string>;
}

// Versioned so that an id of this scheme never equals one of a manifest hash or of a later scheme.
const NODE_HEADER = 'depot-dir-v1';

/** The canonical text of a directory node (children must be sorted by name). */
export function encodeNode(children: DirNode): string {
  let text = NODE_HEADER;
  for (const c of children)
    text += `\n${JSON.stringify([
      c.name,
      c.type,
      c.mode,
      c.uid,
      c.gid,
      c.size,
      c.mtimeMs,
      c.digest,
      c.link,
      c.node,
      c.entries,
      c.bytes,
      c.hardlinks,
    ])}`;
  return text;
}

/** Parses a node's canonical text; ManifestError when it is not one. */
export function decodeNode(text: string): NodeChild[] {
  const lines = text.split('\n');
  if (lines[0] !== NODE_HEADER) throw new ManifestError('invalid directory node: bad header');
  const out: NodeChild[] = [];
  for (let i = 1; i < lines.length; i++) {
    const a = JSON.parse(lines[i]!) as unknown[];
    if (!Array.isArray(a) || a.length !== 13) throw new ManifestError('invalid directory node: bad child');
    const [name, type, mode, uid, gid, size, mtimeMs, digest, link, node, entries, bytes, hardlinks] = a as [
      string,
      EntryKind,
      number,
      number,
      number,
      number,
      number,
      string,
      string,
      string,
      number,
      number,
      number,
    ];
    out.push({ name, type, mode, uid, gid, size, mtimeMs, digest, link, node, entries, bytes, hardlinks });
  }
  return out;
}

/** sha256 of a node's canonical text, as "sha256:<hex>". */
export function nodeHash(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/** The node of an empty directory, and its hash (the id of an empty context). */
export const EMPTY_NODE_TEXT = NODE_HEADER;
export const EMPTY_NODE = nodeHash(EMPTY_NODE_TEXT);

function totalsOf(children: Iterable<NodeChild>): TreeTotals {
  let entries = 0;
  let bytes = 0;
  let hardlinks = 0;
  for (const c of children) {
    entries += 1 + c.entries;
    bytes += (c.type === 'file' ? c.size : 0) + c.bytes;
    hardlinks += (c.type === 'hardlink' ? 1 : 0) + c.hardlinks;
  }
  return { entries, bytes, hardlinks };
}

const byName = (a: NodeChild, b: NodeChild) => comparePaths(a.name, b.name);

function childOf(e: ContextEntry, name: string): NodeChild {
  return {
    name,
    type: e.type,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    size: e.size,
    mtimeMs: e.mtimeMs,
    digest: e.digest,
    link: e.link,
    node: e.type === 'dir' ? EMPTY_NODE : '',
    entries: 0,
    bytes: 0,
    hardlinks: 0,
  };
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Builds the tree of a whole manifest (validated first: ManifestError when it is not valid). */
export function buildTree(entries: readonly ContextEntry[]): TreeResult {
  validateManifest(entries);
  const dirs = new Map<string, NodeChild[]>([['', []]]);
  const childAt = new Map<string, NodeChild>();
  for (const e of entries) {
    if (e.type === 'dir') dirs.set(e.path, []);
  }
  for (const e of entries) {
    const c = childOf(e, nameOf(e.path));
    childAt.set(e.path, c);
    dirs.get(parentOf(e.path))!.push(c);
  }
  // Deepest first: a directory's node is made before its parent's.
  const order = [...dirs.keys()].sort((a, b) => depth(b) - depth(a));
  const nodes = new Map<string, string>();
  let root: TreeResult | undefined;
  for (const path of order) {
    const children = dirs.get(path)!.sort(byName);
    const text = encodeNode(children);
    const hash = nodeHash(text);
    nodes.set(hash, text);
    const totals = totalsOf(children);
    if (path === '') root = { id: hash, nodes, ...totals };
    else Object.assign(childAt.get(path)!, { node: hash, ...totals });
  }
  return root!;
}

function depth(path: string): number {
  if (path === '') return 0;
  let n = 1;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) n++;
  return n;
}

/** The snapshot id of a manifest (validated: ManifestError): the hash of its root directory node. */
export function snapshotId(entries: readonly ContextEntry[]): string {
  return buildTree(entries).id;
}

/** Every entry of a tree, sorted (sortEntries order); ManifestError when a node is missing. */
export async function walkTree(id: string, source: NodeSource): Promise<ContextEntry[]> {
  const out: ContextEntry[] = [];
  const visit = async (hash: string, prefix: string) => {
    const node = hash === EMPTY_NODE ? [] : await source(hash);
    if (!node) throw new ManifestError(`directory node ${hash} is missing`);
    for (const c of node) {
      const path = prefix === '' ? c.name : `${prefix}/${c.name}`;
      out.push({
        path,
        type: c.type,
        mode: c.mode,
        uid: c.uid,
        gid: c.gid,
        size: c.size,
        mtimeMs: c.mtimeMs,
        digest: c.digest,
        link: c.link,
      });
      if (c.type === 'dir') await visit(c.node, path);
    }
  };
  await visit(id, '');
  // Depth-first order is not byte order ("a/b" sorts after "a-b"): one sort puts it right.
  return out.sort((a, b) => comparePaths(a.path, b.path));
}

/** A directory being changed: its children by name, and whether it must be re-hashed. */
interface OpenDir {
  children: Map<string, NodeChild>;
  dirty: boolean;
}

/** Limits a delta must keep, like a full manifest. */
export interface DeltaLimits {
  /** Checked for each changed file before anything is loaded (throws its own error). */
  checkEntry?: (e: ContextEntry) => void;
}

/**
 * Applies a delta (removals first — a directory's with everything under it —, then upserts) to the
 * tree `baseId`, validating only what changed exactly as `validateManifest` would the whole result:
 * safe paths, well-formed fields, no duplicates, parents that are directories, hardlinks that match
 * their sources. Loads only the nodes on changed paths. ManifestError on any violation; a node the
 * source lacks is a ManifestError too (the base is not whole).
 */
export async function applyDelta(
  baseId: string,
  diff: ManifestDiff,
  source: NodeSource,
  opts: DeltaLimits = {},
): Promise<TreeResult> {
  const load = async (hash: string): Promise<Map<string, NodeChild>> => {
    const node = hash === EMPTY_NODE ? [] : await source(hash);
    if (!node) throw new ManifestError(`directory node ${hash} is missing`);
    // Copies: nodes from a cache are shared and must not change.
    return new Map(node.map((c) => [c.name, { ...c }]));
  };
  const open = new Map<string, OpenDir>([['', { children: await load(baseId), dirty: false }]]);
  const baseLinks = totalsOf(open.get('')!.children.values()).hardlinks;
  const dirAt = async (path: string): Promise<OpenDir | undefined> => {
    const have = open.get(path);
    if (have) return have;
    const parent = await dirAt(parentOf(path));
    const c = parent?.children.get(nameOf(path));
    if (c?.type !== 'dir') return undefined;
    const dir = { children: await load(c.node), dirty: false };
    open.set(path, dir);
    return dir;
  };
  const markDirty = (path: string) => {
    for (let p = path; ; p = parentOf(p)) {
      const d = open.get(p)!;
      if (d.dirty && p !== path) break;
      d.dirty = true;
      if (p === '') break;
    }
  };
  const forget = (path: string) => {
    const prefix = `${path}/`;
    for (const k of open.keys()) if (k === path || k.startsWith(prefix)) open.delete(k);
  };
  const lookup = async (path: string): Promise<NodeChild | undefined> =>
    (await dirAt(parentOf(path)))?.children.get(nameOf(path));

  let touchedFiles = false;
  for (const path of diff.removals) {
    const why = unsafePathReason(path);
    if (why) throw new ManifestError(`invalid manifest: ${why}: ${JSON.stringify(path)}`);
    const parent = await dirAt(parentOf(path));
    const gone = parent?.children.get(nameOf(path));
    if (!parent || !gone) continue;
    parent.children.delete(nameOf(path));
    if (gone.type === 'dir') forget(path);
    if (gone.type !== 'hardlink') touchedFiles = true;
    markDirty(parentOf(path));
  }

  const upserts = [...diff.upserts].sort((a, b) => comparePaths(a.path, b.path));
  for (let i = 0; i < upserts.length; i++) {
    const e = upserts[i]!;
    const why = entryProblem(e);
    if (why) throw new ManifestError(`invalid manifest: ${why}`);
    if (i > 0 && upserts[i - 1]!.path === e.path)
      throw new ManifestError(`invalid manifest: duplicate path ${JSON.stringify(e.path)}`);
    opts.checkEntry?.(e);
  }
  // Sorted, so a parent comes before its children: the parent checked is the final one.
  for (const e of upserts) {
    const parentPath = parentOf(e.path);
    const parent = await dirAt(parentPath);
    if (!parent)
      throw new ManifestError(`invalid manifest: parent of ${JSON.stringify(e.path)} is not a directory`);
    const name = nameOf(e.path);
    const prev = parent.children.get(name);
    const next = childOf(e, name);
    if (prev?.type === 'dir') {
      if (e.type === 'dir')
        Object.assign(next, { node: prev.node, entries: prev.entries, bytes: prev.bytes });
      else {
        const first = (await dirAt(e.path))?.children.keys().next().value;
        if (first !== undefined)
          throw new ManifestError(
            `invalid manifest: parent of ${JSON.stringify(`${e.path}/${first}`)} is not a directory`,
          );
        forget(e.path);
      }
      next.hardlinks = e.type === 'dir' ? prev.hardlinks : 0;
    }
    if (prev && prev.type !== 'hardlink') touchedFiles = true;
    parent.children.set(name, next);
    markDirty(parentPath);
    // A directory changed in place keeps its children (and open copy, which is re-hashed below).
    if (e.type === 'dir' && open.has(e.path)) markDirty(e.path);
  }

  // Hardlinks: each new one must match its source; when a file was replaced or removed, every
  // hardlink of the tree is checked again (they are few; subtrees without any are skipped).
  const checkLink = async (path: string, c: NodeChild) => {
    const src = await lookup(c.link);
    if (src?.type !== 'file')
      throw new ManifestError(`invalid manifest: hardlink ${JSON.stringify(path)} has no file source`);
    if (c.digest !== src.digest || c.size !== src.size)
      throw new ManifestError(
        `invalid manifest: hardlink ${JSON.stringify(path)} does not match its source ${JSON.stringify(c.link)}`,
      );
  };
  for (const e of upserts) if (e.type === 'hardlink') await checkLink(e.path, childOf(e, nameOf(e.path)));
  if (touchedFiles && (baseLinks > 0 || upserts.some((e) => e.type === 'hardlink'))) {
    const visit = async (dirPath: string) => {
      const dir = await dirAt(dirPath);
      if (!dir) return;
      for (const c of dir.children.values()) {
        const path = dirPath === '' ? c.name : `${dirPath}/${c.name}`;
        if (c.type === 'hardlink') await checkLink(path, c);
        // An open directory's own count may be stale; it is visited whenever it could hold one.
        else if (c.type === 'dir' && (c.hardlinks > 0 || open.has(path))) await visit(path);
      }
    };
    await visit('');
  }

  // Re-hash the changed directories, deepest first, each into its parent's child record.
  const nodes = new Map<string, string>();
  const dirty = [...open.entries()].filter(([, d]) => d.dirty).sort((a, b) => depth(b[0]) - depth(a[0]));
  let root: TreeResult | undefined;
  for (const [path, dir] of dirty) {
    const children = [...dir.children.values()].sort(byName);
    const text = encodeNode(children);
    const hash = nodeHash(text);
    nodes.set(hash, text);
    const totals = totalsOf(children);
    if (path === '') root = { id: hash, nodes, ...totals };
    else Object.assign(open.get(parentOf(path))!.children.get(nameOf(path))!, { node: hash, ...totals });
  }
  if (!root) {
    // Nothing changed (removals of absent paths): the base as it is.
    const children = [...open.get('')!.children.values()];
    return { id: baseId, nodes, ...totalsOf(children) };
  }
  // An empty directory made by the delta refers to the empty node: keep it storable.
  if (upserts.some((e) => e.type === 'dir')) nodes.set(EMPTY_NODE, EMPTY_NODE_TEXT);
  return root;
}

/** A NodeSource over a map of canonical texts (a client's memory, tests), parsing each once. */
export function memoryNodes(texts: Map<string, string> = new Map()): {
  source: NodeSource;
  add(nodes: Map<string, string>): void;
  size(): number;
  /** Keeps only the nodes reachable from `id` (the client's memory after many deltas). */
  prune(id: string): void;
} {
  const parsed = new Map<string, DirNode>();
  const source: NodeSource = (hash) => {
    let n = parsed.get(hash);
    if (n) return n;
    const text = texts.get(hash);
    if (text === undefined) return undefined;
    n = decodeNode(text);
    parsed.set(hash, n);
    return n;
  };
  return {
    source,
    add(nodes) {
      for (const [h, t] of nodes) texts.set(h, t);
    },
    size: () => texts.size,
    prune(id) {
      const keep = new Set<string>();
      const visit = (hash: string) => {
        if (keep.has(hash)) return;
        keep.add(hash);
        for (const c of (source(hash) as DirNode | undefined) ?? []) if (c.type === 'dir') visit(c.node);
      };
      visit(id);
      for (const h of [...texts.keys()])
        if (!keep.has(h)) {
          texts.delete(h);
          parsed.delete(h);
        }
    },
  };
}
