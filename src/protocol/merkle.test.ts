import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  applyDelta,
  applyDiff,
  buildTree,
  type ContextEntry,
  decodeNode,
  diffManifests,
  EMPTY_NODE,
  type EntryKind,
  encodeNode,
  ManifestError,
  memoryNodes,
  patchEntries,
  snapshotId,
  sortEntries,
  validateManifest,
  walkTree,
} from './index.js';

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const dir = (path: string): ContextEntry => ({
  path,
  type: 'dir',
  mode: 0o755,
  uid: 0,
  gid: 0,
  size: 0,
  mtimeMs: 1,
  digest: '',
  link: '',
});
const file = (path: string, content = path): ContextEntry => ({
  path,
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  size: content.length,
  mtimeMs: 1,
  digest: sha(content),
  link: '',
});

const sample: ContextEntry[] = [
  file('Dockerfile'),
  dir('src'),
  file('src/a.ts'),
  dir('src/lib'),
  file('src/lib/b.ts'),
  file('src-x'),
  { ...file('src/lib/c.ts', 'src/lib/b.ts'), type: 'hardlink', link: 'src/lib/b.ts' },
  { ...dir('latest'), type: 'symlink', mode: 0o777, link: 'src' },
];

async function delta(entries: ContextEntry[], diff: Parameters<typeof applyDelta>[1]) {
  const base = buildTree(entries);
  const mem = memoryNodes(base.nodes);
  return applyDelta(base.id, diff, mem.source);
}

test('the same tree has the same id whatever the order of its entries', () => {
  const id = snapshotId(sample);
  assert.equal(snapshotId([...sample].reverse()), id);
  assert.equal(snapshotId(sortEntries(sample)), id);
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(snapshotId([]), EMPTY_NODE);
});

test('a change of any field of any entry, at any depth, changes the id', () => {
  const id = snapshotId(sample);
  const seen = new Set([id]);
  const changes: Array<(e: ContextEntry) => ContextEntry | undefined> = [
    (e) => ({ ...e, mode: e.mode ^ 0o1 }),
    (e) => ({ ...e, uid: e.uid + 1 }),
    (e) => ({ ...e, gid: e.gid + 1 }),
    (e) => ({ ...e, mtimeMs: e.mtimeMs + 1 }),
    (e) => (e.type === 'file' ? { ...e, size: e.size + 1 } : undefined),
    (e) => (e.type === 'file' ? { ...e, digest: sha('other') } : undefined),
    (e) => (e.type === 'symlink' ? { ...e, link: 'elsewhere' } : undefined),
    (e) => (e.type === 'file' && e.path === 'Dockerfile' ? { ...e, type: 'symlink', link: 'x' } : undefined),
  ];
  let tried = 0;
  for (let i = 0; i < sample.length; i++)
    for (const change of changes) {
      const changed = change(sample[i]!);
      if (!changed) continue;
      const next = sample.map((e, j) => (j === i ? changed : e));
      // A change of a hardlink's source must carry over to the hardlink to stay valid.
      const fixed = next.map((e) =>
        e.type === 'hardlink' && e.link === changed.path && changed.type === 'file'
          ? { ...e, digest: changed.digest, size: changed.size }
          : e,
      );
      const other = snapshotId(fixed);
      assert.ok(!seen.has(other), `${sample[i]!.path}: ${JSON.stringify(changed)}`);
      seen.add(other);
      tried++;
    }
  assert.ok(tried > 20);
  // A rename, too (same fields, another name).
  assert.notEqual(snapshotId(sample.map((e) => (e.path === 'src-x' ? { ...e, path: 'src-y' } : e))), id);
});

test('a tree walks back to its entries, in byte order', async () => {
  const tree = buildTree(sample);
  const mem = memoryNodes(tree.nodes);
  const back = await walkTree(tree.id, mem.source);
  assert.deepEqual(back, sortEntries(sample));
  assert.equal(tree.entries, sample.length);
  assert.equal(
    tree.bytes,
    sample.filter((e) => e.type === 'file').reduce((n, e) => n + e.size, 0),
  );
  for (const text of tree.nodes.values()) assert.equal(encodeNode(decodeNode(text)), text);
});

test('a one-file delta makes only the nodes on its path', async () => {
  const out = await delta(sample, { upserts: [{ ...file('src/lib/b.ts'), mtimeMs: 9 }], removals: [] });
  // Not valid as is: the hardlink to b.ts keeps its own fields, which still match (mtime is not checked).
  assert.equal(out.nodes.size, 3); // src/lib, src, the root
  assert.equal(out.id, snapshotId(sample.map((e) => (e.path === 'src/lib/b.ts' ? { ...e, mtimeMs: 9 } : e))));
});

