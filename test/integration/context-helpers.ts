import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import type { ContextEntry } from '../../src/protocol/index.js';

/** Walks a folder into manifest entries plus a blob opener (no ignore rules; tests only). */
export function manifestOf(root: string): {
  entries: ContextEntry[];
  openBlob: (digest: string) => NodeJS.ReadableStream;
} {
  const entries: ContextEntry[] = [];
  const blobs = new Map<string, string>();
  const seen = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, p);
      const st = lstatSync(abs);
      const base = {
        path: p,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtimeMs: Math.floor(st.mtimeMs),
      };
      if (st.isDirectory()) {
        entries.push({ ...base, type: 'dir', size: 0, digest: '', link: '' });
        walk(p);
      } else if (st.isSymbolicLink()) {
        entries.push({ ...base, type: 'symlink', size: 0, digest: '', link: readlinkSync(abs) });
      } else {
        const digest = `sha256:${createHash('sha256').update(readFileSync(abs)).digest('hex')}`;
        blobs.set(digest, abs);
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? seen.get(key) : undefined;
        if (first) entries.push({ ...base, type: 'hardlink', size: 0, digest, link: first });
        else entries.push({ ...base, type: 'file', size: st.size, digest, link: '' });
        if (st.nlink > 1 && !first) seen.set(key, p);
      }
    }
  };
  walk('');
  return {
    entries,
    openBlob: (d) => {
      const f = blobs.get(d);
      if (!f) throw new Error(`no blob ${d}`);
      return createReadStream(f);
    },
  };
}
