import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { OutputEvent__Output } from '../protocol/index.js';
import { createLocalWriter } from './writer.js';

const entry = (path: string, type: string, extra: Record<string, unknown> = {}): OutputEvent__Output =>
  ({
    msg: 'entry',
    entry: {
      path,
      type,
      mode: 0o644,
      size: 0,
      mtimeNs: 1.7e18,
      link: '',
      unchanged: false,
      digest: '',
      ...extra,
    },
  }) as unknown as OutputEvent__Output;
const data = (b: string) => ({ msg: 'data', data: Buffer.from(b) }) as unknown as OutputEvent__Output;
const end = (b: string) =>
  ({
    msg: 'fileEnd',
    fileEnd: `sha256:${createHash('sha256').update(b).digest('hex')}`,
  }) as unknown as OutputEvent__Output;
const done = {
  msg: 'done',
  done: { files: 1, filesUnchanged: 0, bytes: 1, bytesSent: 1 },
} as unknown as OutputEvent__Output;

test('a local output is written beside DEST and replaces it only on commit', async () => {
  const root = mkdtempSync(join(tmpdir(), 'depot-out-'));
  const dest = join(root, 'dest');
  const w = await createLocalWriter(dest);
  for (const ev of [
    entry('d', 'ENTRY_TYPE_DIR', { mode: 0o755 }),
    entry('d/f', 'ENTRY_TYPE_FILE'),
    data('hi'),
    end('hi'),
    entry('l', 'ENTRY_TYPE_SYMLINK', { link: '/etc/passwd' }),
    done,
  ])
    await w.handle(ev);
  assert.equal(existsSync(dest), false, 'nothing in DEST before commit');
  await w.commit();
  assert.equal(readFileSync(join(dest, 'd/f'), 'utf8'), 'hi');
  assert.equal(readlinkSync(join(dest, 'l')), '/etc/passwd');
  assert.deepEqual(readdirSync(root), ['dest']);
});

test('paths through a symlink, .., absolute or unlisted unchanged files are refused and nothing is left', async () => {
  for (const evs of [
    [entry('l', 'ENTRY_TYPE_SYMLINK', { link: '/tmp' }), entry('l/x', 'ENTRY_TYPE_FILE')],
    [entry('../x', 'ENTRY_TYPE_FILE')],
    [entry('/etc/x', 'ENTRY_TYPE_FILE')],
    [entry('a/b', 'ENTRY_TYPE_FILE')],
    [entry('h', 'ENTRY_TYPE_HARDLINK', { link: '/etc/passwd' })],
    [entry('u', 'ENTRY_TYPE_FILE', { unchanged: true, digest: `sha256:${'0'.repeat(64)}` })],
    [entry('f', 'ENTRY_TYPE_FILE'), data('x'), end('y')],
  ]) {
    const root = mkdtempSync(join(tmpdir(), 'depot-out-'));
    const dest = join(root, 'dest');
    const w = await createLocalWriter(dest);
    await assert.rejects(async () => {
      for (const ev of evs) await w.handle(ev);
    }, /bad output|digest/);
    await w.abort();
    assert.deepEqual(readdirSync(root), []);
  }
});

test('DEST that is a file is refused before the build', async () => {
  const root = mkdtempSync(join(tmpdir(), 'depot-out-'));
  writeFileSync(join(root, 'f'), 'x');
  await assert.rejects(createLocalWriter(join(root, 'f')), /not a directory/);
});
