import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmod,
  link,
  mkdir,
  mkdtemp,
  readdir,
  realpath,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sortEntries, validateManifest } from '../protocol/index.js';
import { ContextError, type ContextScan, contextListJson, formatContextList, scanContext } from './index.js';

const roots: string[] = [];
after(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

/** Creates a temp folder with `files` (path -> content; a trailing '/' makes a directory). */
async function fixture(
  files: Record<string, string>,
): Promise<{ root: string; ctx: string; indexDir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'depot-scan-'));
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
  return { root, ctx, indexDir: join(root, 'index') };
}

function paths(scan: ContextScan): string[] {
  return scan.entries.map((e) => e.path);
}

function sha(content: string): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

test('ignore rules send what docker build 20.10 sent for the same tree', async () => {
  // Expected list captured from `docker build` + `RUN find /ctx` on this tree.
  const { ctx } = await fixture({
    '.dockerignore': [
      '# comment',
      '*.log',
      '!keep.log',
      'dir',
      '!dir/sub/keep',
      'wild',
      '!**/keep.txt',
      'node_modules',
      '**/*.md',
      '!x/y/g.md',
      'upper.txt',
    ].join('\n'),
    Dockerfile: 'FROM scratch\n',
    'a.txt': '',
    'b.log': '',
    'keep.log': '',
    'Upper.TXT': '',
    'dir/a': '',
    'dir/sub/keep': '',
    'dir/sub/nokeep': '',
    'dir/other/x': '',
    'wild/keep.txt': '',
    'wild/deep/keep.txt': '',
    'wild/nope': '',
    'empty/': '',
    'node_modules/pkg/i.js': '',
    'x/y/z/f.md': '',
    'x/y/g.md': '',
  });
  const scan = await scanContext({ contextDir: ctx, noIndex: true });
  assert.deepEqual(paths(scan), [
    '.dockerignore',
    'Dockerfile',
    'Upper.TXT',
    'a.txt',
    'dir',
    'dir/sub',
    'dir/sub/keep',
    'empty',
    'keep.log',
    'x',
    'x/y',
    'x/y/g.md',
    'x/y/z',
  ]);
  validateManifest(scan.entries);
});

test('an excluded dir opened by a literal exception is sent even when nothing below matches', async () => {
  // docker build sends dir/ and dir/sub/ here although dir/sub/keep does not exist.
  const { ctx } = await fixture({
    '.dockerignore': 'dir\n!dir/sub/keep\n',
    'dir/a': '',
    'dir/sub/other': '',
  });
  const scan = await scanContext({ contextDir: ctx, noIndex: true });
  assert.deepEqual(paths(scan), ['.dockerignore', 'dir', 'dir/sub']);
});

test('patterns with ?, [a-z] and ** apply to the walk', async () => {
  const { ctx } = await fixture({
    '.dockerignore': 'f?.txt\nlog[a-c]\n**/tmp\n!keep/**/tmp\n',
    'f1.txt': '',
    'f12.txt': '',
    loga: '',
    logd: '',
    'a/b/tmp/x': '',
    'keep/c/tmp/y': '',
    'tmp/z': '',
  });
  const scan = await scanContext({ contextDir: ctx, noIndex: true });
  assert.deepEqual(paths(scan), [
    '.dockerignore',
    'a',
    'a/b',
    'f12.txt',
    'keep',
    'keep/c',
    'keep/c/tmp',
    'keep/c/tmp/y',
    'logd',
  ]);
});

test('<Dockerfile>.dockerignore next to the Dockerfile takes precedence', async () => {
  const { root, ctx } = await fixture({ '.dockerignore': 'a.txt\n', 'a.txt': '', 'b.log': '' });
  await mkdir(join(root, 'df'));
  await writeFile(join(root, 'df', 'Dockerfile'), 'FROM scratch\n');
  await writeFile(join(root, 'df', 'Dockerfile.dockerignore'), '*.log\n');
  const withDf = await scanContext({
    contextDir: ctx,
    dockerfile: join(root, 'df', 'Dockerfile'),
    noIndex: true,
  });
  assert.deepEqual(paths(withDf), ['.dockerignore', 'a.txt']);
  const plain = await scanContext({ contextDir: ctx, noIndex: true });
  assert.deepEqual(paths(plain), ['.dockerignore', 'b.log']);
});