test('a delta refuses what a full manifest would refuse', async () => {
  const bad: Array<[string, Parameters<typeof applyDelta>[1], RegExp]> = [
    ['escape', { upserts: [file('../x')], removals: [] }, /contains \.\./],
    ['absolute', { upserts: [file('/etc/passwd')], removals: [] }, /absolute/],
    ['removal escape', { upserts: [], removals: ['a/../../x'] }, /contains \.\./],
    ['no parent', { upserts: [file('nope/x')], removals: [] }, /parent of "nope\/x" is not a directory/],
    ['file parent', { upserts: [file('Dockerfile/x')], removals: [] }, /parent of "Dockerfile\/x"/],
    ['symlink parent', { upserts: [file('latest/x')], removals: [] }, /parent of "latest\/x"/],
    [
      'dir to file',
      { upserts: [file('src/lib')], removals: [] },
      /parent of "src\/lib\/.*" is not a directory/,
    ],
    ['duplicate', { upserts: [file('n'), file('n')], removals: [] }, /duplicate path/],
    ['bad digest', { upserts: [{ ...file('n'), digest: 'sha256:short' }], removals: [] }, /bad digest/],
    ['bad mode', { upserts: [{ ...file('n'), mode: 0o10000 }], removals: [] }, /bad mode/],
    [
      'source removed',
      { upserts: [], removals: ['src/lib/b.ts'] },
      /hardlink "src\/lib\/c.ts" has no file source/,
    ],
    [
      'source dir removed',
      {
        upserts: [{ ...file('h', 'src/lib/b.ts'), type: 'hardlink', link: 'src/lib/b.ts' }],
        removals: ['src/lib'],
      },
      /hardlink "h" has no file source/,
    ],
    [
      'source changed',
      { upserts: [file('src/lib/b.ts', 'new bytes')], removals: [] },
      /hardlink "src\/lib\/c.ts" does not match its source/,
    ],
    [
      'link to any blob',
      { upserts: [{ ...file('n', 'secret'), type: 'hardlink', link: 'Dockerfile' }], removals: [] },
      /does not match its source/,
    ],
    [
      'link to a link',
      { upserts: [{ ...file('n', 'src/lib/b.ts'), type: 'hardlink', link: 'src/lib/c.ts' }], removals: [] },
      /has no file source/,
    ],
  ];
  for (const [name, diff, message] of bad) {
    await assert.rejects(delta(sample, diff), (err: unknown) => {
      // A duplicate upsert is stricter than the flat apply (where the last one won); the rest is the same.
      if (name !== 'duplicate')
        assert.throws(() => validateManifest(applyDiff(sample, diff)), ManifestError, name);
      assert.ok(err instanceof ManifestError, name);
      assert.match((err as Error).message, message, name);
      return true;
    });
  }
  // Removing the children first makes the same replacement valid, as in a full manifest.
  const ok = await delta(sample, { upserts: [file('src')], removals: ['src'] });
  assert.equal(ok.id, snapshotId(applyDiff(sample, { upserts: [file('src')], removals: ['src'] })));
});

test('a base the source lacks is refused, not guessed', async () => {
  const mem = memoryNodes();
  await assert.rejects(applyDelta(sha('nothing'), { upserts: [], removals: [] }, mem.source), ManifestError);
});

