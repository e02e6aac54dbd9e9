import type { ContextEntry, EntryKind } from '../protocol/index.js';

/** One row of `depot context ls --json`. */
export interface ContextListItem {
  path: string;
  type: EntryKind;
  mode: number;
  size: number;
  /** Hex sha256 without the "sha256:" prefix for files and hardlinks, "" otherwise. */
  sha256: string;
  link: string;
}

/** The rows `depot context ls --json` prints, in manifest order. */
export function contextListJson(entries: readonly ContextEntry[]): ContextListItem[] {
  return entries.map((e) => ({
    path: e.path,
    type: e.type,
    mode: e.mode,
    size: e.size,
    sha256: e.type === 'file' || e.type === 'hardlink' ? e.digest.replace(/^sha256:/, '') : '',
    link: e.link,
  }));
}

// Control characters would break the one-line-per-entry table, so such names are shown JSON-quoted.
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

function shown(s: string): string {
  return CONTROL_RE.test(s) ? JSON.stringify(s) : s;
}

/** The human table `depot context ls` prints: type, octal mode, size, path [-> link]; one line per entry. */
export function formatContextList(entries: readonly ContextEntry[]): string {
  const sizeWidth = entries.reduce((w, e) => Math.max(w, String(e.size).length), 1);
  let out = '';
  for (const e of entries) {
    const mode = e.mode.toString(8).padStart(4, '0');
    const size = String(e.size).padStart(sizeWidth);
    const link = e.type === 'symlink' || e.type === 'hardlink' ? ` -> ${shown(e.link)}` : '';
    out += `${e.type.padEnd(8)} ${mode} ${size} ${shown(e.path)}${link}\n`;
  }
  return out;
}

/** Totals of a listing: entries, files (with hardlinks) and the bytes of their contents (each inode once). */
export function contextTotals(entries: readonly ContextEntry[]): {
  entries: number;
  files: number;
  bytes: number;
} {
  let files = 0;
  let bytes = 0;
  for (const e of entries) {
    if (e.type === 'file' || e.type === 'hardlink') files++;
    if (e.type === 'file') bytes += e.size;
  }
  return { entries: entries.length, files, bytes };
}
