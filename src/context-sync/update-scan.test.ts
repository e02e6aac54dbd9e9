import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { chmod, link, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type ContextScan, type ScanOptions, scanContext, updateScan } from './index.js';
import { indexWritesSettled } from './update-scan.js';

const roots: string[] = [];
after(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

async function tempContext(): Promise<{ root: string; ctx: string; indexDir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'depot-update-'));
  roots.push(root);
  const ctx = join(root, 'ctx');
  await mkdir(ctx);
  return { root, ctx, indexDir: join(root, 'index') };
}

/** Deterministic PRNG (mulberry32) so that a failing seed can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every path under ctx (ignored ones too), '/'-separated, with its lstat. */
function listTree(ctx: string): Array<{ rel: string; st: fs.Stats }> {
  const out: Array<{ rel: string; st: fs.Stats }> = [];
  const visit = (rel: string): void => {
    for (const name of fs.readdirSync(rel === '' ? ctx : join(ctx, rel))) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = fs.lstatSync(join(ctx, r));
      out.push({ rel: r, st });
      if (st.isDirectory()) visit(r);
    }
  };
  visit('');
  return out;
}

function sha(buf: Buffer | string): string {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

/** The incremental scan must equal a fresh one: entries byte for byte, blobs by digest and content. */
async function assertSameAsFresh(inc: ContextScan, opts: ScanOptions, what: string): Promise<void> {
  const fresh = await scanContext({ ...opts, noIndex: true });
  assert.equal(JSON.stringify(inc.entries), JSON.stringify(fresh.entries), what);
  assert.deepEqual([...inc.blobs.keys()].sort(), [...fresh.blobs.keys()].sort(), `${what}: blob digests`);
  for (const [digest, path] of inc.blobs) {
    const content = path === '/dev/null' ? Buffer.alloc(0) : await readFile(path);
    assert.equal(sha(content), digest, `${what}: blob source ${path}`);
  }
}

const NAMES = ['a', 'a.txt', 'a0', 'b', 'x.log', 'keep.log', 'build', 'keep', 'cache', 'ü', 'sub', 'z~'];
const IGNORE = '*.log\n!keep.log\nbuild\n!build/keep\n**/cache\n';

test('updateScan equals a fresh scanContext over randomized edit sequences', async () => {
  const seeds = process.env.DEPOT_SEED ? [Number(process.env.DEPOT_SEED)] : [1, 2, 3, 4, 5, 6, 7, 8];
  for (const seed of seeds) {
    const rand = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const { ctx, indexDir } = await tempContext();
    const opts: ScanOptions = { contextDir: ctx, indexDir };
    await writeFile(join(ctx, '.dockerignore'), IGNORE);
    let serial = 0;
    const content = (avoidSize = -1): string => {
      let s: string;
      do s = `${serial++}:${'x'.repeat(Math.floor(rand() * 40))}`;
      while (s.length === avoidSize);
      return s;
    };
    // Seed tree.
    for (let i = 0; i < 25; i++) {
      const dir = [pick(NAMES), pick(NAMES)].slice(0, 1 + Math.floor(rand() * 2)).join('/');
      const file = `${dir}/${pick(NAMES)}`;
      try {
        await mkdir(join(ctx, dir), { recursive: true });
        await writeFile(join(ctx, file), content());
      } catch {
        // a name already taken by the other kind: skip
      }
    }
    let scan = await scanContext(opts);
    let hardlinkOps = 0;
    for (let step = 0; step < 40; step++) {
      const changed: string[] = [];
      const log: string[] = [];
      const nOps = 1 + Math.floor(rand() * 3);
      for (let o = 0; o < nOps; o++) {
        const tree = listTree(ctx).filter((t) => t.rel !== '.dockerignore');
        const files = tree.filter((t) => t.st.isFile());
        const dirs = tree.filter((t) => t.st.isDirectory());
        const links = tree.filter((t) => t.st.isSymbolicLink());
        const parent = dirs.length > 0 && rand() < 0.7 ? pick(dirs).rel : '';
        const fresh = parent === '' ? pick(NAMES) : `${parent}/${pick(NAMES)}`;
        const op = Math.floor(rand() * 100);
        const abs = (p: string) => join(ctx, p);
        const exists = (p: string) => fs.existsSync(abs(p)) || links.some((l) => l.rel === p);
        try {
          if (op < 18 && !exists(fresh)) {
            await writeFile(abs(fresh), content());
            changed.push(fresh);
            log.push(`create ${fresh}`);
          } else if (op < 36 && files.length > 0) {
            const f = pick(files);
            await writeFile(abs(f.rel), content(f.st.size));
            changed.push(f.rel);
            log.push(`modify ${f.rel}`);
          } else if (op < 46 && files.length + links.length > 0) {
            const f = pick([...files, ...links]);
            await rm(abs(f.rel));
            changed.push(f.rel);
            log.push(`delete ${f.rel}`);
          } else if (op < 52 && dirs.length > 0) {
            const d = pick(dirs);
            const under = tree.filter((t) => t.rel.startsWith(`${d.rel}/`)).map((t) => t.rel);
            await rm(abs(d.rel), { recursive: true });
            changed.push(...(rand() < 0.5 ? [d.rel] : [...under, d.rel]));
            log.push(`rmdir ${d.rel}`);
          } else if (op < 62 && !exists(fresh)) {
            // mkdir -p with a file inside; sometimes only the file is reported.
            const deeper = `${fresh}/${pick(NAMES)}`;
            await mkdir(abs(fresh));
            await writeFile(abs(deeper), content());
            changed.push(...(rand() < 0.3 ? [deeper] : [fresh, deeper]));
            log.push(`mkdir ${fresh} + ${deeper}`);
          } else if (op < 70 && files.length > 0 && !exists(fresh)) {
            const f = pick(files);
            if (fresh.startsWith(`${f.rel}/`)) continue;
            await rename(abs(f.rel), abs(fresh));
            changed.push(f.rel, fresh);
            log.push(`rename ${f.rel} -> ${fresh}`);
          } else if (op < 75 && dirs.length > 0 && !exists(fresh)) {
            const d = pick(dirs);
            if (fresh === d.rel || fresh.startsWith(`${d.rel}/`)) continue;
            await rename(abs(d.rel), abs(fresh));
            changed.push(d.rel, fresh);
            log.push(`rename dir ${d.rel} -> ${fresh}`);
          } else if (op < 84 && files.length + dirs.length > 0) {
            const t = pick([...files, ...dirs]);
            const mode = t.st.isDirectory()
              ? pick([0o755, 0o700, 0o775])
              : pick([0o644, 0o755, 0o600, 0o640]);
            await chmod(abs(t.rel), mode);
            changed.push(t.rel);
            log.push(`chmod ${mode.toString(8)} ${t.rel}`);
          } else if (op < 92) {
            // Symlink create or retarget (atomically, like ln -sfn).
            const target = pick(['a', 'missing', '../outside', pick(NAMES), `${pick(NAMES)}/${pick(NAMES)}`]);
            const at = links.length > 0 && rand() < 0.5 ? pick(links).rel : fresh;
            if (at !== fresh || !exists(fresh)) {
              await symlink(target, abs(`${at}.tmp-ln`));
              await rename(abs(`${at}.tmp-ln`), abs(at));
              changed.push(at);
              log.push(`symlink ${at} -> ${target}`);
            }
          } else if (op < 96 && files.length > 0 && !exists(fresh)) {
            const f = pick(files);
            await link(abs(f.rel), abs(fresh));
            hardlinkOps++;
            changed.push(fresh);
            log.push(`hardlink ${fresh} = ${f.rel}`);
          } else if (op >= 96) {
            await writeFile(join(ctx, '.dockerignore'), rand() < 0.5 ? IGNORE : `${IGNORE}${pick(NAMES)}\n`);
            changed.push('.dockerignore');
            log.push('edit .dockerignore');
          }
        } catch (err) {
          // An op the random tree made impossible (e.g. parent is a file): the fs is unchanged.
          const code = (err as NodeJS.ErrnoException).code;
          if (!['ENOTDIR', 'EEXIST', 'EISDIR', 'ENOTEMPTY', 'EINVAL', 'ENOENT'].includes(code ?? ''))
            throw err;
        }
      }
      scan = await updateScan(scan, changed, opts);
      await assertSameAsFresh(scan, opts, `seed ${seed} step ${step}: ${log.join('; ')}`);
    }
    // The index kept by the updates is current: a scan that trusts it hashes nothing, except files
    // whose ctime changed through a hardlink made or removed elsewhere (not among the reported paths).
    await indexWritesSettled();
    const trusting = await scanContext(opts);
    assert.ok(
      trusting.stats.hashed <= 2 * hardlinkOps,
      `seed ${seed}: index current (${trusting.stats.hashed} hashed, ${hardlinkOps} hardlinks made)`,
    );
  }
});

test('a one-file change re-reads one file; the previous scan is left as it was', async () => {
  const { ctx, indexDir } = await tempContext();
  for (let i = 0; i < 30; i++) {
    await mkdir(join(ctx, `d${i % 3}`), { recursive: true });
    await writeFile(join(ctx, `d${i % 3}`, `f${i}`), `v${i}`);
  }
  const opts = { contextDir: ctx, indexDir };
  const first = await scanContext(opts);
  const before = JSON.stringify(first.entries);
  await writeFile(join(ctx, 'd1', 'f4'), 'changed!');
  const next = await updateScan(first, ['d1/f4'], opts);
  assert.equal(next.stats.hashed, 1);
  assert.equal(next.stats.reused, 0);
  assert.equal(next.entries.find((e) => e.path === 'd1/f4')!.digest, sha('changed!'));
  assert.equal(JSON.stringify(first.entries), before, 'previous manifest untouched');
  assert.ok(first.blobs.has(sha('v4')) && !next.blobs.has(sha('v4')));
  await assertSameAsFresh(next, opts, 'one file');
  // An unchanged path reported anyway changes nothing; updating an old scan again falls back to a full scan.
  const same = await updateScan(next, ['d2/f5'], opts);
  assert.deepEqual(same.entries, next.entries);
  const again = await updateScan(first, ['d1/f4'], opts);
  assert.equal(again.stats.hashed + again.stats.reused, 30, 'full scan');
  assert.deepEqual(again.entries, next.entries);
});

test('fallbacks: ignore file edits, hardlinks, "." and too many paths give full-scan results', async () => {
  const { root, ctx, indexDir } = await tempContext();
  await mkdir(join(root, 'df'));
  await writeFile(join(root, 'df', 'Dockerfile'), 'FROM scratch\n');
  const opts = { contextDir: ctx, indexDir, dockerfile: join(root, 'df', 'Dockerfile') };
  await writeFile(join(ctx, 'a.log'), 'a');
  await writeFile(join(ctx, 'b.txt'), 'b');
  let scan = await scanContext(opts);
  // The Dockerfile's own ignore file lives outside the context: no changed path names it.
  await writeFile(join(root, 'df', 'Dockerfile.dockerignore'), '*.log\n');
  scan = await updateScan(scan, [], opts);
  assert.deepEqual(
    scan.entries.map((e) => e.path),
    ['b.txt'],
  );
  await writeFile(join(ctx, '.dockerignore'), 'b.txt\n'); // not in use: a plain file
  scan = await updateScan(scan, ['.dockerignore'], opts);
  await assertSameAsFresh(scan, opts, 'unused .dockerignore');
  await link(join(ctx, 'b.txt'), join(ctx, 'c.txt'));
  scan = await updateScan(scan, ['c.txt'], opts);
  assert.equal(scan.entries.find((e) => e.path === 'c.txt')!.type, 'hardlink');
  await writeFile(join(ctx, 'b.txt'), 'both change');
  scan = await updateScan(scan, ['b.txt'], opts);
  await assertSameAsFresh(scan, opts, 'hardlinked file modified');
  await rm(join(ctx, 'b.txt'));
  scan = await updateScan(scan, ['b.txt'], opts);
  await assertSameAsFresh(scan, opts, 'hardlink source removed');
  await writeFile(join(ctx, 'd.txt'), 'd');
  scan = await updateScan(scan, ['.'], opts);
  await assertSameAsFresh(scan, opts, '"." rescans');
  const many = Array.from({ length: 2001 }, (_, i) => `n${i}`);
  scan = await updateScan(scan, many, opts);
  assert.ok(scan.stats.reused + scan.stats.hashed >= 2, 'full scan');
  await assertSameAsFresh(scan, opts, 'many');
  // Paths outside the context are not part of it.
  scan = await updateScan(scan, ['../df/Dockerfile', join(root, 'df', 'Dockerfile')], opts);
  await assertSameAsFresh(scan, opts, 'outside');
});

// How fast it is, in ms, is bench/dev-sync.ts's to say; here: a one-file update does not walk the tree.
test('a one-file change in a 20k-file context is far cheaper than a fresh scan', async (t) => {
  const { ctx, indexDir } = await tempContext();
  for (let d = 0; d < 200; d++) {
    const dir = join(ctx, `pkg${d}`, 'src');
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100; f++)
      fs.writeFileSync(join(dir, `file${f}.ts`), `export const v = ${d * 100 + f};\n`);
  }
  const opts = { contextDir: ctx, indexDir };
  let scan = await scanContext(opts);
  assert.equal(scan.entries.length, 20_400);
  const times: number[] = [];
  const noIndexTimes: number[] = [];
  for (let i = 0; i < 20; i++) {
    const rel = `pkg${(i * 37) % 200}/src/file${(i * 13) % 100}.ts`;
    fs.writeFileSync(join(ctx, rel), `export const v = 'edit ${i}';\n`);
    let t0 = performance.now();
    scan = await updateScan(scan, [rel], opts);
    times.push(performance.now() - t0);
    fs.writeFileSync(join(ctx, rel), `export const v = 'edit ${i} again';\n`);
    t0 = performance.now();
    scan = await updateScan(scan, [rel], { ...opts, noIndex: true });
    noIndexTimes.push(performance.now() - t0);
  }
  await assertSameAsFresh(scan, opts, '20k');
  await indexWritesSettled();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const full = await scanContext(opts);
  t.diagnostic(
    `20k files: updateScan median ${median(times).toFixed(2)} ms (max ${Math.max(...times).toFixed(2)}) with index write, ` +
      `${median(noIndexTimes).toFixed(2)} ms without; full scanContext ${full.stats.ms} ms`,
  );
  // A walk of the tree would cost about what the fresh scan costs: the update must not come near it,
  // however loaded the machine (both run in the same process, under the same load).
  assert.ok(
    median(times) < full.stats.ms / 4,
    `updateScan median ${median(times).toFixed(1)} ms against a fresh scan of ${full.stats.ms} ms`,
  );
});
