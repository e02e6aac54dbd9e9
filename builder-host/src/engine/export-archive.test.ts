import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import tar from 'tar-stream';
import { chainIds } from '../../../src/protocol/index.js';
import { filterDockerArchive } from './export-archive.js';
import { createLayerIdCache } from './layer-cache.js';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
// v1 ids chosen so the top layer sorts first: nothing can be placed until later entries arrive.
const v1 = ['f'.repeat(64), '8'.repeat(64), '1'.repeat(64)];
const layers = [Buffer.alloc(4096, 1), Buffer.alloc(2048, 2), Buffer.alloc(1024, 3)];
const diffIds = layers.map((l) => sha(l));
const chains = chainIds(diffIds);
const work = mkdtempSync(path.join(os.tmpdir(), 'export-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A `docker save`-shaped archive in the order dockerd writes it (lexical). */
async function dockerSave(): Promise<Buffer> {
  const files: Array<[string, Buffer | null]> = [];
  v1.forEach((id, i) => {
    files.push([`${id}/`, null]);
    files.push([`${id}/VERSION`, Buffer.from('1.0')]);
    files.push([`${id}/json`, Buffer.from(JSON.stringify({ id, ...(i > 0 ? { parent: v1[i - 1] } : {}) }))]);
    files.push([`${id}/layer.tar`, layers[i]!]);
  });
  files.push(['cafe.json', Buffer.from('{"rootfs":{}}')]);
  files.push([
    'manifest.json',
    Buffer.from(
      JSON.stringify([{ Config: 'cafe.json', RepoTags: null, Layers: v1.map((id) => `${id}/layer.tar`) }]),
    ),
  ]);
  files.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const pack = tar.pack();
  for (const [name, body] of files)
    if (body) pack.entry({ name, mode: 0o644 }, body);
    else pack.entry({ name, type: 'directory', mode: 0o755 });
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

async function run(have: string[], allLayers: boolean, cacheDir: string, spoolDir = work) {
  const cache = createLayerIdCache(cacheDir);
  const f = filterDockerArchive(Readable.from([await dockerSave()]), {
    chainIds: chains,
    diffIds,
    have: new Set(have),
    allLayers,
    cache,
    spoolDir,
  });
  const chunks: Buffer[] = [];
  for await (const c of f.stream) chunks.push(c as Buffer);
  const out = Buffer.concat(chunks);
  const ex = tar.extract();
  Readable.from([out]).pipe(ex as unknown as NodeJS.WritableStream);
  const names = new Map<string, Buffer>();
  for await (const e of ex) {
    const b: Buffer[] = [];
    for await (const c of e as unknown as AsyncIterable<Buffer>) b.push(c);
    names.set(e.header.name, Buffer.concat(b));
  }
  const summary = await f.summary;
  // The export does not wait for the cache's write: the test does, to read it.
  await cache.flush();
  return { names, summary, size: out.length };
}

test('omits the layers the receiver has, keeps everything else, spooling what it cannot place yet', async () => {
  const cacheDir = path.join(work, 'c1');
  const { names, summary, size } = await run([chains[0]!, chains[1]!], false, cacheDir);
  assert.deepEqual(summary, { layersTotal: 3, layersSent: 1, archiveBytes: size });
  assert.ok(!names.has(`${v1[0]}/layer.tar`));
  assert.ok(!names.has(`${v1[1]}/layer.tar`));
  assert.ok(names.get(`${v1[2]}/layer.tar`)?.equals(layers[2]!));
  for (const id of v1) assert.ok(names.has(`${id}/json`) && names.has(`${id}/VERSION`));
  assert.ok(names.has('manifest.json') && names.has('cafe.json'));
  // The cache now maps every v1 id to its chain id, persisted.
  const saved = JSON.parse(readFileSync(path.join(cacheDir, 'docker-save-v1ids.json'), 'utf8'));
  assert.deepEqual(saved, Object.fromEntries(v1.map((id, i) => [id, chains[i]])));
});

test('with a warm v1id cache nothing is spooled', async () => {
  const cacheDir = path.join(work, 'c1');
  // A spool folder that cannot be created: any spooling would fail the export.
  const { names, summary } = await run([chains[0]!], false, cacheDir, '/nonexistent/depot-spool');
  assert.equal(summary.layersSent, 2);
  assert.ok(!names.has(`${v1[0]}/layer.tar`));
  assert.ok(names.get(`${v1[1]}/layer.tar`)?.equals(layers[1]!));
});

test('allLayers sends every layer; an empty have set does too', async () => {
  for (const [have, all] of [
    [chains, true],
    [[], false],
  ] as const) {
    const { names, summary } = await run([...have], all, path.join(work, 'c2'));
    assert.equal(summary.layersSent, 3);
    for (const [i, id] of v1.entries()) assert.ok(names.get(`${id}/layer.tar`)?.equals(layers[i]!));
  }
});
