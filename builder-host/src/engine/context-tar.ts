import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import tar from 'tar-stream';
import { entryDone, type HeaderArg } from '../../../src/engine-api/tar-entry.js';
import { type ContextEntry, comparePaths, sortEntries } from '../../../src/protocol/index.js';
import { EngineError } from './types.js';

/** Folder of the tar where a Dockerfile that is not part of the context is placed. */
export const INJECTED_DOCKERFILE_DIR = '.depot';

/**
 * Streams a deterministic build-context tar of a manifest: byte-sorted paths, uid/gid 0, no
 * user names, file contents from `openBlob`. A Dockerfile given in `extra` (stdin, or outside
 * the context) is added at `.depot/Dockerfile-<sha256 prefix>` unless an identical file is
 * already in the context; `dockerfilePath` says where it is. BuildKit does not apply a
 * `.dockerignore` found in a tar context, so `COPY .` sees every entry, the injected one too.
 * The stream errors (EngineError 'context_failed') if a blob is missing or has the wrong size.
 */
export function createContextTar(
  entries: ContextEntry[],
  openBlob: (digest: string) => NodeJS.ReadableStream,
  extra?: { dockerfile?: Buffer },
): { stream: NodeJS.ReadableStream; dockerfilePath?: string } {
  let all = sortEntries(entries);
  let dockerfilePath: string | undefined;
  let injected: Buffer | undefined;
  if (extra?.dockerfile) {
    const hex = createHash('sha256').update(extra.dockerfile).digest('hex');
    const same = all.find((e) => e.type === 'file' && e.digest === `sha256:${hex}`);
    if (same) dockerfilePath = same.path;
    else {
      injected = extra.dockerfile;
      const dir = all.find((e) => e.path === INJECTED_DOCKERFILE_DIR);
      const base =
        dir && dir.type !== 'dir' ? `${INJECTED_DOCKERFILE_DIR}-Dockerfile` : INJECTED_DOCKERFILE_DIR;
      dockerfilePath =
        dir && dir.type !== 'dir' ? `${base}-${hex.slice(0, 12)}` : `${base}/Dockerfile-${hex.slice(0, 12)}`;
      const add: ContextEntry[] = [];
      if (!dir) add.push(synthetic(INJECTED_DOCKERFILE_DIR, 'dir', 0o755, 0, ''));
      add.push(synthetic(dockerfilePath, 'file', 0o644, injected.length, `sha256:${hex}`));
      all = sortEntries([...all.filter((e) => e.path !== dockerfilePath), ...add]);
    }
  }

  const pack = tar.pack();
  const out = new PassThrough();
  pack.on('error', (err: Error) => out.destroy(err));
  pack.pipe(out);
  void writeAll(pack, all, openBlob, dockerfilePath, injected).catch((err: unknown) => {
    const e =
      err instanceof EngineError
        ? err
        : new EngineError('context_failed', `context tar failed: ${(err as Error).message}`, { cause: err });
    out.destroy(e);
    pack.destroy(e);
  });
  return { stream: out, dockerfilePath };
}

function synthetic(
  path: string,
  type: 'dir' | 'file',
  mode: number,
  size: number,
  digest: string,
): ContextEntry {
  return { path, type, mode, uid: 0, gid: 0, size, mtimeMs: 0, digest, link: '' };
}

function baseHeader(e: ContextEntry): HeaderArg {
  return {
    name: e.path,
    mode: e.mode,
    mtime: new Date(e.mtimeMs),
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
  };
}

async function writeAll(
  pack: tar.Pack,
  entries: ContextEntry[],
  openBlob: (digest: string) => NodeJS.ReadableStream,
  injectedPath: string | undefined,
  injected: Buffer | undefined,
): Promise<void> {
  for (const e of entries) {
    if (e.type === 'dir') await entryDone(pack, { ...baseHeader(e), type: 'directory' });
    else if (e.type === 'symlink')
      await entryDone(pack, { ...baseHeader(e), type: 'symlink', linkname: e.link });
    else if (e.type === 'hardlink')
      await entryDone(pack, { ...baseHeader(e), type: 'link', linkname: e.link });
    else if (injected && e.path === injectedPath)
      await entryDone(pack, { ...baseHeader(e), type: 'file' }, injected);
    else await writeFile(pack, e, openBlob);
  }
  pack.finalize();
}

async function writeFile(
  pack: tar.Pack,
  e: ContextEntry,
  openBlob: (digest: string) => NodeJS.ReadableStream,
): Promise<void> {
  let onDone!: (err?: Error | null) => void;
  const done = new Promise<void>((resolve, reject) => {
    onDone = (err) => (err ? reject(err) : resolve());
  });
  done.catch(() => undefined);
  const sink = pack.entry({ ...baseHeader(e), type: 'file', size: e.size }, (err) => onDone(err));
  // Failures reach us through the entry callback; the sink's own error event would be unhandled.
  sink.on('error', () => undefined);
  let written = 0;
  const mismatch = () =>
    new EngineError(
      'context_failed',
      `context tar failed: blob ${e.digest} of ${JSON.stringify(e.path)} is not ${e.size} bytes`,
    );
  for await (const chunk of openBlob(e.digest) as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    written += buf.length;
    if (written > e.size) throw mismatch();
    if (!sink.write(buf)) await once(sink, 'drain');
  }
  if (written !== e.size) throw mismatch();
  sink.end(Buffer.alloc(0));
  await done;
}

/** Compares entry paths the way the tar is ordered (exported for tests). */
export const tarOrder = comparePaths;
