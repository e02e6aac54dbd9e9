import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, realpath, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type FSWatcher, watch } from 'chokidar';
import { type ContextWatcher, createContextWatcher, isEditorTemp } from './index.js';

const roots: string[] = [];
const watchers: ContextWatcher[] = [];
after(async () => {
  await Promise.all(watchers.map((w) => w.close()));
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

async function fixture(files: Record<string, string>): Promise<{ root: string; ctx: string }> {
  const root = await realpath(await mkdtemp(join(tmpdir(), 'depot-watch-')));
  roots.push(root);
  const ctx = join(root, 'ctx');
  await mkdir(ctx);
  for (const [path, content] of Object.entries(files)) {
    const abs = join(ctx, path);
    if (path.endsWith('/')) await mkdir(abs, { recursive: true });
    else {
      await mkdir(join(abs, '..'), { recursive: true });
      await writeFile(abs, content);
    }
  }
  return { root, ctx };
}

/** Resolves when `pred` holds, polling it; rejects with `what` after `ms`. */
async function waitFor(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Recorder {
  seen: string[];
  errors: Array<{ message: string; polling: boolean }>;
  batches: number;
  has(path: string): boolean;
  clear(): void;
}

function recorder(): Recorder & { onChange(p: string[]): void; onError(m: string, p: boolean): void } {
  const r = {
    seen: [] as string[],
    errors: [] as Array<{ message: string; polling: boolean }>,
    batches: 0,
    onChange(paths: string[]) {
      r.batches++;
      r.seen.push(...paths);
    },
    onError(message: string, polling: boolean) {
      r.errors.push({ message, polling });
    },
    has: (p: string) => r.seen.includes(p),
    clear() {
      r.seen.length = 0;
    },
  };
  return r;
}

async function started(
  opts: Parameters<typeof createContextWatcher>[0],
): Promise<{ w: ContextWatcher; rec: ReturnType<typeof recorder>; polling: boolean; message: string }> {
  const w = createContextWatcher(opts);
  watchers.push(w);
  const rec = recorder();
  const { polling, message } = await w.start(rec);
  return { w, rec, polling, message };
}

/** Makes a change, then a sentinel file; once the sentinel is seen, earlier events have been delivered. */
async function settle(ctx: string, rec: Recorder, n: { i: number }): Promise<void> {
  const name = `sentinel-${n.i++}`;
  await writeFile(join(ctx, name), 'x');
  await waitFor(() => rec.has(name), name);
}

test('editor temp names', () => {
  for (const n of [
    '.a.txt.swp',
    'x.swx',
    'a.txt~',
    '4913',
    '.#a.txt',
    '#a.txt#',
    'a.txt___jb_tmp___',
    'a___jb_old___',
    '.DS_Store',
  ])
    assert.ok(isEditorTemp(n), n);
  for (const n of ['a.txt', 'swp', '#', 'a#b', 'x.sw']) assert.ok(!isEditorTemp(n), n);
});

for (const usePolling of [false, true]) {
  test(`each change kind is reported with its path (${usePolling ? 'polling' : 'native'})`, async () => {
    const { ctx } = await fixture({
      'a.txt': 'a',
      'gone.txt': 'g',
      'old-name': 'o',
      'dir/x': 'x',
      'rmdir/y': 'y',
      'run.sh': '#!/bin/sh\n',
      target1: '1',
      target2: '2',
    });
    await symlink('target1', join(ctx, 'link'));
    // atime after mtime: chokidar's own change filter drops such a file's chmod.
    await utimes(join(ctx, 'run.sh'), new Date(Date.now() + 60_000), new Date(Date.now() - 60_000));
    const { rec, polling } = await started({ contextDir: ctx, usePolling, pollIntervalMs: 50 });
    assert.equal(polling, usePolling);
    const n = { i: 0 };
    const step = async (what: string, act: () => Promise<void>, expect: string[]): Promise<void> => {
      rec.clear();
      await act();
      await waitFor(
        () => expect.every((p) => rec.has(p)),
        `${what}: ${expect.join(', ')} (saw ${rec.seen.join(', ')})`,
      );
    };
    await step('create', () => writeFile(join(ctx, 'new.txt'), 'n'), ['new.txt']);
    await step('modify', () => writeFile(join(ctx, 'a.txt'), 'changed'), ['a.txt']);
    await step('delete', () => rm(join(ctx, 'gone.txt')), ['gone.txt']);
    await step('rename', () => rename(join(ctx, 'old-name'), join(ctx, 'dir', 'new-name')), [
      'old-name',
      'dir/new-name',
    ]);
    await step('mkdir', async () => {
      await mkdir(join(ctx, 'made'));
      await writeFile(join(ctx, 'made', 'f'), 'f');
    }, ['made', 'made/f']);
    await step('rmdir', () => rm(join(ctx, 'rmdir'), { recursive: true }), ['rmdir']);
    await step('chmod +x', () => chmod(join(ctx, 'run.sh'), 0o755), ['run.sh']);
    await step('chmod dir', () => chmod(join(ctx, 'dir'), 0o700), ['dir']);
    await step('symlink retarget', async () => {
      await symlink('target2', join(ctx, 'link.tmp'));
      await rename(join(ctx, 'link.tmp'), join(ctx, 'link'));
    }, ['link']);
    await step('symlink retarget to a missing path', async () => {
      await rm(join(ctx, 'link'));
      await symlink('nowhere', join(ctx, 'link'));
    }, ['link']);
    await settle(ctx, rec, n);
    assert.ok(!rec.seen.some((p) => p.startsWith('/') || p.includes('\\')), rec.seen.join(', '));
  });
}

test('ignored dirs are not watched and produce no events; .git and editor temp files neither', async () => {
  const { ctx } = await fixture({
    '.dockerignore': 'node_modules\nbuild\n!build/keep\n**/*.log\nDockerfile\n',
    Dockerfile: 'FROM scratch\n',
    'node_modules/pkg/index.js': '',
    'build/out/x': '',
    'build/keep/y': '',
    '.git/HEAD': 'ref: refs/heads/main\n',
    'src/a.ts': '',
  });
  const { w, rec } = await started({ contextDir: ctx, dockerfile: join(ctx, 'Dockerfile') });
  const watched = w.getWatched();
  const dirs = Object.keys(watched);
  assert.ok(dirs.includes(join(ctx, 'src')), dirs.join(', '));
  assert.ok(dirs.includes(join(ctx, 'build', 'keep')), 'an excluded dir a ! pattern re-includes is watched');
  for (const ignored of ['node_modules', 'node_modules/pkg', '.git', 'build/out'])
    assert.ok(!dirs.includes(join(ctx, ignored)), `${ignored} not watched`);
  assert.ok(!watched[ctx]!.includes('node_modules') && !watched[ctx]!.includes('.git'));

  const n = { i: 0 };
  await writeFile(join(ctx, 'node_modules', 'pkg', 'index.js'), 'changed');
  await writeFile(join(ctx, 'node_modules', 'new.js'), '');
  await writeFile(join(ctx, '.git', 'HEAD'), 'ref: refs/heads/other\n');
  await writeFile(join(ctx, 'src', 'debug.log'), 'excluded file');
  for (const temp of [
    '.a.ts.swp',
    '.a.ts.swx',
    'a.ts~',
    '4913',
    '.#a.ts',
    '#a.ts#',
    'a.ts___jb_tmp___',
    'a.ts___jb_old___',
    '.DS_Store',
  ])
    await writeFile(join(ctx, 'src', temp), 'tmp');
  await rm(join(ctx, 'src', '4913'));
  await settle(ctx, rec, n);
  assert.deepEqual(
    rec.seen.filter((p) => !p.startsWith('sentinel-')),
    [],
  );

  // The ignore file and the Dockerfile are reported although the rules exclude the Dockerfile.
  await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nLABEL a=b\n');
  await waitFor(() => rec.has('Dockerfile'), 'Dockerfile');
  await writeFile(join(ctx, '.dockerignore'), 'build\n!build/keep\n**/*.log\nDockerfile\n');
  await waitFor(() => rec.has('.dockerignore'), '.dockerignore');
  // node_modules is no longer excluded: the watcher restarted with the new rules.
  await waitFor(
    () => Object.keys(w.getWatched()).includes(join(ctx, 'node_modules')),
    'node_modules watched',
  );
  rec.clear();
  await writeFile(join(ctx, 'node_modules', 'pkg', 'index.js'), 'changed again');
  await waitFor(() => rec.has('node_modules/pkg/index.js'), 'node_modules/pkg/index.js');
});

test('a Dockerfile outside the context and its ignore file are reported as ../ paths', async () => {
  const { root, ctx } = await fixture({ 'a.txt': '' });
  await mkdir(join(root, 'df'));
  await writeFile(join(root, 'df', 'Dockerfile'), 'FROM scratch\n');
  const { rec } = await started({ contextDir: ctx, dockerfile: join(root, 'df', 'Dockerfile') });
  await writeFile(join(root, 'df', 'Dockerfile'), 'FROM scratch\nLABEL x=y\n');
  await waitFor(() => rec.has('../df/Dockerfile'), '../df/Dockerfile');
  await writeFile(join(root, 'df', 'Dockerfile.dockerignore'), 'a.txt\n');
  await waitFor(() => rec.has('../df/Dockerfile.dockerignore'), '../df/Dockerfile.dockerignore');
});

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: System limit for number of file watchers reached, watch'), {
    code: 'ENOSPC',
  });
}