test('entry kinds: files, empty dirs, exec bits, symlinks never followed, fifos skipped', async () => {
  const { root, ctx } = await fixture({ 'run.sh': '#!/bin/sh\n', 'data/file.txt': 'hello', 'empty/': '' });
  await chmod(join(ctx, 'run.sh'), 0o755);
  await chmod(join(ctx, 'empty'), 0o700);
  await chmod(join(ctx, 'data', 'file.txt'), 0o640);
  await writeFile(join(root, 'outside.txt'), 'secret');
  await symlink('data/file.txt', join(ctx, 'l-file'));
  await symlink('data', join(ctx, 'l-dir'));
  await symlink('does/not/exist', join(ctx, 'l-dangling'));
  await symlink(join(root, 'outside.txt'), join(ctx, 'l-abs'));
  execFileSync('mkfifo', [join(ctx, 'fifo')]);
  const mtime = new Date('2020-01-02T03:04:05.500Z');
  await utimes(join(ctx, 'data', 'file.txt'), mtime, mtime);

  const scan = await scanContext({ contextDir: ctx, noIndex: true });
  const by = new Map(scan.entries.map((e) => [e.path, e]));
  assert.deepEqual(paths(scan), [
    'data',
    'data/file.txt',
    'empty',
    'l-abs',
    'l-dangling',
    'l-dir',
    'l-file',
    'run.sh',
  ]);
  assert.deepEqual(by.get('data/file.txt'), {
    path: 'data/file.txt',
    type: 'file',
    mode: 0o640,
    uid: 0,
    gid: 0,
    size: 5,
    mtimeMs: Date.parse('2020-01-02T03:04:05.500Z'),
    digest: sha('hello'),
    link: '',
  });
  assert.equal(by.get('run.sh')!.mode, 0o755);
  assert.equal(by.get('empty')!.type, 'dir');
  assert.equal(by.get('empty')!.mode, 0o700);
  assert.equal(by.get('empty')!.size, 0);
  assert.deepEqual(
    ['l-file', 'l-dir', 'l-dangling', 'l-abs'].map((p) => [
      by.get(p)!.type,
      by.get(p)!.link,
      by.get(p)!.digest,
    ]),
    [
      ['symlink', 'data/file.txt', ''],
      ['symlink', 'data', ''],
      ['symlink', 'does/not/exist', ''],
      ['symlink', join(root, 'outside.txt'), ''],
    ],
  );
  assert.ok(!paths(scan).some((p) => p.startsWith('l-dir/')), 'symlinked dir not descended');
  assert.equal(scan.blobs.get(sha('hello')), join(scan.contextDir, 'data', 'file.txt'));
  assert.ok(!scan.blobs.has(sha('secret')), 'absolute symlink target not read');
  validateManifest(scan.entries);
});

test('hardlinks: first path in canonical order is the file, later ones link to it', async () => {
  const { ctx } = await fixture({ 'b/orig': 'same inode', solo: 'x' });
  await link(join(ctx, 'b', 'orig'), join(ctx, 'a.txt'));
  await link(join(ctx, 'b', 'orig'), join(ctx, 'c'));
  const scan = await scanContext({ contextDir: ctx, noIndex: true });
  const by = new Map(scan.entries.map((e) => [e.path, e]));
  assert.equal(by.get('a.txt')!.type, 'file');
  for (const p of ['b/orig', 'c']) {
    assert.equal(by.get(p)!.type, 'hardlink');
    assert.equal(by.get(p)!.link, 'a.txt');
    assert.equal(by.get(p)!.digest, sha('same inode'));
    assert.equal(by.get(p)!.size, 10);
  }
  assert.equal(scan.stats.hashed, 2, 'a hardlinked inode is hashed once');
  validateManifest(scan.entries);
});

