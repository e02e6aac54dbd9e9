import { chmod, link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { unsafePathReason } from '../protocol/index.js';
import { DepotError } from '../session/index.js';

/** Whether bytes read from stdin are a (possibly gzipped) tar rather than a Dockerfile. */
export function looksLikeTar(data: Buffer): boolean {
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) return true;
  return data.length >= 262 && data.subarray(257, 262).toString('latin1') === 'ustar';
}

/** Unpacks a context tar from stdin into `dir`, refusing entries that would land outside it. */
export async function unpackContextTar(data: Buffer, dir: string): Promise<void> {
  const raw = data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data;
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const name = header.name.replace(/^\.\//, '').replace(/\/+$/, '');
      (async () => {
        if (name === '' || name === '.') return;
        const why = unsafePathReason(name);
        if (why)
          throw new DepotError(
            'invalid_context',
            `invalid context tar entry ${JSON.stringify(header.name)}: ${why}`,
          );
        const target = join(dir, name);
        const mode = (header.mode ?? 0o644) & 0o7777;
        switch (header.type) {
          case 'directory':
            await mkdir(target, { recursive: true });
            await chmod(target, mode);
            break;
          case 'file': {
            const chunks: Buffer[] = [];
            for await (const c of stream) chunks.push(c as Buffer);
            await writeFile(target, Buffer.concat(chunks), { mode });
            await chmod(target, mode);
            return;
          }
          case 'symlink':
            await symlink(header.linkname ?? '', target);
            break;
          case 'link': {
            const src = header.linkname ?? '';
            const srcWhy = unsafePathReason(src.replace(/^\.\//, ''));
            if (srcWhy) throw new DepotError('invalid_context', `invalid hardlink in context tar: ${src}`);
            await link(join(dir, src.replace(/^\.\//, '')), target);
            break;
          }
          default:
            break;
        }
        stream.resume();
      })().then(
        () => next(),
        (err) => {
          stream.resume();
          reject(err);
        },
      );
    });
    ex.on('finish', resolve);
    ex.on('error', (err) =>
      reject(new DepotError('invalid_context', `cannot read the context tar from stdin: ${err.message}`)),
    );
  });
  Readable.from([raw]).pipe(ex);
  await done;
}
