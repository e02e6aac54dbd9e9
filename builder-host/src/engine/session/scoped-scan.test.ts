/**
 * The client's walk of a scope and the builder's view of the engine's follow paths use one set of
 * rules: on random trees (nested dirs, files, symlinks to files, dirs, absolute and dangling
 * targets, .dockerignore rules), a scan of just the Dockerfile's paths holds every entry the engine
 * gets when the builder serves those paths from a scan of the whole context, and the builder's
 * scope check accepts the request.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { scanContext } from '../../../../src/context-sync/index.js';
import { compileInclude } from '../../../../src/protocol/index.js';
import { buildView } from './fs-view.js';
import { outOfScope } from './session.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('a scoped scan holds everything the engine is served for those paths from the whole context', async () => {
  for (let seed = 1; seed <= 25; seed++) {
    const rand = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const root = mkdtempSync(join(tmpdir(), 'depot-scoped-'));
    try {
      const dirs = [''];
      const files: string[] = [];
      for (let i = 0; i < 40; i++) {
        const parent = pick(dirs);
        const name = `${pick(['a', 'b', 'src', 'lib', 'x'])}${i}${pick(['', '.js', '.txt'])}`;
        const rel = parent ? `${parent}/${name}` : name;
        const r = rand();
        if (r < 0.3) {
          mkdirSync(join(root, rel));
          dirs.push(rel);
        } else if (r < 0.85) {
          writeFileSync(join(root, rel), `${rel}\n`);
          files.push(rel);
        }
      }
      const all = [...dirs.slice(1), ...files];
      for (let i = 0; i < 6; i++) {
        const parent = pick(dirs);
        const rel = parent ? `${parent}/link${i}` : `link${i}`;
        const target = pick([
          ...all.map((p) => `/${p}`),
          ...all.map((p) => p.split('/').pop()!),
          'missing',
          '../../escape',
        ]);
        symlinkSync(target, join(root, rel));
        all.push(rel);
      }
      writeFileSync(join(root, '.dockerignore'), `${pick(['**/*.txt', 'a*', 'x*/**', '*/b*'])}\n`);
      const scope = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => {
        const p = pick(all);
        return rand() < 0.3 ? p.replace(/[0-9]+/, '*') : p;
      });

      const full = await scanContext({ contextDir: root, noIndex: true });
      const part = await scanContext({ contextDir: root, noIndex: true, scope });
      const served = buildView(full.entries, { includes: [], excludes: [], followPaths: scope });
      const byPath = new Map(part.entries.map((e) => [e.path, e]));
      for (const v of served) {
        const got = byPath.get(v.stat.path);
        assert.ok(
          got,
          `seed ${seed}, scope ${JSON.stringify(scope)}: ${v.stat.path} is served but not scanned`,
        );
        const want = full.entries.find((e) => e.path === v.stat.path)!;
        assert.deepEqual(got, want, `seed ${seed}: ${v.stat.path}`);
      }
      const dir = {
        entries: part.entries,
        open: () => process.stdin,
        scope: part.scope!.map(compileInclude),
      };
      assert.equal(
        outOfScope(dir, { includes: [], excludes: [], followPaths: scope }),
        undefined,
        `seed ${seed}`,
      );
      // And the view the scoped snapshot gives is the same as the whole context's.
      const partServed = buildView(part.entries, { includes: [], excludes: [], followPaths: scope });
      assert.deepEqual(
        partServed.map((v) => v.stat.path),
        served.map((v) => v.stat.path),
        `seed ${seed}, scope ${JSON.stringify(scope)}`,
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
});

test('the scope check refuses what the scope does not hold', () => {
  const dir = { entries: [], open: () => process.stdin, scope: ['src', 'conf/*.json'].map(compileInclude) };
  const ask = (followPaths: string[], includes: string[] = []) =>
    outOfScope(dir, { includes, excludes: [], followPaths });
  assert.equal(ask(['src/a.js', 'conf/x.json', 'src']), undefined);
  assert.equal(ask(['conf/x.yaml']), 'conf/x.yaml');
  assert.equal(ask(['other']), 'other');
  assert.equal(ask([], ['.dockerignore']), '.dockerignore');
  // The whole context (no paths at all) is not held by a scope.
  assert.equal(ask([]), '.');
});
