import { createHmac, randomBytes } from 'node:crypto';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseReference } from '../../../src/registry/index.js';

/**
 * The names a project's images have on the builder's shared engine.
 *
 * A client's `-t app:1` names what it gets locally (`--load`) or in a registry (`--push`), never a
 * shared engine tag: on the engine the image is `builder.depot.internal/<project key>/<name key>:1`.
 * The project key is an HMAC of the project under a key only the builder knows, so no tenant can
 * write down another project's names (not in a Dockerfile, not through a build arg), and the engine
 * resolves a `FROM b/secret-app` of another project to nothing. Every result is also named
 * `…/<project key>/results:<image id hex>`: that name is what makes an image id the project's own
 * (Export answers only for those).
 */
export const NAMESPACE_HOST = 'builder.depot.internal';

export interface ImageNamespace {
  /** `builder.depot.internal/<project key>/` */
  readonly prefix: string;
  /** The engine's name for a client reference (`app:1` → `…/<key>/<repo key>-app:1`). */
  name(ref: string): string;
  /** The engine's name that marks an image id as one of this project's results ('' when none is needed). */
  result(imageId: string): string;
  /** True when one of the image's names is in this project's namespace. */
  owns(repoTags: readonly string[]): boolean;
}

export interface ImageNamespaces {
  forProject(project: string): ImageNamespace;
  /** True for any name in the builder's namespace (whichever project's). */
  isInternal(ref: string): boolean;
}

export function createImageNamespaces(key: Buffer): ImageNamespaces {
  const mac = (text: string, len: number) =>
    createHmac('sha256', key).update(text).digest('hex').slice(0, len);
  return {
    forProject(project) {
      const prefix = `${NAMESPACE_HOST}/p${mac(`project\0${project}`, 24)}/`;
      return {
        prefix,
        name(ref) {
          const r = parseReference(ref);
          const full = `${r.registry}/${r.path}`;
          const last = r.path.slice(r.path.lastIndexOf('/') + 1);
          // The name key keeps the last path component for operators reading `docker images`.
          return `${prefix}${mac(`name\0${full}`, 16)}-${last}:${r.tag || 'latest'}`;
        },
        result(imageId) {
          return `${prefix}results:${imageId.replace(/^sha256:/, '')}`;
        },
        owns(repoTags) {
          return repoTags.some((t) => t.startsWith(prefix));
        },
      };
    },
    isInternal(ref) {
      try {
        return parseReference(ref, { allowDigest: true }).registry === NAMESPACE_HOST;
      } catch {
        return false;
      }
    },
  };
}

/**
 * Names for a builder whose engine belongs to its one user (the embedded builder, on the
 * developer's own Docker): images keep the names the client gave them, as `docker build -t` does.
 */
export const OWN_ENGINE_NAMES: ImageNamespaces = {
  forProject: () => ({
    prefix: '',
    name: (ref) => ref,
    result: () => '',
    owns: () => true,
  }),
  isInternal: () => false,
};

/** The builder's namespace key in `<data>/namespace-key`, made once (0600, never replaced). */
export async function loadNamespaceKey(dataDir: string): Promise<Buffer> {
  const file = join(dataDir, 'namespace-key');
  for (;;) {
    try {
      const hex = (await readFile(file, 'utf8')).trim();
      if (/^[0-9a-f]{64}$/.test(hex)) return Buffer.from(hex, 'hex');
      throw new Error(
        `${file} is not a namespace key: remove it to make a new one (project images on the engine then get new names)`,
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // Written whole under a temp name, then linked into place: a builder starting at the same time
    // either wins the link or reads the key that did.
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flush: true });
    try {
      await link(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }
}
