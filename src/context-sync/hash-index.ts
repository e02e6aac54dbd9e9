/**
 * The persisted stat-keyed hash index: one JSON file per context (named by the sha256 of the
 * context's realpath) mapping relative path -> stat fingerprint + content digest.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFileDurably } from '../durable-file/index.js';

/** What the index remembers about one regular file. */
export interface IndexRecord {
  size: number;
  /** Full precision (fractional ms), unlike the manifest's floored value. */
  mtimeMs: number;
  ino: number;
  ctimeMs: number;
  digest: string;
}

const INDEX_VERSION = 1;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/** The records of one context as loaded: path -> record. */
export interface IndexRecords {
  /** The record of `path` if present and well formed. */
  get(path: string): IndexRecord | undefined;
  readonly size: number;
}

/** $XDG_CACHE_HOME/depot/index, or ~/.cache/depot/index. */
export function defaultIndexDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.cache'), 'depot', 'index');
}

/** The index file of a context, by its realpath. */
export function indexFileFor(indexDir: string, contextRealpath: string): string {
  return join(indexDir, `${createHash('sha256').update(contextRealpath).digest('hex')}.json`);
}

/** An empty record set (no index, or an unusable one). */
export const EMPTY_RECORDS: IndexRecords = { get: () => undefined, size: 0 };

/** True when `v` is a usable record (the file is user-writable, so every field is checked on use). */
export function isRecord(v: unknown): v is IndexRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.size === 'number' &&
    typeof r.mtimeMs === 'number' &&
    typeof r.ino === 'number' &&
    typeof r.ctimeMs === 'number' &&
    typeof r.digest === 'string' &&
    DIGEST_RE.test(r.digest)
  );
}

/** Loads the records of a context; a missing, corrupt or foreign index yields an empty set. */
export async function loadIndex(file: string, contextRealpath: string): Promise<IndexRecords> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return EMPTY_RECORDS;
  }
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc !== 'object' || doc === null) return EMPTY_RECORDS;
    const { version, context, files } = doc as Record<string, unknown>;
    if (version !== INDEX_VERSION || context !== contextRealpath) return EMPTY_RECORDS;
    if (typeof files !== 'object' || files === null || Array.isArray(files)) return EMPTY_RECORDS;
    const table = files as Record<string, unknown>;
    // Looked up in place (no copy into a Map): hasOwn keeps "constructor" & co. from resolving to the prototype.
    return {
      get: (path) => {
        if (!Object.hasOwn(table, path)) return undefined;
        const r = table[path];
        return isRecord(r) ? r : undefined;
      },
      size: Object.keys(table).length,
    };
  } catch {
    return EMPTY_RECORDS;
  }
}

/**
 * Writes `records` (in the given order) atomically: temp file + rename. Failures are swallowed, the
 * index is only a cache. The JSON is assembled by hand: one object per path, no intermediate tree.
 */
export async function saveIndex(
  file: string,
  contextRealpath: string,
  records: Iterable<readonly [string, IndexRecord]>,
): Promise<boolean> {
  const parts: string[] = [];
  for (const [path, r] of records) {
    parts.push(
      `${JSON.stringify(path)}:{"size":${r.size},"mtimeMs":${r.mtimeMs},"ino":${r.ino},"ctimeMs":${r.ctimeMs},"digest":"${r.digest}"}`,
    );
  }
  const text = `{"version":${INDEX_VERSION},"context":${JSON.stringify(contextRealpath)},"files":{${parts.join(',')}}}`;
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFileDurably(file, text, { fsync: false });
    return true;
  } catch {
    return false;
  }
}