test('odd names: spaces, unicode, newlines, long paths; order is canonical byte order', async () => {
  const long = Array.from({ length: 12 }, (_, i) => `segment-${i}-${'x'.repeat(40)}`).join('/');
  const names = [
    'with space',
    'ünïcödé',
    '日本語',
    'new\nline',
    'emoji😀',
    '\uff5e',
    'tab\there',
    `${long}/leaf`,
  ];
  const files: Record<string, string> = {};
  for (const n of names) files[n] = n;
  const { ctx } = await fixture(files);
  const scan = await scanContext({ contextDir: ctx, noIndex: true });
  for (const n of names) assert.ok(paths(scan).includes(n), `missing ${JSON.stringify(n)}`);
  assert.deepEqual(
    paths(scan),
    sortEntries(scan.entries).map((e) => e.path),
  );
  const nl = scan.entries.find((e) => e.path === 'new\nline')!;
  assert.equal(nl.digest, sha('new\nline'));
  validateManifest(scan.entries);
});

test('canonical order compares UTF-8 bytes, not UTF-16 units', async () => {
  const { ctx } = await fixture({ '\uff5e': '', '😀': '', 'a.txt': '', 'a/b': '' });
  const scan = await scanContext({ contextDir: ctx, noIndex: true });
  // 'a.txt' < 'a/b' ('.' 0x2e < '/' 0x2f); U+FF5E (EF BD 9E) < U+1F600 (F0 9F 98 80).
  assert.deepEqual(paths(scan), ['a', 'a.txt', 'a/b', '\uff5e', '😀']);
});

test('hash index: second scan hashes nothing, touching one file re-hashes exactly one', async () => {
  const files: Record<string, string> = { '.dockerignore': 'ignored/\n' };
  for (let i = 0; i < 50; i++) files[`d${i % 5}/f${i}`] = `content ${i}`;
  files['ignored/x'] = 'never hashed';
  const { ctx, indexDir } = await fixture(files);
  const first = await scanContext({ contextDir: ctx, indexDir });
  assert.equal(first.stats.hashed, 51);
  assert.equal(first.stats.reused, 0);
  assert.deepEqual(await readdir(indexDir).then((f) => f.filter((n) => n.endsWith('.json')).length), 1);

  const second = await scanContext({ contextDir: ctx, indexDir });
  assert.equal(second.stats.hashed, 0);
  assert.equal(second.stats.reused, 51);
  assert.deepEqual(second.entries, first.entries);

  const later = new Date(Date.now() + 5000);
  await utimes(join(ctx, 'd3', 'f8'), later, later);
  const third = await scanContext({ contextDir: ctx, indexDir });
  assert.equal(third.stats.hashed, 1);
  assert.equal(third.stats.reused, 50);

  await writeFile(join(ctx, 'd1', 'f1'), 'changed content!');
  await rm(join(ctx, 'd2', 'f2'));
  const fourth = await scanContext({ contextDir: ctx, indexDir });
  assert.equal(fourth.stats.hashed, 1);
  assert.equal(fourth.entries.find((e) => e.path === 'd1/f1')!.digest, sha('changed content!'));
  assert.ok(!paths(fourth).includes('d2/f2'));

  const noIndex = await scanContext({ contextDir: ctx, indexDir, noIndex: true });
  assert.equal(noIndex.stats.hashed, 50);
  assert.deepEqual(noIndex.entries, fourth.entries);
});

