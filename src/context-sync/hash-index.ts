/**
 * The persisted stat-keyed hash index: one JSON file per context (named by the sha256 of the
 * context's realpath) mapping relative path -> stat fingerprint + content digest.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What the index remembers about one regular file. */
export interface IndexRecord {
  size: number;
  /** Full precision (fractional ms), unlike the manifest's floored value. */
  mtimeMs: number;
  ino: number;
  ctimeMs: number;
  digest: string;
}

/** Path -> record; a null-prototype object so any file name is a safe key. */
export type IndexRecords = Record<string, IndexRecord>;

const INDEX_VERSION = 1;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/** $XDG_CACHE_HOME/depot/index, or ~/.cache/depot/index. */
export function defaultIndexDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.cache'), 'depot', 'index');
}

/** The index file of a context, by its realpath. */
export function indexFileFor(indexDir: string, contextRealpath: string): string {
  return join(indexDir, `${createHash('sha256').update(contextRealpath).digest('hex')}.json`);
}

/** Creates an empty record set. */
export function emptyRecords(): IndexRecords {
  return Object.create(null) as IndexRecords;
}

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
    return emptyRecords();
  }
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc !== 'object' || doc === null) return emptyRecords();
    const { version, context, files } = doc as Record<string, unknown>;
    if (version !== INDEX_VERSION || context !== contextRealpath) return emptyRecords();
    if (typeof files !== 'object' || files === null || Array.isArray(files)) return emptyRecords();
    // JSON.parse makes own properties even for "__proto__"; re-home them on a null prototype.
    return Object.assign(emptyRecords(), files) as IndexRecords;
  } catch {
    return emptyRecords();
  }
}

/** Writes the records atomically (temp file + rename); failures are swallowed: the index is only a cache. */
export async function saveIndex(file: string, contextRealpath: string, records: IndexRecords): Promise<boolean> {
  const dir = join(file, '..');
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(tmp, JSON.stringify({ version: INDEX_VERSION, context: contextRealpath, files: records }));
    await rename(tmp, file);
    return true;
  } catch {
    await rm(tmp, { force: true }).catch(() => {});
    return false;
  }
}
