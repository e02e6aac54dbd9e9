import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import tar from 'tar-stream';
import { type LayerIdCache, layerIdCacheReady } from './layer-cache.js';
import { EngineError } from './types.js';

export interface FilterOptions {
  /** Layer chain ids of the image, bottom first (from its diff ids). */
  chainIds: readonly string[];
  /** Diff ids of the image, bottom first; a spooled layer's sha256 is checked against them. */
  diffIds: readonly string[];
  /** Chain ids the receiving engine already has. */
  have: ReadonlySet<string>;
  allLayers: boolean;
  cache: LayerIdCache;
  /** Where layers that cannot be classified yet are spooled; default os.tmpdir(). */
  spoolDir?: string;
}

export interface FilterSummary {
  layersTotal: number;
  layersSent: number;
  archiveBytes: number;
}

interface Spooled {
  v1id: string;
  header: tar.Header;
  file: string;
  digest: string;
}

const V1_ENTRY = /^([0-9a-f]{64})\/(json|layer\.tar)$/;

/**
 * Rewrites a `docker save` archive so its `layer.tar` entries whose chain id is in `have` are
 * left out (every other entry, manifest.json included, passes unchanged). A layer's position,
 * hence its chain id, comes from the v1id cache, or from the `parent` links of the `<v1id>/json`
 * entries seen so far; a layer still unknown is spooled to disk until manifest.json arrives
 * (it sorts after the layer folders) and emitted at the end. `summary` settles once the output
 * has been read to its end.
 */
export function filterDockerArchive(
  input: NodeJS.ReadableStream,
  opts: FilterOptions,
): { stream: NodeJS.ReadableStream; summary: Promise<FilterSummary> } {
  const chainIndex = new Map<string, number>();
  opts.chainIds.forEach((c, i) => {
    if (!chainIndex.has(c)) chainIndex.set(c, i);
  });
  const parents = new Map<string, string>();
  const spooled: Spooled[] = [];
  let manifestLayers: string[] | undefined;
  let layersSent = 0;
  let archiveBytes = 0;
  let spoolDir: string | undefined;

  const extract = tar.extract();
  const pack = tar.pack();
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      archiveBytes += chunk.length;
      cb(null, chunk);
    },
  });
  const out = new PassThrough();
  pack.pipe(counter).pipe(out);
  const ended = once(out, 'end');
  ended.catch(() => undefined);

  const resolveIndex = (v1id: string, depth = 0): number | undefined => {
    if (depth > opts.chainIds.length) return undefined;
    const known = opts.cache.get(v1id);
    if (known !== undefined && chainIndex.has(known)) return chainIndex.get(known);
    const parent = parents.get(v1id);
    if (parent === undefined) return undefined;
    const idx =
      parent === ''
        ? 0
        : (() => {
            const p = resolveIndex(parent, depth + 1);
            return p === undefined ? undefined : p + 1;
          })();
    if (idx === undefined || idx >= opts.chainIds.length) return undefined;
    opts.cache.set(v1id, opts.chainIds[idx]!);
    return idx;
  };
  const wanted = (idx: number): boolean => opts.allLayers || !opts.have.has(opts.chainIds[idx]!);

  const run = async (): Promise<void> => {
    await layerIdCacheReady(opts.cache);
    input.on('error', (err: Error) => extract.destroy(err));
    input.pipe(extract as unknown as NodeJS.WritableStream);
    for await (const entry of extract) {
      const header = entry.header;
      const body = entry as unknown as AsyncIterable<Buffer>;
      const m = V1_ENTRY.exec(header.name);
      if (header.name === 'manifest.json' || m?.[2] === 'json') {
        const data = await readAll(body);
        if (header.name === 'manifest.json') {
          const parsed = JSON.parse(data.toString('utf8')) as Array<{ Layers?: string[] }>;
          manifestLayers = parsed[0]?.Layers ?? [];
          manifestLayers.forEach((p, i) => {
            const c = opts.chainIds[i];
            if (c) opts.cache.set(p.split('/')[0]!, c);
          });
        } else {
          const j = JSON.parse(data.toString('utf8')) as { parent?: string };
          parents.set(m![1]!, j.parent ?? '');
        }
        await addEntry(pack, header, data);
      } else if (m?.[2] === 'layer.tar') {
        const idx = resolveIndex(m[1]!);
        if (idx === undefined) {
          spoolDir ??= await mkdtemp(path.join(opts.spoolDir ?? os.tmpdir(), 'depot-export-'));
          spooled.push(await spool(body, header, m[1]!, spoolDir));
        } else if (wanted(idx)) {
          layersSent++;
          await addEntry(pack, header, body);
        } else {
          await drain(body);
        }
      } else {
        await addEntry(pack, header, body);
      }
    }
    for (const s of spooled) {
      const idx = manifestLayers?.indexOf(`${s.v1id}/layer.tar`) ?? -1;
      if (idx >= 0) opts.cache.set(s.v1id, opts.chainIds[idx]!);
      // Unknown position or content that is not the expected diff: send it, the safe choice.
      const send = idx < 0 || s.digest !== opts.diffIds[idx] || wanted(idx);
      if (!send) continue;
      layersSent++;
      await addEntry(pack, s.header, createReadStream(s.file));
    }
    pack.finalize();
    // A cache: the archive (and the client's load, which waits for its end) does not wait for it.
    opts.cache.flush().catch(() => undefined);
    await ended;
  };

  const summary = run()
    .then(() => ({ layersTotal: opts.chainIds.length, layersSent, archiveBytes }))
    .catch((err: unknown) => {
      const e =
        err instanceof EngineError
          ? err
          : new EngineError('export_failed', `image export failed: ${(err as Error).message}`, {
              cause: err,
            });
      out.destroy(e);
      pack.destroy(e);
      extract.destroy(e);
      throw e;
    })
    .finally(() => (spoolDir ? rm(spoolDir, { recursive: true, force: true }) : undefined));
  summary.catch(() => undefined);
  return { stream: out, summary };
}

