/**
 * An image's final filesystem, entry by entry, from the docker-archive the builder's Export
 * streams: each layer's entries (type, mode, owner, link target, content digest — times left
 * out, they differ between any two builds) applied bottom up with the layer whiteouts
 * (`.wh.name` removes a path, `.wh..wh..opq` empties a directory of what lower layers put there).
 * Layers an earlier export already brought are left out of the archive and taken from `known`.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { DepotError } from '../errors/index.js';

/** path → `type mode uid:gid link sha256`; paths without a leading `/`, directories without a trailing one. */
export type Entries = Map<string, string>;
/** A layer's own entries in archive order (whiteouts included, as written). */
export type LayerEntries = Array<[string, string]>;

/** Entries one comparison reads before it gives up: a bound on the client's memory. */
export const MAX_ENTRIES = 2_000_000;

function clean(name: string): string {
  const p = posix.normalize(`/${name}`).replace(/\/+$/, '');
  return p.slice(1);
}

/** The entries of one layer tar (a stream), each with its content digest. */
async function readLayer(stream: Readable, budget: { left: number }): Promise<LayerEntries> {
  const extract = tar.extract();
  const out: LayerEntries = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, body, next) => {
      if (--budget.left < 0) {
        reject(new DepotError('limit_exceeded', `the images hold more than ${MAX_ENTRIES} entries`));
        body.resume();
        return;
      }
      const hash = createHash('sha256');
      body.on('data', (c: unknown) => hash.update(c as Buffer));
      body.on('end', () => {
        const mode = ((h.mode ?? 0) & 0o7777).toString(8);
        out.push([
          clean(h.name),
          `${h.type} ${mode} ${h.uid ?? 0}:${h.gid ?? 0} ${h.linkname ?? ''} ${hash.digest('hex')}`,
        ]);
        next();
      });
      body.on('error', reject);
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  stream.pipe(extract);
  await done;
  return out;
}

/** Applies `layer` on `fs` (mutates it), whiteouts first as the engine does. */
export function applyLayer(fs: Entries, layer: LayerEntries): void {
  const removeUnder = (dir: string, self: boolean) => {
    const prefix = dir === '' ? '' : `${dir}/`;
    for (const k of fs.keys()) if ((self && k === dir) || k.startsWith(prefix)) fs.delete(k);
  };
  for (const [path] of layer) {
    const base = posix.basename(path);
    const dir = posix.dirname(path) === '.' ? '' : posix.dirname(path);
    if (base === '.wh..wh..opq') removeUnder(dir, false);
    else if (base.startsWith('.wh.'))
      removeUnder(dir === '' ? base.slice(4) : `${dir}/${base.slice(4)}`, true);
  }
  for (const [path, desc] of layer) {
    if (path === '' || posix.basename(path).startsWith('.wh.')) continue;
    fs.set(path, desc);
  }
}

/**
 * Reads an Export stream of `imageId` (a docker-archive) into its final filesystem. Layers the
 * archive leaves out must be in `known` (by diff id, from an earlier call); the layers read here
 * are added to it.
 */
export async function imageEntries(
  archive: Readable,
  known: Map<string, LayerEntries>,
  budget: { left: number } = { left: MAX_ENTRIES },
): Promise<Entries> {
  const extract = tar.extract();
  const layers = new Map<string, LayerEntries>();
  const json = new Map<string, string>();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, body, next) => {
      if (/\/layer\.tar$/.test(h.name)) {
        readLayer(body as unknown as Readable, budget).then((entries) => {
          layers.set(h.name, entries);
          next();
        }, reject);
        return;
      }
      if (h.name.endsWith('.json')) {
        const chunks: Buffer[] = [];
        body.on('data', (c: unknown) => chunks.push(c as Buffer));
        body.on('end', () => {
          json.set(h.name, Buffer.concat(chunks).toString('utf8'));
          next();
        });
        return;
      }
      body.on('end', () => next());
      body.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  archive.on('error', (err) => extract.destroy(err));
  archive.pipe(extract);
  await done;
  const manifest = JSON.parse(json.get('manifest.json') ?? '[]') as Array<{
    Config: string;
    Layers: string[];
  }>;
  const m = manifest[0];
  if (!m) throw new DepotError('builder_error', 'the exported image has no manifest');
  const config = JSON.parse(json.get(m.Config) ?? '{}') as { rootfs?: { diff_ids?: string[] } };
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== m.Layers.length)
    throw new DepotError('builder_error', 'the exported image lists layers its config does not');
  const fs: Entries = new Map();
  m.Layers.forEach((path, i) => {
    const diffId = diffIds[i]!;
    const entries = layers.get(path) ?? known.get(diffId);
    if (!entries) throw new DepotError('builder_error', `the exported image lacks layer ${diffId}`);
    known.set(diffId, entries);
    applyLayer(fs, entries);
  });
  return fs;
}

/** Paths whose entries differ between `a` and `b` (present in one only, or described differently), sorted. */
export function differingPaths(a: Entries, b: Entries): string[] {
  const out: string[] = [];
  for (const [k, v] of a) if (b.get(k) !== v) out.push(k);
  for (const k of b.keys()) if (!a.has(k)) out.push(k);
  return out.sort();
}