test('a watcher error after start falls back to polling and keeps reporting', async () => {
  const { ctx } = await fixture({ 'a.txt': 'a' });
  const created: FSWatcher[] = [];
  const { rec, polling } = await started({
    contextDir: ctx,
    pollIntervalMs: 50,
    chokidarFactory: (paths, options) => {
      const w = watch(paths, options);
      created.push(w);
      return w;
    },
  });
  assert.equal(polling, false);
  assert.equal(created[0]!.options.usePolling, false);
  created[0]!.emit('error', enospc());
  await waitFor(() => rec.errors.length > 0 && created.length === 2, 'fallback');
  assert.deepEqual(rec.errors[0], {
    message:
      'file watching failed (inotify watch limit reached: raise fs.inotify.max_user_watches); falling back to polling',
    polling: true,
  });
  assert.equal(created[1]!.options.usePolling, true);
  assert.equal(created[0]!.closed, true);
  await waitFor(() => rec.has('.'), 'a full rescan asked for after the restart');
  await writeFile(join(ctx, 'a.txt'), 'changed while polling');
  await waitFor(() => rec.has('a.txt'), 'a.txt while polling');
});

test('a watcher error before ready starts polling; start reports it', async () => {
  const { ctx } = await fixture({ 'a.txt': 'a' });
  let calls = 0;
  const { rec, polling, message } = await started({
    contextDir: ctx,
    pollIntervalMs: 50,
    chokidarFactory: (paths, options) => {
      const w = watch(paths, options);
      if (calls++ === 0)
        process.nextTick(() => w.emit('error', Object.assign(new Error('EMFILE'), { code: 'EMFILE' })));
      return w;
    },
  });
  assert.equal(polling, true);
  assert.match(message, /too many open files.*falling back to polling/);
  assert.equal(rec.errors.length, 1);
  await writeFile(join(ctx, 'b.txt'), 'b');
  await waitFor(() => rec.has('b.txt'), 'b.txt');
  assert.ok(!rec.has('.'), 'nothing was missed: no rescan asked for');
});

