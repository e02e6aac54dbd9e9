/** Writing tar entries for the engine's archive endpoints (build contexts, container uploads). */
import type tar from 'tar-stream';

/** A tar header as tar-stream takes it: a name, the rest defaulted. */
export type HeaderArg = Partial<tar.Header> & Pick<tar.Header, 'name'>;

/** Adds an entry (with `body`, or a bodiless one: a directory, a link) and resolves once it is packed. */
export function entryDone(pack: tar.Pack, header: HeaderArg, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null) => (err ? reject(err) : resolve());
    if (body) pack.entry(header, body, cb);
    else pack.entry(header, cb);
  });
}
