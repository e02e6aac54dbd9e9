import { errorMessage, parseEngineHost, readBody, sendEngineRequest } from '../../../src/engine-api/index.js';

/** What the engine collection keeps. */
export interface EnginePolicy {
  /** Names of images tagged within this many ms are kept. */
  keepWindowMs: number;
  /** Bytes of the builder's images to stay under (older names go first beyond the window). */
  keepBytes: number;
  /**
   * BuildKit's cache is pruned to this many bytes (`POST /build/prune?keep-storage=`); undefined
   * leaves it alone. The cache is the engine's, shared with anything else that builds on it.
   */
  keepBuildCacheBytes?: number;
  dryRun?: boolean;
}

export interface EngineReport {
  dryRun: boolean;
  /** Names removed from the engine (or that would be). */
  untagged: string[];
  /** Images left with no name after that (the engine deletes them). */
  imagesDeleted: number;
  /** Their bytes, as the engine reports them (layers shared with other images are freed only when unused). */
  imageBytes: number;
  /** BuildKit cache bytes the engine reclaimed (dry run: how far it is over the budget). */
  buildCacheBytes: number;
  /** Images over the window and the budget kept because a build's client has yet to load them or an Export runs. */
  keptHeld: number;
}

interface ImageRow {
  Id: string;
  RepoTags: string[] | null;
  Size: number;
}

async function call(host: string, method: string, path: string): Promise<unknown> {
  const res = await sendEngineRequest(parseEngineHost(host), { method, path, timeoutMs: 120_000 });
  const body = await readBody(res);
  if ((res.statusCode ?? 500) >= 300)
    throw new Error(`${method} ${path}: ${errorMessage(body, res.statusCode)}`);
  return body.length ? JSON.parse(body.toString('utf8')) : undefined;
}

/**
 * While the builder's images are over budget, removes the names it gave them in its projects'
 * namespaces (`prefixes`, see image-namespace.ts), least recently tagged first, sparing those
 * tagged within the keep window. Names outside those prefixes (base images, other builders' projects) are
 * never touched, nor images that also carry such a name. `DELETE /images/{name}?noprune=1`: only
 * the name goes; the engine deletes the image when it was its last name.
 */
export async function collectEngine(
  host: string,
  prefixes: readonly string[],
  policy: EnginePolicy,
  opts: {
    /** True for an image a running build or Export holds (see server/result-holds.ts): never touched. */
    held?: (imageId: string) => boolean;
    now?: number;
  } = {},
): Promise<EngineReport> {
  const now = opts.now ?? Date.now();
  const held = opts.held ?? (() => false);
  const dryRun = policy.dryRun === true;
  const report: EngineReport = {
    dryRun,
    untagged: [],
    imagesDeleted: 0,
    imageBytes: 0,
    buildCacheBytes: 0,
    keptHeld: 0,
  };
  const ours = (t: string) => prefixes.some((p) => p !== '' && t.startsWith(p));
  const images = ((await call(host, 'GET', '/images/json')) as ImageRow[])
    .map((i) => ({ ...i, tags: i.RepoTags ?? [] }))
    .filter((i) => i.tags.length > 0 && i.tags.every(ours));
  const rows: Array<{ id: string; tags: string[]; size: number; taggedMs: number }> = [];
  for (const i of images) {
    const inspect = (await call(host, 'GET', `/images/${encodeURIComponent(i.Id)}/json`).catch(
      () => undefined,
    )) as { Metadata?: { LastTagTime?: string }; Created?: string } | undefined;
    if (!inspect) continue;
    // A build that hits the cache re-tags an old image: the tag time, not the creation, says it is in use.
    const t = Date.parse(inspect.Metadata?.LastTagTime ?? '') || Date.parse(inspect.Created ?? '') || 0;
    rows.push({ id: i.Id, tags: i.tags, size: i.Size, taggedMs: t });
  }
  rows.sort((a, b) => a.taggedMs - b.taggedMs || a.id.localeCompare(b.id));
  let total = rows.reduce((n, r) => n + r.size, 0);
  for (const r of rows) {
    // As for the store: the window protects, the budget drives, least recently tagged first.
    if (total <= policy.keepBytes) break;
    if (now - r.taggedMs <= policy.keepWindowMs) continue;
    // Asked in the tick its first name goes: a build that names or an Export that starts later waits for nothing.
    if (held(r.id)) {
      report.keptHeld++;
      continue;
    }
    for (const tag of [...r.tags].sort()) {
      report.untagged.push(tag);
      if (!dryRun) await call(host, 'DELETE', `/images/${encodeURIComponent(tag)}?noprune=1`);
    }
    report.imagesDeleted++;
    report.imageBytes += r.size;
    total -= r.size;
  }
  if (policy.keepBuildCacheBytes !== undefined) {
    const keep = Math.max(0, Math.floor(policy.keepBuildCacheBytes));
    if (dryRun) {
      const df = (await call(host, 'GET', '/system/df')) as { BuildCache?: Array<{ Size: number }> | null };
      const used = (df.BuildCache ?? []).reduce((n, c) => n + (c.Size ?? 0), 0);
      report.buildCacheBytes = Math.max(0, used - keep);
    } else {
      const r = (await call(host, 'POST', `/build/prune?keep-storage=${keep}`)) as
        | { SpaceReclaimed?: number }
        | undefined;
      report.buildCacheBytes = r?.SpaceReclaimed ?? 0;
    }
  }
  return report;
}