async function readAll(src: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of src) chunks.push(c);
  return Buffer.concat(chunks);
}

async function drain(src: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of src) {
    // discard
  }
}

function headerCopy(h: tar.Header): tar.Header {
  return { ...h };
}

async function addEntry(
  pack: tar.Pack,
  header: tar.Header,
  body: Buffer | AsyncIterable<Buffer>,
): Promise<void> {
  let onDone!: (err?: Error | null) => void;
  const done = new Promise<void>((resolve, reject) => {
    onDone = (err) => (err ? reject(err) : resolve());
  });
  if (Buffer.isBuffer(body)) {
    pack.entry({ ...headerCopy(header), size: body.length }, body, (err) => onDone(err));
    return done;
  }
  done.catch(() => undefined);
  const sink = pack.entry(headerCopy(header), (err) => onDone(err));
  sink.on('error', () => undefined);
  if (header.type === 'file' || header.type === 'contiguous-file') {
    for await (const chunk of body) if (!sink.write(chunk)) await once(sink, 'drain');
  } else {
    await drain(body);
  }
  sink.end(Buffer.alloc(0));
  return done;
}

async function spool(
  src: AsyncIterable<Buffer>,
  header: tar.Header,
  v1id: string,
  dir: string,
): Promise<Spooled> {
  const file = path.join(dir, `${v1id}.tar`);
  const hash = createHash('sha256');
  const ws = createWriteStream(file);
  for await (const chunk of src) {
    hash.update(chunk);
    if (!ws.write(chunk)) await once(ws, 'drain');
  }
  ws.end();
  await once(ws, 'close');
  return { v1id, header: headerCopy(header), file, digest: `sha256:${hash.digest('hex')}` };
}
