import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ContextError, PatternMatcher, parseDockerignore, readIgnorePatterns } from './index.js';

test('parseDockerignore follows moby ReadAll: comments, trimming, !, cleaning, leading /', () => {
  const text = [
    '\ufeff# comment',
    '',
    '   ',
    '  *.log  ',
    '!  keep.log',
    '/abs/path/',
    './a/../b//c/.',
    '  # not a comment',
    'crlf\r',
    '!/x',
    '/',
  ].join('\n');
  assert.deepEqual(parseDockerignore(text), [
    '*.log',
    '!keep.log',
    'abs/path',
    'b/c',
    '# not a comment',
    'crlf',
    '!x',
    '/',
  ]);
});

test('matcher: last match wins and ! re-includes', () => {
  const m = new PatternMatcher(['*.log', '!keep.log']);
  assert.equal(m.matches('a.log'), true);
  assert.equal(m.matches('keep.log'), false);
  assert.equal(m.matches('sub/a.log'), false, '* does not cross /');
  assert.equal(m.matches('a.txt'), false);
});

test('matcher: ** spans any number of directories, including none', () => {
  const m = new PatternMatcher(['**/*.md']);
  assert.equal(m.matches('a.md'), true);
  assert.equal(m.matches('x/y/z/a.md'), true);
  assert.equal(m.matches('x/y/z'), false);
  const all = new PatternMatcher(['docs/**']);
  assert.equal(all.matches('docs/a/b'), true);
  assert.equal(all.matches('docs'), false);
});

test('matcher: ? and character classes', () => {
  const m = new PatternMatcher(['file?.txt', 'log[0-9]', 'v[a-c]x', '[!a]q']);
  assert.equal(m.matches('file1.txt'), true);
  assert.equal(m.matches('file10.txt'), false);
  assert.equal(m.matches('file/.txt'), false, '? does not match /');
  assert.equal(m.matches('log7'), true);
  assert.equal(m.matches('logx'), false);
  assert.equal(m.matches('vbx'), true);
  assert.equal(m.matches('vdx'), false);
  // Docker passes [..] to Go regexp, where ! is not negation.
  assert.equal(m.matches('!q'), true);
  assert.equal(m.matches('bq'), false);
});

test('matcher: case-sensitive like Docker on Linux', () => {
  const m = new PatternMatcher(['upper.txt']);
  assert.equal(m.matches('Upper.TXT'), false);
  assert.equal(m.matches('upper.txt'), true);
});

test('matcher: a pattern matching a parent directory excludes what is inside', () => {
  const m = new PatternMatcher(['dir', '!dir/sub/keep']);
  assert.equal(m.matches('dir'), true);
  assert.equal(m.matches('dir/a'), true);
  assert.equal(m.matches('dir/sub/keep'), false);
  assert.equal(m.matches('dir/sub/keep/deeper'), false);
  assert.equal(m.descendsInto('dir'), true);
  assert.equal(m.descendsInto('dir/sub'), true);
  assert.equal(m.descendsInto('dir/other'), false);
});

test('matcher: ** parent check tests only the ancestor as deep as the pattern (moby quirk)', () => {
  // Verified with docker build 20.10: a/b/foo/x is sent.
  const m = new PatternMatcher(['**/foo', '!a/b/foo/keep']);
  assert.equal(m.matches('a/b/foo'), true);
  assert.equal(m.matches('a/b/foo/x'), false);
  assert.equal(m.matches('q/foo/x'), true, 'ancestor q/foo has as many parts as the pattern');
  assert.equal(m.matches('foo/x'), false, 'ancestor foo has fewer parts than the pattern');
});

test('matcher: wildcard exceptions do not open excluded directories', () => {
  const m = new PatternMatcher(['wild', '!**/keep.txt']);
  assert.equal(m.matches('wild'), true);
  assert.equal(m.descendsInto('wild'), false);
});

test('matcher: special characters, unicode and escapes', () => {
  const m = new PatternMatcher(['a+b', 'c$d', 'é?', '\\*star', 'x(y)']);
  assert.equal(m.matches('a+b'), false, '+ is regexp syntax in moby');
  assert.equal(m.matches('aab'), true);
  assert.equal(m.matches('c$d'), true);
  assert.equal(m.matches('é😀'), true, '? matches one code point');
  assert.equal(m.matches('*star'), true);
  assert.equal(m.matches('xstar'), false);
  assert.equal(m.matches('xy'), true);
});

test('matcher: ! alone and malformed patterns are errors', () => {
  assert.throws(
    () => new PatternMatcher(['!']),
    (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'invalid_ignore_pattern',
  );
  assert.throws(
    () => new PatternMatcher(['[unclosed']),
    (e: unknown) => (e as { code?: string }).code === 'invalid_ignore_pattern',
  );
});

test('readIgnorePatterns: <Dockerfile>.dockerignore wins over <context>/.dockerignore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'depot-ignore-'));
  try {
    const ctx = join(dir, 'ctx');
    const df = join(dir, 'docker');
    await mkdir(ctx);
    await mkdir(df);
    await writeFile(join(ctx, '.dockerignore'), 'a\n');
    assert.deepEqual(await readIgnorePatterns(ctx), { patterns: ['a'], source: join(ctx, '.dockerignore') });
    assert.deepEqual((await readIgnorePatterns(ctx, join(df, 'Dockerfile'))).patterns, ['a']);
    await writeFile(join(df, 'Dockerfile.dockerignore'), 'b\n!c\n');
    assert.deepEqual(await readIgnorePatterns(ctx, join(df, 'Dockerfile')), {
      patterns: ['b', '!c'],
      source: join(df, 'Dockerfile.dockerignore'),
    });
    await rm(join(ctx, '.dockerignore'));
    assert.deepEqual(await readIgnorePatterns(ctx), { patterns: [], source: undefined });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('readIgnorePatterns: a bad line is a ContextError naming the file and the line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'depot-ignore-'));
  try {
    await writeFile(join(dir, '.dockerignore'), '# comment\n*.log\n[\n');
    await assert.rejects(readIgnorePatterns(dir), (e: unknown) => {
      assert.ok(e instanceof ContextError);
      assert.equal(e.code, 'invalid_ignore_pattern');
      assert.equal(
        e.message,
        `${join(dir, '.dockerignore')} line 3: bad pattern "[": unterminated character class (fix or remove the line)`,
      );
      return true;
    });
    await writeFile(join(dir, '.dockerignore'), 'a\n  !  \n');
    await assert.rejects(readIgnorePatterns(dir), /\.dockerignore line 2: bad pattern "!": a lone "!"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