test('a bad ignore file while watching: reported, the last good rules stay, the fix takes over', async () => {
  const { ctx } = await fixture({
    '.dockerignore': 'node_modules\n',
    'node_modules/pkg/a.js': '',
    'a.txt': '',
  });
  const rules: string[] = [];
  const w = createContextWatcher({ contextDir: ctx });
  watchers.push(w);
  const rec = recorder();
  await w.start({ ...rec, onIgnoreRules: (e) => rules.push(e) });
  const n = { i: 0 };

  await writeFile(join(ctx, '.dockerignore'), 'node_modules\n[\n');
  // A write may show the truncated (empty, valid) file first: wait for the last word.
  await waitFor(() => /line 2/.test(rules.at(-1) ?? ''), 'the rules error');
  assert.match(rules.at(-1) ?? '', /\.dockerignore line 2: bad pattern "\[": .+ \(fix or remove the line\)$/);
  // Still watching, with the last good rules: node_modules stays ignored, other changes are seen.
  rec.clear();
  await writeFile(join(ctx, 'node_modules', 'pkg', 'a.js'), 'changed');
  await writeFile(join(ctx, 'a.txt'), 'changed');
  await waitFor(() => rec.has('a.txt'), 'a.txt');
  await settle(ctx, rec, n);
  assert.ok(!rec.has('node_modules/pkg/a.js'), rec.seen.join(' '));
  assert.ok(!Object.keys(w.getWatched()).includes(join(ctx, 'node_modules')));

  await writeFile(join(ctx, '.dockerignore'), '!\n');
  await waitFor(
    () => /line 1: bad pattern "!"/.test(rules.at(-1) ?? ''),
    `the second rules error ${JSON.stringify(rules)} ${rec.seen}`,
  );

  // The fix: the error clears, the new rules apply (node_modules watched) and '.' asks for a rescan.
  rec.clear();
  await writeFile(join(ctx, '.dockerignore'), 'build\n');
  await waitFor(() => rules.at(-1) === '', 'the rules fixed');
  await waitFor(() => rec.has('.'), 'a full rescan');
  await waitFor(
    () => Object.keys(w.getWatched()).includes(join(ctx, 'node_modules')),
    'node_modules watched',
  );
  await writeFile(join(ctx, 'node_modules', 'pkg', 'a.js'), 'changed again');
  await waitFor(() => rec.has('node_modules/pkg/a.js'), 'node_modules/pkg/a.js');
});

test('starting with a bad ignore file: start succeeds, only the ignore file is watched until it is fixed', async () => {
  const { ctx } = await fixture({ '.dockerignore': '[\n', 'a.txt': '' });
  const rules: string[] = [];
  const w = createContextWatcher({ contextDir: ctx });
  watchers.push(w);
  const rec = recorder();
  await w.start({ ...rec, onIgnoreRules: (e) => rules.push(e) });
  assert.equal(rules.length, 1);
  assert.match(rules[0] ?? '', /line 1: bad pattern "\["/);

  await writeFile(join(ctx, '.dockerignore'), '*.log\n');
  await waitFor(() => rules.at(-1) === '', 'the rules fixed');
  await waitFor(() => rec.has('.'), 'a full rescan');
  rec.clear();
  await writeFile(join(ctx, 'a.txt'), 'edited');
  await waitFor(() => rec.has('a.txt'), 'a.txt after the fix');
});
