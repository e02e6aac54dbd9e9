import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import tar from 'tar-stream';
import type { ContextEntry } from '../../../src/protocol/index.js';
import { createContextTar } from './context-tar.js';

const blobs = new Map<string, Buffer>();
function file(path: string, text: string, mode = 0o644): ContextEntry {
  const buf = Buffer.from(text);
  const digest = `sha256:${createHash('sha256').update(buf).digest('hex')}`;
  blobs.set(digest, buf);
  return {
    path,
    type: 'file',
    mode,
    uid: 501,
    gid: 20,
    size: buf.length,
    mtimeMs: 1_700_000_000_000,
    digest,
    link: '',
  };
}
function dir(path: string): ContextEntry {
  return {
    path,
    type: 'dir',
    mode: 0o755,
    uid: 0,
    gid: 0,
    size: 0,
    mtimeMs: 1_700_000_000_000,
    digest: '',
    link: '',
  };
}
const openBlob = (d: string) => Readable.from([blobs.get(d) ?? Buffer.alloc(0)]);

async function bytes(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function entries(buf: Buffer): Promise<Array<tar.Header & { body: string }>> {
  const ex = tar.extract();
  Readable.from([buf]).pipe(ex as unknown as NodeJS.WritableStream);
  const out: Array<tar.Header & { body: string }> = [];
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e as unknown as AsyncIterable<Buffer>) chunks.push(c);
    out.push({ ...e.header, body: Buffer.concat(chunks).toString('utf8') });
  }
  return out;
}

const longName = `${'deep/'.repeat(10)}${'n'.repeat(120)}.txt`;
const manifest = (): ContextEntry[] => {
  const parts = longName.split('/');
  const dirs = parts.slice(0, -1).map((_, i) => dir(parts.slice(0, i + 1).join('/')));
  const a = file('src/app.js', 'console.log(1)\n', 0o755);
  return [
    file('Dockerfile', 'FROM busybox\n'),
    dir('src'),
    a,
    { ...dir('x'), path: 'src/link', type: 'symlink', link: 'app.js', mode: 0o777 },
    { ...a, path: 'src/hard', type: 'hardlink', size: 0, link: 'src/app.js' },
    file('ünïcode-名前.txt', 'u'),
    ...dirs,
    file(longName, 'long'),
  ];
};

test('writes a sorted tar with modes, mtimes, links, root owner and pax names', async () => {
  const { stream, dockerfilePath } = createContextTar(manifest().reverse(), openBlob);
  assert.equal(dockerfilePath, undefined);
  const got = await entries(await bytes(stream));
  const names = got.map((e) => e.name.replace(/\/$/, ''));
  assert.deepEqual(
    names,
    [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))),
  );
  const by = new Map(got.map((e) => [e.name.replace(/\/$/, ''), e]));
  assert.equal(by.get('src/app.js')?.mode, 0o755);
  assert.equal(by.get('src/app.js')?.body, 'console.log(1)\n');
  assert.equal(by.get('src/app.js')?.uid, 0);
  assert.equal(by.get('src/app.js')?.gid, 0);
  assert.equal(by.get('src/app.js')?.uname, '');
  assert.equal(by.get('src/app.js')?.mtime.getTime(), 1_700_000_000_000);
  assert.equal(by.get('src')?.type, 'directory');
  assert.equal(by.get('src/link')?.type, 'symlink');
  assert.equal(by.get('src/link')?.linkname, 'app.js');
  assert.equal(by.get('src/hard')?.type, 'link');
  assert.equal(by.get('src/hard')?.linkname, 'src/app.js');
  assert.equal(by.get('ünïcode-名前.txt')?.body, 'u');
  assert.equal(by.get(longName)?.body, 'long');
});

test('is deterministic', async () => {
  const a = await bytes(createContextTar(manifest(), openBlob).stream);
  const b = await bytes(createContextTar(manifest().reverse(), openBlob).stream);
  assert.ok(a.equals(b));
});

test('injects an outside Dockerfile at a reserved path, or reuses an identical context file', async () => {
  const df = Buffer.from('FROM busybox\nRUN true\n');
  const hex = createHash('sha256').update(df).digest('hex');
  const t = createContextTar(manifest(), openBlob, { dockerfile: df });
  assert.equal(t.dockerfilePath, `.depot/Dockerfile-${hex.slice(0, 12)}`);
  const got = await entries(await bytes(t.stream));
  assert.equal(got.find((e) => e.name === t.dockerfilePath)?.body, df.toString());
  assert.ok(got.some((e) => e.name.replace(/\/$/, '') === '.depot' && e.type === 'directory'));

  const same = createContextTar(manifest(), openBlob, { dockerfile: Buffer.from('FROM busybox\n') });
  assert.equal(same.dockerfilePath, 'Dockerfile');
  assert.equal((await entries(await bytes(same.stream))).length, manifest().length);
});

test('fails when a blob does not have the manifest size', async () => {
  const m = [file('a.txt', 'abc')];
  const { stream } = createContextTar([{ ...m[0]!, size: 5 }], openBlob);
  await assert.rejects(bytes(stream), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'context_failed');
    assert.match(err.message, /not 5 bytes/);
    return true;
  });
  const { stream: s2 } = createContextTar([{ ...m[0]!, size: 2 }], openBlob);
  await assert.rejects(bytes(s2), /not 2 bytes/);
});
