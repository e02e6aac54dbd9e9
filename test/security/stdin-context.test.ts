import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import {
  type BuilderProcess,
  buildOn,
  depot,
  skipReason,
  startBuilder,
  tempDir,
} from '../integration/harness.js';

const skip = skipReason();

type Entry = { name: string; type?: 'file' | 'symlink' | 'link'; body?: string; linkname?: string };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  for (const e of entries)
    p.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: 0o644 }, e.body ?? '');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

// `depot build -` unpacks a context tar from stdin into a temp dir: a tar is the user's input, and
// it must not write anywhere else on the machine.
describe('depot build - with a context tar on stdin', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  const project = `stdin-ctx-${process.pid}`;

  before(async () => {
    builder = await startBuilder();
    token = builder.token(project);
  });
  after(async () => {
    await builder?.stop();
  });

  const build = (input: Buffer, tmp: string) =>
    depot([...buildOn(builder.url, token, project), '-'], { TMPDIR: tmp }, input);

  test('a tar that writes through an earlier symlink is refused and writes nothing outside', async () => {
    const outside = tempDir('stdin-outside');
    writeFileSync(join(outside, 'keep'), 'keep');
    const tmp = tempDir('stdin-tmp');
    const tar = await tarOf([
      { name: 'Dockerfile', body: 'FROM busybox\n' },
      { name: 'a', type: 'symlink', linkname: outside },
      { name: 'a/x', body: 'written through the link' },
      { name: 'a/keep', body: 'overwritten through the link' },
    ]);
    const r = await build(tar, tmp);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr.trim(),
      'depot: invalid context tar entry "a/x": a is a symlink earlier in the tar',
    );
    assert.deepEqual(readdirSync(outside), ['keep']);
    assert.equal(readFileSync(join(outside, 'keep'), 'utf8'), 'keep');
    // The temp context is gone too: nothing half-written is left behind.
    assert.deepEqual(readdirSync(tmp), []);
  });

  test('ordinary context tars, plain and gzipped, still build', async () => {
    const marker = `${process.pid}-${Date.now()}`;
    const tar = await tarOf([
      { name: 'Dockerfile', body: 'FROM busybox\nCOPY app/ /app/\nRUN cat /app/hello.txt /app/same.txt\n' },
      { name: 'app/hello.txt', body: `hello ${marker}\n` },
      { name: 'app/same.txt', type: 'link', linkname: 'app/hello.txt' },
      { name: 'app/link', type: 'symlink', linkname: 'hello.txt' },
    ]);
    for (const input of [tar, gzipSync(tar)]) {
      const tmp = tempDir('stdin-tmp');
      const r = await build(input, tmp);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!existsSync(join(tmp, 'x')));
    }
  });
});
