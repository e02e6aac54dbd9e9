import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileDurably } from '../../../src/durable-file/index.js';

/** Remembers which docker-save v1 layer id stands for which layer chain id. */
export interface LayerIdCache {
  get(v1id: string): string | undefined;
  set(v1id: string, chainId: string): void;
  /** Persists new entries (no-op without a directory). */
  flush(): Promise<void>;
}

const FILE = 'docker-save-v1ids.json';
const MAX_ENTRIES = 200_000;

/**
 * A v1 id is a hash over the chain id, the parent v1 id and (for the top layer) the image
 * config, so v1id → chain id never changes and is safe to keep across exports and restarts.
 */
export function createLayerIdCache(dir?: string): LayerIdCache {
  const map = new Map<string, string>();
  let loaded: Promise<void> | undefined;
  let dirty = false;
  let flushing: Promise<void> = Promise.resolve();
  const load = (): Promise<void> => {
    if (!dir) return Promise.resolve();
    loaded ??= readFile(path.join(dir, FILE), 'utf8')
      .then((text) => {
        const obj = JSON.parse(text) as Record<string, string>;
        for (const [k, v] of Object.entries(obj)) if (!map.has(k)) map.set(k, v);
      })
      .catch(() => {
        // missing or unreadable: start empty, it is only a cache
      });
    return loaded;
  };
  const cache: LayerIdCache & { ready(): Promise<void> } = {
    ready: load,
    get: (v1id) => map.get(v1id),
    set(v1id, chainId) {
      if (map.get(v1id) === chainId) return;
      map.set(v1id, chainId);
      dirty = true;
      if (map.size > MAX_ENTRIES) {
        const first = map.keys().next().value;
        if (first !== undefined) map.delete(first);
      }
    },
    flush() {
      if (!dir || !dirty) return flushing;
      // One write at a time, in order: exports no longer wait for theirs, so they may overlap.
      flushing = flushing
        .catch(() => undefined)
        .then(async () => {
          if (!dirty) return;
          await load();
          dirty = false;
          await mkdir(dir, { recursive: true });
          // A cache: atomic, but not worth an fsync.
          await writeFileDurably(path.join(dir, FILE), JSON.stringify(Object.fromEntries(map)), {
            fsync: false,
          });
        });
      return flushing;
    },
  };
  return cache;
}

/** Loads a cache's persisted entries, when it has any. */
export async function layerIdCacheReady(cache: LayerIdCache): Promise<void> {
  const c = cache as LayerIdCache & { ready?: () => Promise<void> };
  if (c.ready) await c.ready();
}
