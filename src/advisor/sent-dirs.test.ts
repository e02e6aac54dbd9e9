import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sentDirs } from './sent-dirs.js';

/** A context with node_modules (3 files), .git (2 files), dist (1 file) and a source file. */
function context(ignore?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'depot-sent-dirs-'));
  mkdirSync(join(dir, 'node_modules/a/lib'), { recursive: true });
  writeFileSync(join(dir, 'node_modules/a/index.js'), '12345');
  writeFileSync(join(dir, 'node_modules/a/lib/x.js'), '123');
  writeFileSync(join(dir, 'node_modules/keep.txt'), '1');
  mkdirSync(join(dir, '.git'));
  writeFileSync(join(dir, '.git/HEAD'), 'ref');
  writeFileSync(join(dir, '.git/config'), '');
  mkdirSync(join(dir, 'dist'));
  writeFileSync(join(dir, 'dist/app.js'), 'x');
  writeFileSync(join(dir, 'index.js'), 'x');
  if (ignore !== undefined) writeFileSync(join(dir, '.dockerignore'), ignore);
  return dir;
}

const NAMES = ['.git', 'node_modules', 'dist', 'build'];

test('every sent directory with its files and bytes; absent ones are not listed', async () => {
  const r = await sentDirs(context(), undefined, NAMES);
  assert.equal(r.ignoreFile, undefined);
  assert.deepEqual(r.dirs, [
    { dir: '.git', files: 2, bytes: 3, complete: true },
    { dir: 'node_modules', files: 3, bytes: 9, complete: true },
    { dir: 'dist', files: 1, bytes: 1, complete: true },
  ]);
});

test('the ignore rules apply: an ignored directory is not sent, an exception still is', async () => {
  const dir = context('.git\nnode_modules\n!node_modules/keep.txt\ndist/*.js\n');
  const r = await sentDirs(dir, undefined, NAMES);
  assert.equal(r.ignoreFile, join(dir, '.dockerignore'));
  assert.deepEqual(r.dirs, [
    { dir: 'node_modules', files: 1, bytes: 1, complete: true },
    { dir: 'dist', files: 0, bytes: 0, complete: true },
  ]);
});

test('<Dockerfile>.dockerignore takes precedence over the context one', async () => {
  const dir = context('dist\n');
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
  writeFileSync(join(dir, 'Dockerfile.dockerignore'), 'node_modules\n');
  const r = await sentDirs(dir, join(dir, 'Dockerfile'), NAMES);
  assert.deepEqual(
    r.dirs.map((d) => d.dir),
    ['.git', 'dist'],
  );
});

test('the walk stops at its limit and says the counts are lower bounds', async () => {
  const r = await sentDirs(context(), undefined, ['node_modules'], 2);
  assert.equal(r.dirs[0]!.complete, false);
  assert.ok(r.dirs[0]!.files < 3);
});
