import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { readStdinContext } from './stdin-context.js';

type Entry = {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  body?: string;
  linkname?: string;
};

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  for (const e of entries)
    p.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: 0o644 }, e.body ?? '');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Feeds the bytes in small chunks, as a pipe would. */
const chunked = (b: Buffer, size = 100) =>
  Readable.from(
    Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size)),
  );

function dirs() {
  const root = mkdtempSync(join(tmpdir(), 'stdin-ctx-'));
  const outside = join(root, 'outside');
  const ctx = join(root, 'ctx');
  return { root, outside, ctx };
}

test('an ordinary context tar (plain and gzipped) unpacks with dirs, symlinks and hardlinks', async () => {
  const entries: Entry[] = [
    { name: './', type: 'directory' },
    { name: 'Dockerfile', body: 'FROM busybox\n' },
    { name: 'src/', type: 'directory' },
    { name: 'src/a.txt', body: 'a' },
    { name: 'deep/er/b.txt', body: 'b' },
    { name: 'link-to-a', type: 'symlink', linkname: 'src/a.txt' },
    { name: 'abs-link', type: 'symlink', linkname: '/etc/hostname' },
    { name: 'hard-a', type: 'link', linkname: 'src/a.txt' },
  ];
  const tar = await tarOf(entries);
  for (const bytes of [tar, gzipSync(tar)]) {
    const { ctx } = dirs();
    await import('node:fs/promises').then((f) => f.mkdir(ctx));
    assert.equal(await readStdinContext(chunked(bytes), ctx), undefined);
    assert.equal(readFileSync(join(ctx, 'Dockerfile'), 'utf8'), 'FROM busybox\n');
    assert.equal(readFileSync(join(ctx, 'deep/er/b.txt'), 'utf8'), 'b');
    assert.equal(readlinkSync(join(ctx, 'link-to-a')), 'src/a.txt');
    assert.equal(readlinkSync(join(ctx, 'abs-link')), '/etc/hostname');
    assert.equal(lstatSync(join(ctx, 'hard-a')).ino, lstatSync(join(ctx, 'src/a.txt')).ino);
  }
});

test('stdin that is no tar is a Dockerfile', async () => {
  const { ctx } = dirs();
  const df = Buffer.from('FROM busybox\nRUN echo hi\n');
  assert.deepEqual(await readStdinContext(chunked(df, 5), ctx), df);
});

test('a tar that writes through a symlink, escapes, or hardlinks outside is refused', async () => {
  const cases: [string, Entry[], RegExp][] = [
    [
      'through a symlink dir',
      [
        { name: 'a', type: 'symlink', linkname: '<outside>' },
        { name: 'a/x', body: 'pwned' },
      ],
      /"a\/x": a is a symlink earlier in the tar/,
    ],
    [
      'deeper through a relative symlink',
      [
        { name: 'd/', type: 'directory' },
        { name: 'd/up', type: 'symlink', linkname: '../..' },
        { name: 'd/up/outside/x', body: 'pwned' },
      ],
      /up is a symlink earlier in the tar/,
    ],
    ['absolute', [{ name: '/tmp/x', body: 'pwned' }], /path is absolute|is a symlink/],
    ['dot-dot', [{ name: '../outside/x', body: 'pwned' }], /path contains \.\./],
    [
      'hardlink outside',
      [{ name: 'h', type: 'link', linkname: '../outside/secret' }],
      /hardlink to "..\/outside\/secret": path contains \.\./,
    ],
    [
      'hardlink through a symlink',
      [
        { name: 'a', type: 'symlink', linkname: '<outside>' },
        { name: 'h', type: 'link', linkname: 'a/secret' },
      ],
      /goes through a symlink/,
    ],
  ];
  for (const [what, entries, message] of cases) {
    const { outside, ctx } = dirs();
    await import('node:fs/promises').then(async (f) => {
      await f.mkdir(outside);
      await f.mkdir(ctx);
    });
    writeFileSync(join(outside, 'secret'), 'secret');
    const tar = await tarOf(
      entries.map((e) => ({ ...e, linkname: e.linkname?.replace('<outside>', outside) })),
    );
    await assert.rejects(
      readStdinContext(chunked(tar), ctx),
      (e: Error & { code?: string }) => e.code === 'invalid_context' && message.test(e.message),
      what,
    );
    assert.ok(!existsSync(join(outside, 'x')), `${what}: nothing written outside`);
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'secret', what);
  }
});

test('a file after a symlink of the same name replaces the link, not its target', async () => {
  const { outside, ctx } = dirs();
  await import('node:fs/promises').then(async (f) => {
    await f.mkdir(outside);
    await f.mkdir(ctx);
  });
  writeFileSync(join(outside, 'secret'), 'secret');
  const tar = await tarOf([
    { name: 'a', type: 'symlink', linkname: join(outside, 'secret') },
    { name: 'a', body: 'mine' },
  ]);
  await readStdinContext(chunked(tar), ctx);
  assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'secret');
  assert.equal(readFileSync(join(ctx, 'a'), 'utf8'), 'mine');
  assert.ok(lstatSync(join(ctx, 'a')).isFile());
});

test('a truncated or corrupt tar is a clear error', async () => {
  const { ctx } = dirs();
  const tar = await tarOf([{ name: 'a', body: 'x'.repeat(3000) }]);
  await assert.rejects(
    readStdinContext(chunked(gzipSync(tar).subarray(0, 60)), ctx),
    (e: Error & { code?: string }) =>
      e.code === 'invalid_context' && /cannot read the context tar/.test(e.message),
  );
});
