import { createWriteStream } from 'node:fs';
import { chmod, link, lstat, mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { unsafePathReason } from '../protocol/index.js';
import { DepotError } from '../session/index.js';

/** Whether bytes read from stdin are a (possibly gzipped) tar rather than a Dockerfile. */
export function looksLikeTar(data: Buffer): boolean {
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) return true;
  return data.length >= 262 && data.subarray(257, 262).toString('latin1') === 'ustar';
}

const invalid = (entry: string, why: string) =>
  new DepotError('invalid_context', `invalid context tar entry ${JSON.stringify(entry)}: ${why}`);

/**
 * Reads `depot build -` input like docker: a context tar (gzip allowed) is unpacked into `dir` as
 * it streams in (never held in memory whole) and undefined is returned; anything else is a
 * Dockerfile with no context, returned as bytes.
 */
export async function readStdinContext(
  input: AsyncIterable<Buffer>,
  dir: string,
): Promise<Buffer | undefined> {
  const it = input[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  let ended = false;
  // Enough bytes to see the gzip magic or the ustar magic of the first header.
  while (size < 262) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head.push(r.value);
    size += r.value.length;
  }
  const prefix = Buffer.concat(head);
  if (!looksLikeTar(prefix)) {
    if (ended) return prefix;
    const rest: Buffer[] = [prefix];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    return Buffer.concat(rest);
  }
  async function* all(): AsyncGenerator<Buffer> {
    yield prefix;
    if (ended) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  await unpackContextTar(Readable.from(all()), dir, prefix[0] === 0x1f && prefix[1] === 0x8b);
  return undefined;
}

/**
 * Unpacks a context tar stream (gzip allowed) into `dir`, which must be new and empty. Nothing is
 * written outside it: names that are absolute or contain `..` are refused, no entry is written
 * through a symlink an earlier entry made (a tar with `a -> /etc` then `a/passwd` is refused, and
 * a later entry replaces a symlink rather than writing to where it points), and a hardlink must
 * name a regular file unpacked earlier.
 */
export async function unpackContextTar(input: Readable, dir: string, gzip: boolean): Promise<void> {
  const ex = extract();
  let failed: (err: unknown) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    failed = reject;
    ex.on('finish', resolve);
    ex.on('error', reject);
  });

  /** Makes every parent directory of `name`; refuses a parent that is a symlink or a file. */
  async function parents(entry: string, name: string): Promise<void> {
    const parts = name.split('/').slice(0, -1);
    let p = dir;
    for (const part of parts) {
      p = join(p, part);
      const st = await lstat(p).catch(() => undefined);
      if (!st) await mkdir(p);
      else if (st.isSymbolicLink()) throw invalid(entry, `${part} is a symlink earlier in the tar`);
      else if (!st.isDirectory()) throw invalid(entry, `${part} is not a directory`);
    }
  }

  /** Makes room for a new entry at `target`: an earlier file or symlink there is replaced. */
  async function replace(target: string, keepDir: boolean): Promise<void> {
    const st = await lstat(target).catch(() => undefined);
    if (!st || (keepDir && st.isDirectory())) return;
    await rm(target, { recursive: true, force: true });
  }

  ex.on('entry', (header, stream, next) => {
    const name = header.name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    (async () => {
      if (name === '' || name === '.') return;
      const why = unsafePathReason(name);
      if (why) throw invalid(header.name, why);
      const target = join(dir, name);
      const mode = (header.mode ?? 0o644) & 0o7777;
      switch (header.type) {
        case 'directory':
          await parents(header.name, name);
          await replace(target, true);
          await mkdir(target, { recursive: true });
          await chmod(target, mode | 0o700);
          break;
        case 'file':
        case 'contiguous-file': {
          await parents(header.name, name);
          await replace(target, false);
          // 'wx': never opens an existing path, so never a symlink planted in between.
          await pipeline(stream, createWriteStream(target, { mode, flags: 'wx' }));
          await chmod(target, mode);
          return;
        }
        case 'symlink':
          await parents(header.name, name);
          await replace(target, false);
          await symlink(header.linkname ?? '', target);
          break;
        case 'link': {
          const src = (header.linkname ?? '').replace(/^(\.\/)+/, '');
          const srcWhy = unsafePathReason(src);
          if (srcWhy) throw invalid(header.name, `hardlink to ${JSON.stringify(src)}: ${srcWhy}`);
          // The source must be a regular file unpacked earlier, reached through no symlink.
          await parents(header.name, src).catch(() => {
            throw invalid(header.name, `hardlink to ${JSON.stringify(src)} goes through a symlink`);
          });
          const st = await lstat(join(dir, src)).catch(() => undefined);
          if (!st?.isFile())
            throw invalid(
              header.name,
              `hardlink to ${JSON.stringify(src)}, which is not a file earlier in the tar`,
            );
          await parents(header.name, name);
          await replace(target, false);
          await link(join(dir, src), target);
          break;
        }
        default:
          // Devices, fifos and the like are no build context.
          break;
      }
      stream.resume();
    })().then(
      () => next(),
      (err) => {
        stream.resume();
        input.destroy();
        failed(err);
      },
    );
  });
  const source = gzip ? input.pipe(createGunzip()) : input;
  input.on('error', failed);
  source.on('error', failed);
  source.pipe(ex as unknown as NodeJS.WritableStream);
  try {
    await done;
  } catch (err) {
    if (err instanceof DepotError) throw err;
    throw new DepotError(
      'invalid_context',
      `cannot read the context tar from stdin: ${(err as Error).message}`,
      'send a tar (optionally gzipped) or a Dockerfile',
    );
  }
}