/** A small deterministic generator (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    chance: (p: number) => next() < p,
  };
}

// Names chosen so that byte order and depth-first order differ ("a-b" < "a/…" < "a0").
const NAMES = ['a', 'a-b', 'a0', 'b', 'é', '\u{1F600}', '\uE000'];
const KINDS: EntryKind[] = ['file', 'file', 'dir', 'dir', 'symlink', 'hardlink'];

function randomEntry(r: ReturnType<typeof rng>, path: string, files: ContextEntry[]): ContextEntry {
  const type = r.pick(KINDS);
  const content = `c${r.int(4)}`;
  const base = { ...file(path, content), mode: r.pick([0o644, 0o755, 0o4755]), mtimeMs: r.int(3) };
  if (type === 'file') return base;
  if (type === 'dir') return { ...dir(path), mtimeMs: r.int(3) };
  if (type === 'symlink') return { ...base, type, size: 0, digest: '', link: r.pick(['x', '../y', '']) };
  // Mostly a valid hardlink; sometimes not (wrong digest, missing source).
  const src = files.length && r.chance(0.8) ? r.pick(files) : file(`${path}-gone`);
  const same = r.chance(0.85);
  return { ...base, type, link: src.path, digest: same ? src.digest : sha('x'), size: src.size };
}

function randomTree(r: ReturnType<typeof rng>): ContextEntry[] {
  const entries: ContextEntry[] = [];
  const dirs = [''];
  const files: ContextEntry[] = [];
  const taken = new Set<string>();
  const n = 1 + r.int(25);
  for (let i = 0; i < n; i++) {
    const parent = r.pick(dirs);
    const path = parent ? `${parent}/${r.pick(NAMES)}` : r.pick(NAMES);
    if (taken.has(path)) continue;
    let e = randomEntry(r, path, files);
    if (e.type === 'hardlink' && (e.link.endsWith('-gone') || !files.some((f) => f.digest === e.digest)))
      e = file(path);
    taken.add(path);
    entries.push(e);
    if (e.type === 'dir') dirs.push(path);
    if (e.type === 'file') files.push(e);
  }
  validateManifest(entries);
  return entries;
}

function randomDiff(r: ReturnType<typeof rng>, base: ContextEntry[]) {
  const paths = base.map((e) => e.path);
  const dirs = ['', ...base.filter((e) => e.type === 'dir').map((e) => e.path)];
  const files = base.filter((e) => e.type === 'file');
  const removals: string[] = [];
  for (let i = r.int(3); i > 0; i--) removals.push(r.chance(0.8) && paths.length ? r.pick(paths) : 'nope/x');
  const upserts: ContextEntry[] = [];
  const used = new Set<string>();
  for (let i = r.int(5); i > 0; i--) {
    let path: string;
    if (paths.length && r.chance(0.5)) path = r.pick(paths);
    else {
      const parent = r.chance(0.9) ? r.pick(dirs) : r.pick(paths.length ? paths : ['']);
      path = parent ? `${parent}/${r.pick(NAMES)}` : r.pick(NAMES);
    }
    if (used.has(path)) continue;
    used.add(path);
    const prev = base.find((e) => e.path === path);
    upserts.push(
      prev && r.chance(0.5) ? { ...prev, mtimeMs: prev.mtimeMs + 1 + r.int(2) } : randomEntry(r, path, files),
    );
  }
  return { upserts, removals };
}

test('applying a random delta gives the id of the full manifest, and fails exactly when it would', async () => {
  let applied = 0;
  let refused = 0;
  for (let seed = 1; seed <= 3000; seed++) {
    const r = rng(seed);
    const base = randomTree(r);
    const diff = randomDiff(r, base);
    let fullId: string | undefined;
    try {
      fullId = snapshotId(applyDiff(base, diff));
    } catch (err) {
      assert.ok(err instanceof ManifestError, `seed ${seed}: ${err}`);
    }
    let deltaId: string | undefined;
    let deltaErr: unknown;
    try {
      deltaId = (await delta(base, diff)).id;
    } catch (err) {
      deltaErr = err;
    }
    if (deltaId !== undefined)
      assert.deepEqual(
        patchEntries(sortEntries(base), diff),
        sortEntries(applyDiff(base, diff)),
        `seed ${seed}`,
      );
    if (fullId === undefined) {
      assert.ok(
        deltaErr instanceof ManifestError,
        `seed ${seed}: the delta made what a full manifest cannot`,
      );
      refused++;
    } else {
      assert.equal(deltaErr, undefined, `seed ${seed}: ${deltaErr}`);
      assert.equal(deltaId, fullId, `seed ${seed}`);
      applied++;
    }
  }
  // Both outcomes are exercised, so neither side of the property holds vacuously.
  assert.ok(applied > 1000 && refused > 200, `applied ${applied}, refused ${refused}`);
});

test('a delta chain equals the full manifest at every step, and diffManifests round trips', async () => {
  const r = rng(42);
  let entries = randomTree(r);
  let tree = buildTree(entries);
  const mem = memoryNodes(tree.nodes);
  for (let step = 0; step < 300; step++) {
    const diff = randomDiff(r, entries);
    let next: ContextEntry[];
    try {
      next = applyDiff(entries, diff);
      validateManifest(next);
    } catch {
      continue;
    }
    // What the client sends: the diff of the two manifests, not the random one.
    const sent = diffManifests(sortEntries(entries), sortEntries(next));
    const out = await applyDelta(tree.id, sent, mem.source);
    mem.add(out.nodes);
    assert.equal(out.id, snapshotId(next), `step ${step}`);
    assert.equal(out.entries, next.length);
    assert.deepEqual(await walkTree(out.id, mem.source), sortEntries(next));
    // The builder's shortcut for the build's entry list gives the same list.
    assert.deepEqual(patchEntries(sortEntries(entries), sent), sortEntries(next));
    entries = next;
    tree = out;
  }
});