test('a corrupt index is ignored and rebuilt', async () => {
  const { ctx, indexDir } = await fixture({ a: 'a', b: 'b' });
  await scanContext({ contextDir: ctx, indexDir });
  const [file] = (await readdir(indexDir)).filter((n) => n.endsWith('.json'));
  for (const junk of ['{not json', '[]', '{"version":1,"context":"elsewhere","files":{}}', '']) {
    await writeFile(join(indexDir, file!), junk);
    const scan = await scanContext({ contextDir: ctx, indexDir });
    assert.equal(scan.stats.hashed, 2, `after ${JSON.stringify(junk)}`);
    assert.equal((await scanContext({ contextDir: ctx, indexDir })).stats.hashed, 0);
  }
  // A well-formed index whose record carries a bad digest is not trusted.
  await writeFile(
    join(indexDir, file!),
    JSON.stringify({
      version: 1,
      context: await realpath(ctx),
      files: { a: { size: 1, mtimeMs: 0, ino: 0, ctimeMs: 0, digest: 'nope' } },
    }),
  );
  assert.equal((await scanContext({ contextDir: ctx, indexDir })).stats.hashed, 2);
});

test('errors: missing context, file as context', async () => {
  const { root, ctx } = await fixture({ f: '' });
  await assert.rejects(scanContext({ contextDir: join(root, 'nope'), noIndex: true }), (e: unknown) => {
    assert.ok(e instanceof ContextError);
    assert.equal(e.code, 'context_not_found');
    assert.equal(e.message, `build context not found: ${join(root, 'nope')}`);
    return true;
  });
  await assert.rejects(
    scanContext({ contextDir: join(ctx, 'f'), noIndex: true }),
    (e: unknown) => e instanceof ContextError && e.code === 'context_not_dir',
  );
});

test('errors: an unreadable file names the path', async (t) => {
  const { root, ctx } = await fixture({ 'ok.txt': 'x', 'secret.txt': 'x' });
  await chmod(join(ctx, 'secret.txt'), 0o000);
  if (process.getuid?.() !== 0) {
    await assert.rejects(scanContext({ contextDir: ctx, noIndex: true }), (e: unknown) => {
      assert.ok(e instanceof ContextError);
      assert.equal(e.code, 'context_unreadable');
      assert.match(e.message, /secret\.txt/);
      return true;
    });
    return;
  }
  // Root reads anything: run the scan as nobody instead.
  await chmod(root, 0o755);
  const script = `import('${new URL('./index.ts', import.meta.url).href}').then((m) => m.scanContext({ contextDir: ${JSON.stringify(ctx)}, noIndex: true })).then(() => console.log('no error'), (e) => console.log(e.code + ' ' + e.message))`;
  let out: string;
  try {
    out = execFileSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', '-e', script],
      {
        encoding: 'utf8',
        env: { ...process.env, HOME: root },
      },
    );
  } catch {
    t.skip('running as root without setpriv');
    return;
  }
  assert.match(out, /^context_unreadable .*secret\.txt.*EACCES/);
});

test('a symlinked context path resolves to its realpath', async () => {
  const { root, ctx } = await fixture({ f: 'x' });
  await symlink(ctx, join(root, 'alias'));
  const scan = await scanContext({ contextDir: join(root, 'alias'), noIndex: true });
  assert.equal(scan.contextDir, await realpath(ctx));
  assert.deepEqual(paths(scan), ['f']);
});

test('formatContextList and contextListJson render the manifest', async () => {
  const { ctx } = await fixture({ 'a.txt': 'hello', 'dir/': '' });
  await symlink('a.txt', join(ctx, 'ln'));
  await chmod(join(ctx, 'a.txt'), 0o644);
  await chmod(join(ctx, 'dir'), 0o755);
  const scan = await scanContext({ contextDir: ctx, noIndex: true });
  const json = contextListJson(scan.entries);
  assert.deepEqual(json, [
    { path: 'a.txt', type: 'file', mode: 0o644, size: 5, sha256: sha('hello').slice(7), link: '' },
    { path: 'dir', type: 'dir', mode: 0o755, size: 0, sha256: '', link: '' },
    { path: 'ln', type: 'symlink', mode: 0o777, size: 0, sha256: '', link: 'a.txt' },
  ]);
  assert.equal(
    formatContextList(scan.entries),
    ['file     0644 5 a.txt', 'dir      0755 0 dir', 'symlink  0777 0 ln -> a.txt', ''].join('\n'),
  );
});
