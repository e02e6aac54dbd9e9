import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ContextEntry } from '../../../../src/protocol/index.js';
import { buildView, compareWalkOrder, goFileMode, singleFileEntries, type ViewFilter } from './fs-view.js';

const D = `sha256:${'a'.repeat(64)}`;
function f(path: string, extra: Partial<ContextEntry> = {}): ContextEntry {
  return {
    path,
    type: 'file',
    mode: 0o644,
    uid: 1000,
    gid: 1000,
    size: 3,
    mtimeMs: 1700000000123,
    digest: D,
    link: '',
    ...extra,
  };
}
function d(path: string): ContextEntry {
  return { path, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtimeMs: 1, digest: '', link: '' };
}
const none: ViewFilter = { includes: [], excludes: [], followPaths: [] };
const paths = (entries: ContextEntry[], filter = none) => buildView(entries, filter).map((e) => e.stat.path);

test('walk order: a directory comes right before its children, "/" sorts lowest', () => {
  const list = ['a-b', 'a/c', 'a', 'a.txt', 'b', 'a/c/d', 'ä', 'z'];
  assert.deepEqual([...list].sort(compareWalkOrder), ['a', 'a/c', 'a/c/d', 'a-b', 'a.txt', 'b', 'z', 'ä']);
  const entries = [f('a-b'), d('a'), f('a/c'), f('a.txt')];
  assert.deepEqual(paths(entries), ['a', 'a/c', 'a-b', 'a.txt']);
});

test('stat: Go FileMode bits, root ownership, nanosecond mtime, symlink and hardlink names', () => {
  assert.equal(goFileMode(d('x')), (0x80000000 | 0o755) >>> 0);
  assert.equal(goFileMode(f('x', { mode: 0o4755 })), 0x00800000 | 0o755);
  assert.equal(goFileMode(f('x', { mode: 0o2755 })), 0x00400000 | 0o755);
  assert.equal(goFileMode(f('x', { mode: 0o1777 })), 0x00100000 | 0o777);
  const view = buildView(
    [
      f('file'),
      f('hard', { type: 'hardlink', link: 'file' }),
      { ...f('sym'), type: 'symlink', link: '../target', digest: '', size: 0 },
    ],
    none,
  );
  const [file, hard, sym] = view;
  assert.deepEqual(file!.stat, {
    path: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 3,
    modTime: 1700000000123000000n,
    linkname: '',
  });
  assert.equal(file!.digest, D);
  assert.equal(hard!.stat.linkname, 'file');
  assert.equal(sym!.stat.mode, 0x08000000 | 0o777);
  assert.equal(sym!.stat.linkname, '../target');
  assert.equal(sym!.stat.size, 9);
  assert.equal(sym!.digest, '');
});

test('exclude patterns: Docker ignore rules, with ! re-inclusion inside an excluded directory', () => {
  const entries = [f('Dockerfile'), d('logs'), f('logs/a.log'), f('logs/keep.log'), f('x.tmp'), f('y')];
  assert.deepEqual(paths(entries, { ...none, excludes: ['*.tmp', 'logs'] }), ['Dockerfile', 'y']);
  assert.deepEqual(paths(entries, { ...none, excludes: ['logs', '!logs/keep.log'] }), [
    'Dockerfile',
    'logs',
    'logs/keep.log',
    'x.tmp',
    'y',
  ]);
});

test('include patterns: globs per component, parents sent, everything under an included directory', () => {
  const entries = [d('src'), d('src/lib'), f('src/lib/a.ts'), f('src/main.ts'), f('src/x.md'), f('README')];
  assert.deepEqual(paths(entries, { ...none, includes: ['src/*.ts'] }), ['src', 'src/main.ts']);
  assert.deepEqual(paths(entries, { ...none, includes: ['src/lib'] }), ['src', 'src/lib', 'src/lib/a.ts']);
  assert.deepEqual(paths(entries, { ...none, includes: ['nothing'] }), []);
});

test('follow paths: the named paths, their parents and what their symlinks point to', () => {
  const entries = [
    f('Dockerfile'),
    d('conf'),
    { ...f('conf/current'), type: 'symlink' as const, link: 'v2', digest: '', size: 0 },
    f('conf/v1'),
    f('conf/v2'),
    f('other'),
  ];
  assert.deepEqual(paths(entries, { ...none, followPaths: ['conf/current', 'Dockerfile.dockerignore'] }), [
    'conf',
    'conf/current',
    'conf/v2',
  ]);
});

test('a hard link whose source is filtered out is sent as a plain copy', () => {
  const entries = [f('a'), f('b', { type: 'hardlink', link: 'a' })];
  const view = buildView(entries, { ...none, excludes: ['a'] });
  assert.deepEqual(
    view.map((e) => [e.stat.path, e.stat.linkname, e.digest]),
    [['b', '', D]],
  );
});

test('a one-file directory gets a content-derived mtime', () => {
  const a = singleFileEntries('Dockerfile', 10, `sha256:${'1'.repeat(64)}`)[0]!;
  const b = singleFileEntries('Dockerfile', 10, `sha256:${'2'.repeat(64)}`)[0]!;
  assert.notEqual(a.mtimeMs, b.mtimeMs);
  assert.equal(a.path, 'Dockerfile');
});
