/**
 * Writes a build's output (`-o type=local|tar`) as the Build stream brings it: a local tree into a
 * temp directory beside DEST that replaces DEST only once the build succeeded, a tar into a temp
 * file renamed onto FILE, or to stdout. Paths come from the builder and are never trusted: each
 * is relative, plain, under a directory this writer created, and no symlink is ever followed.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import {
  chmod,
  link,
  lstat,
  lutimes,
  mkdir,
  mkdtemp,
  open,
  readdir,
  rename,
  rm,
  symlink,
  utimes,
} from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DepotError } from '../errors/index.js';
import type { OutputEvent__Output, OutputHave } from '../protocol/index.js';

/** Limits the client holds the builder to (a builder's own are usually lower). */
export const CLIENT_OUTPUT_LIMITS = { files: 1_000_000, pathLength: 4096, have: 10_000 };

/** An output failure the CLI reports in one line. */
export class OutputError extends DepotError {
  constructor(message: string) {
    super('output_failed', message);
  }
}

/** The one thing each output does with the stream. */
export interface OutputWriter {
  /** Files DEST holds now (local), sent with the build so unchanged files do not travel. */
  have: OutputHave[];
  handle(ev: OutputEvent__Output): Promise<void>;
  /** After a good build: puts the output in place. Throws when the stream was incomplete. */
  commit(): Promise<OutputSummary>;
  /** After a failed or cancelled build: removes what was written. */
  abort(): Promise<void>;
}

export interface OutputSummary {
  files: number;
  filesUnchanged: number;
  bytes: number;
  bytesSent: number;
}

/** Why `path` may not be written, or undefined when it may. */
function badPath(path: string): string | undefined {
  if (!path || Buffer.byteLength(path) > CLIENT_OUTPUT_LIMITS.pathLength || path.includes('\0'))
    return 'an empty, overlong or NUL path';
  if (path.startsWith('/')) return 'an absolute path';
  if (path.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'a path with . or ..';
  return undefined;
}

const parentOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');

/** sha256 of the regular files under `dir` (lstat only: no symlink followed), at most `max` of them. */
export async function scanHeld(dir: string, max = CLIENT_OUTPUT_LIMITS.have): Promise<OutputHave[]> {
  const out: OutputHave[] = [];
  const walk = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(rel ? join(dir, rel) : dir)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (out.length >= max) return;
      const p = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(dir, p));
      if (st.isDirectory()) await walk(p);
      else if (st.isFile()) {
        const digest = await hashFile(join(dir, p));
        out.push({ path: p, digest, size: st.size });
      }
    }
  };
  await walk('');
  return out;
}

async function hashFile(file: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    for await (const c of fh.createReadStream({ autoClose: false })) h.update(c as Buffer);
  } finally {
    await fh.close();
  }
  return `sha256:${h.digest('hex')}`;
}

/**
 * Seconds as utimes takes them, kept to the microsecond: a double of seconds since the epoch holds
 * about 0.24 µs, and the kernel truncates; 0.4 µs above the microsecond keeps it from falling below.
 */
function timeOf(ns: number): number {
  return Math.round(ns / 1000) / 1e6 + 4e-7;
}

/**
 * A local output into `dest` (a directory, created or replaced). With `incremental`, the files
 * DEST holds are listed so that the builder sends only what changed.
 */
export async function createLocalWriter(dest: string, incremental = true): Promise<OutputWriter> {
  const parent = dirname(dest);
  await mkdir(parent, { recursive: true });
  let existing: Awaited<ReturnType<typeof lstat>> | undefined;
  try {
    existing = await lstat(dest);
  } catch {
    existing = undefined;
  }
  if (existing && !existing.isDirectory())
    throw new OutputError(`output destination ${dest} exists and is not a directory`);
  const have = existing && incremental ? await scanHeld(dest) : [];
  const held = new Map(have.map((h) => [h.path, h.digest]));
  const tmp = await mkdtemp(join(parent, `.${basename(dest)}.depot-tmp-`));
  const dirs = new Set<string>(['']);
  const files = new Set<string>();
  const seen = new Set<string>();
  const times: Array<{ path: string; ns: number; isLink: boolean }> = [];
  const dirModes: Array<{ path: string; mode: number; ns: number }> = [];
  let file: { fh: FileHandle; path: string; hash: ReturnType<typeof createHash> } | undefined;
  let summary: OutputSummary | undefined;
  let count = 0;
  let failed: Error | undefined;

  const refuse = (why: string): never => {
    failed = new OutputError(`the builder sent a bad output: ${why}`);
    throw failed;
  };

  const handleEntry = async (e: NonNullable<OutputEvent__Output['entry']>) => {
    if (file) refuse(`a new path before the end of ${file.path}`);
    const bad = badPath(e.path);
    if (bad) refuse(`${bad} (${JSON.stringify(e.path.slice(0, 100))})`);
    if (++count > CLIENT_OUTPUT_LIMITS.files) refuse(`more than ${CLIENT_OUTPUT_LIMITS.files} paths`);
    if (seen.has(e.path)) refuse(`${e.path} twice`);
    // Parents come first and must be directories this writer made: nothing goes through a symlink.
    if (!dirs.has(parentOf(e.path))) refuse(`${e.path} is not under a directory of the output`);
    seen.add(e.path);
    const abs = join(tmp, e.path);
    const mode = e.mode & 0o7777;
    switch (e.type) {
      case 'ENTRY_TYPE_DIR':
        await mkdir(abs, { mode: 0o700 });
        dirs.add(e.path);
        dirModes.push({ path: abs, mode, ns: e.mtimeNs });
        return;
      case 'ENTRY_TYPE_SYMLINK':
        await symlink(e.link, abs);
        times.push({ path: abs, ns: e.mtimeNs, isLink: true });
        return;
      case 'ENTRY_TYPE_HARDLINK':
        if (!files.has(e.link)) refuse(`hard link ${e.path} to ${e.link}, which is no earlier file`);
        await link(join(tmp, e.link), abs);
        return;
      case 'ENTRY_TYPE_FILE': {
        files.add(e.path);
        times.push({ path: abs, ns: e.mtimeNs, isLink: false });
        if (e.unchanged) {
          // Only a file this client listed, and only with the content it listed.
          if (held.get(e.path) !== e.digest)
            refuse(`${e.path} marked unchanged, which this client does not hold`);
          const got = await copyHeld(join(dest, e.path), abs);
          if (got !== e.digest) throw new OutputError(`${join(dest, e.path)} changed during the build`);
          await chmod(abs, mode);
          return;
        }
        const fh = await open(
          abs,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
        );
        await fh.chmod(mode);
        file = { fh, path: e.path, hash: createHash('sha256') };
        return;
      }
      default:
        refuse(`${e.path} of unknown type ${e.type}`);
    }
  };

  const abort = async () => {
    await file?.fh.close().catch(() => undefined);
    file = undefined;
    await rm(tmp, { recursive: true, force: true });
  };
  return {
    have,
    abort,
    async handle(ev) {
      if (failed) return;
      try {
        if (ev.msg === 'entry' && ev.entry) await handleEntry(ev.entry);
        else if (ev.msg === 'data' && ev.data) {
          if (!file) refuse('data outside a file');
          file!.hash.update(ev.data);
          await file!.fh.write(ev.data);
        } else if (ev.msg === 'fileEnd') {
          if (!file) refuse('the end of no file');
          const f = file!;
          file = undefined;
          await f.fh.close();
          if (`sha256:${f.hash.digest('hex')}` !== ev.fileEnd) refuse(`${f.path} did not match its digest`);
        } else if (ev.msg === 'done' && ev.done) summary = ev.done;
      } catch (err) {
        failed ??= err as Error;
        throw failed;
      }
    },
    async commit() {
      if (failed) throw failed;
      if (!summary || file) {
        await abort();
        throw new OutputError('the output ended early: nothing was written');
      }
      try {
        for (const t of times) {
          const when = timeOf(t.ns);
          if (t.isLink) await lutimes(t.path, when, when);
          else await utimes(t.path, when, when);
        }
        // Deepest first: setting a directory's time before its children are done would not stick.
        for (const d of [...dirModes].reverse()) {
          await chmod(d.path, d.mode);
          const when = timeOf(d.ns);
          await utimes(d.path, when, when);
        }
        if (existing) {
          await chmod(tmp, existing.mode & 0o7777);
          const old = `${tmp}.old`;
          await rename(dest, old);
          try {
            await rename(tmp, dest);
          } catch (err) {
            await rename(old, dest);
            throw err;
          }
          await rm(old, { recursive: true, force: true });
        } else await rename(tmp, dest);
      } catch (err) {
        await abort();
        throw new OutputError(`writing the output to ${dest} failed: ${(err as Error).message}`);
      }
      return summary;
    },
  };
}

/** Copies a file DEST held (no symlink followed) and returns the sha256 of what it copied. */
async function copyHeld(from: string, to: string): Promise<string> {
  const src = await open(from, constants.O_RDONLY | constants.O_NOFOLLOW);
  const dst = await open(
    to,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  const h = createHash('sha256');
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (;;) {
      const { bytesRead } = await src.read(buf, 0, buf.length, null);
      if (!bytesRead) break;
      h.update(buf.subarray(0, bytesRead));
      await dst.write(buf.subarray(0, bytesRead));
    }
  } finally {
    await src.close();
    await dst.close();
  }
  return `sha256:${h.digest('hex')}`;
}

/** A tar output to `dest` (a file, written to a temp file and renamed) or to `out` (stdout). */
export async function createTarWriter(
  dest: string,
  out: NodeJS.WritableStream = process.stdout,
): Promise<OutputWriter> {
  let fh: FileHandle | undefined;
  let tmp: string | undefined;
  if (dest !== '-') {
    await mkdir(dirname(dest), { recursive: true });
    const dir = await mkdtemp(join(dirname(dest), `.${basename(dest)}.depot-tmp-`));
    tmp = join(dir, 'out.tar');
    fh = await open(tmp, 'wx', 0o644);
  }
  let summary: OutputSummary | undefined;
  const abort = async () => {
    await fh?.close().catch(() => undefined);
    fh = undefined;
    if (tmp) await rm(dirname(tmp), { recursive: true, force: true });
  };
  const toStdout = (chunk: Buffer) =>
    new Promise<void>((resolve, reject) => {
      out.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  return {
    have: [],
    abort,
    async handle(ev) {
      if (ev.msg === 'data' && ev.data) {
        if (fh) await fh.write(ev.data);
        else await toStdout(ev.data);
      } else if (ev.msg === 'done' && ev.done) summary = ev.done;
    },
    async commit() {
      if (!summary) {
        await abort();
        throw new OutputError('the output ended early: nothing was written');
      }
      if (fh && tmp) {
        await fh.sync();
        await fh.close();
        fh = undefined;
        await rename(tmp, dest);
        await rm(dirname(tmp), { recursive: true, force: true });
      }
      return summary;
    },
  };
}
