/**
 * The build context watcher of `depot dev`: chokidar over the context with the build's own ignore
 * rules, reporting context-relative paths that changed, falling back to polling when native
 * watching fails (inotify watch limit, too many open files).
 */
import fs, { type Stats } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { type ChokidarOptions, type FSWatcher, watch } from 'chokidar';
import type { Watcher, WatcherHandlers } from '../dev/ports.js';
import { errnoCode } from './errors.js';
import { PatternMatcher, readIgnorePatterns } from './ignore.js';

/** How to watch a context. */
export interface ContextWatcherOptions {
  contextDir: string;
  /** The Dockerfile in use: always reported, and its "<Dockerfile>.dockerignore" picks the ignore rules. */
  dockerfile?: string;
  /** Poll from the start (network filesystems, containers without inotify). */
  usePolling?: boolean;
  /** Poll interval, ms; default 500 (each watched path is stat'ed that often). */
  pollIntervalMs?: number;
  /** Creates the chokidar watcher; tests wrap it to inject errors. */
  chokidarFactory?: (paths: string[], options: ChokidarOptions) => FSWatcher;
}

/** A Watcher that also shows what it watches (directory -> entries), for tests and diagnostics. */
export interface ContextWatcher extends Watcher {
  getWatched(): Record<string, string[]>;
}

const DEFAULT_POLL_MS = 500;

/** Names editors write and remove around a save (vim, emacs, JetBrains, macOS Finder). */
export function isEditorTemp(name: string): boolean {
  return (
    name.endsWith('.swp') ||
    name.endsWith('.swx') ||
    name.endsWith('~') ||
    name === '4913' ||
    name.startsWith('.#') ||
    (name.length > 1 && name.startsWith('#') && name.endsWith('#')) ||
    name.endsWith('___jb_tmp___') ||
    name.endsWith('___jb_old___') ||
    name === '.DS_Store'
  );
}

/** Why native watching failed, for a person, ending with what happens next. */
function fallbackMessage(err: unknown): string {
  const code = errnoCode(err);
  const why =
    code === 'ENOSPC'
      ? 'inotify watch limit reached: raise fs.inotify.max_user_watches'
      : code === 'EMFILE' || code === 'ENFILE'
        ? 'too many open files: raise the open file limit (ulimit -n)'
        : (code ?? (err instanceof Error ? err.message : String(err)));
  return `file watching failed (${why}); falling back to polling`;
}

/**
 * What changes are compared by when an event arrives that chokidar may have filtered (chmod, a
 * symlink retargeted to a missing path, a second write inside its 50 ms throttle). Directories by
 * mode only: their mtime moves with every child, which the child's own event covers.
 */
function fingerprint(st: Stats): string {
  if (st.isDirectory()) return `d:${st.mode}`;
  return `${st.isSymbolicLink() ? 'l' : 'f'}:${st.mode}:${st.size}:${st.mtimeMs}:${st.ino}`;
}

/**
 * Watches `contextDir` for `depot dev`. Ignored directories are never watched (an excluded
 * directory only when a `!` pattern could re-include something below it, as in the build's walk),
 * `.git` and editor temp files are never reported, the ignore file and the Dockerfile always are.
 * Paths are context-relative with '/'; a Dockerfile (or its ignore file) outside the context comes
 * as '../…'. A change of the ignore file restarts the watcher with the new rules; after that, and
 * after a fallback to polling once running, '.' is reported: what changed during the restart is unknown.
 */
export function createContextWatcher(opts: ContextWatcherOptions): ContextWatcher {
  const factory = opts.chokidarFactory ?? ((paths, options) => watch(paths, options));
  const interval = opts.pollIntervalMs ?? DEFAULT_POLL_MS;
  let handlers: WatcherHandlers | undefined;
  let fsw: FSWatcher | undefined;
  let generation = 0;
  /** The generation whose chokidar is ready (getWatched shows only a ready one). */
  let readyGeneration = -1;
  let polling = opts.usePolling === true;
  let running = false;
  let closed = false;
  let root = '';
  let matcher: PatternMatcher | undefined;
  /** The rules in force ('' until a valid ignore file, or none, has been read). */
  let patternsKey = '';
  /** Why the ignore file cannot be used now; '' while it is valid. */
  let rulesError = '';
  let reloading: Promise<void> = Promise.resolve();
  /** Context-relative paths always reported, and their ancestors (which must stay watched). */
  const always = new Set<string>();
  const alwaysAncestors = new Set<string>();
  /** Absolute paths of the files that can hold the ignore rules. */
  const ignoreFiles = new Set<string>();
  const extraPaths: string[] = [];
  const fingerprints = new Map<string, string>();
  /** Polling only: directory -> the symlinks in it (absolute). */
  const symlinksIn = new Map<string, Set<string>>();
  const pending = new Set<string>();
  let flushQueued = false;

  const toRel = (abs: string): string => {
    const rel = relative(root, abs);
    return sep === '/' ? rel : rel.split(sep).join('/');
  };

  const flush = (): void => {
    flushQueued = false;
    if (closed || pending.size === 0 || handlers === undefined) return;
    const paths = [...pending];
    pending.clear();
    handlers.onChange(paths);
  };

  const report = (rel: string): void => {
    if (rel === '') return;
    pending.add(rel);
    if (!flushQueued) {
      flushQueued = true;
      queueMicrotask(flush);
    }
  };

  const isIgnored = (abs: string, stats?: Stats): boolean => {
    const rel = toRel(abs);
    if (rel === '' || rel === '..' || rel.startsWith('../') || isAbsolute(rel)) return false;
    if (always.has(rel)) return false;
    const name = basename(rel);
    if (name === '.git') return true;
    const isDir = stats?.isDirectory();
    // Without stats chokidar asks again with them before watching: decide on kind-dependent rules then.
    if (stats !== undefined && !isDir && isEditorTemp(name)) return true;
    if (alwaysAncestors.has(rel)) return false;
    // No valid rules yet (a bad ignore file at start): watch only what can fix them.
    if (patternsKey === '') return true;
    if (!matcher?.matches(rel)) return false;
    if (stats !== undefined && !isDir) return true;
    return !matcher.descendsInto(rel);
  };

  /**
   * Reads the ignore rules; true when they changed. A file that cannot be used (a bad pattern) is
   * reported and leaves the last good rules in force; the next valid version takes over.
   */
  const loadRules = async (): Promise<boolean> => {
    let patterns: string[];
    try {
      ({ patterns } = await readIgnorePatterns(root, opts.dockerfile));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (why !== rulesError) handlers?.onIgnoreRules?.(why);
      rulesError = why;
      return false;
    }
    if (rulesError !== '') handlers?.onIgnoreRules?.('');
    rulesError = '';
    const key = JSON.stringify(patterns);
    if (key === patternsKey) return false;
    patternsKey = key;
    matcher = patterns.length > 0 ? new PatternMatcher(patterns) : undefined;
    return true;
  };

  const remember = (abs: string): string | undefined => {
    let st: Stats | undefined;
    try {
      st = fs.lstatSync(abs, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (st === undefined) {
      fingerprints.delete(abs);
      return undefined;
    }
    const fp = fingerprint(st);
    fingerprints.set(abs, fp);
    if (polling && st.isSymbolicLink()) {
      const dir = dirname(abs);
      const set = symlinksIn.get(dir) ?? new Set<string>();
      symlinksIn.set(dir, set.add(abs));
    }
    return fp;
  };

  const rememberIfLink = (abs: string): void => {
    try {
      if (fs.lstatSync(abs, { throwIfNoEntry: false })?.isSymbolicLink()) remember(abs);
    } catch {
      // gone or unreadable: nothing to compare against later
    }
  };

  /** A raw fs event chokidar may not turn into an event of its own: compare stat fingerprints. */
  const onRaw = (event: string, evPath: string | null | undefined, details: unknown): void => {
    const d = (details ?? {}) as { watchedPath?: string };
    const candidates = new Set<string>();
    if (typeof d.watchedPath === 'string') {
      const w = resolve(d.watchedPath);
      if (evPath) {
        candidates.add(join(w, evPath));
        if (basename(w) === evPath) candidates.add(w);
      } else candidates.add(w);
    } else if (typeof evPath === 'string' && isAbsolute(evPath)) candidates.add(evPath);
    void event;
    // Polling watches a symlink through its directory, and chokidar drops a retarget it cannot
    // realpath (a dangling target): re-check the directory's known symlinks when it changes.
    if (polling)
      for (const abs of [...candidates]) for (const l of symlinksIn.get(abs) ?? []) candidates.add(l);
    for (const abs of candidates) {
      const rel = toRel(abs);
      if (rel === '' || (!rel.startsWith('../') && ancestorIgnored(rel))) continue;
      if (rel.startsWith('../') && !extraPaths.includes(abs)) continue;
      const before = fingerprints.get(abs);
      const now = remember(abs);
      if (now !== undefined && now !== before) {
        report(rel);
        if (ignoreFiles.has(abs)) reloadRules();
      }
    }
  };

  /** True when `rel` or a directory above it is ignored (so chokidar does not watch it). */
  const ancestorIgnored = (rel: string): boolean => {
    let st: Stats | undefined;
    try {
      st = fs.lstatSync(join(root, rel), { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (isIgnored(join(root, rel), st)) return true;
    for (let p = rel.lastIndexOf('/'); p > 0; p = rel.lastIndexOf('/', p - 1))
      if (isIgnored(join(root, rel.slice(0, p)))) return true;
    return false;
  };

  /** Starts chokidar; resolves 'ready', or 'failed' with the error if it failed before that. */
  const launch = (usePolling: boolean): Promise<{ ok: true } | { ok: false; err: unknown }> => {
    const gen = ++generation;
    const w = factory([root, ...extraPaths], {
      ignored: isIgnored,
      ignoreInitial: true,
      followSymlinks: false,
      atomic: false,
      ignorePermissionErrors: true,
      persistent: true,
      usePolling,
      interval,
      binaryInterval: interval,
    });
    fsw = w;
    const live = (): boolean => gen === generation && !closed;
    return new Promise((settle) => {
      let ready = false;
      const onEvent = (abs: string): void => {
        if (!live()) return;
        remember(abs);
        report(toRel(abs));
        if (ignoreFiles.has(abs)) reloadRules();
      };
      for (const ev of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) w.on(ev, onEvent);
      w.on('raw', (event, evPath, details) => {
        if (live() && ready) onRaw(event, evPath, details);
      });
      w.on('error', (err) => {
        if (!live()) return;
        if (!ready) {
          ready = true;
          settle({ ok: false, err });
          return;
        }
        void failed(err);
      });
      w.on('ready', () => {
        if (!live() || ready) return;
        ready = true;
        readyGeneration = gen;
        // Baseline of the directories' modes, so that a later chmod of one is seen as a change.
        const watched = w.getWatched();
        for (const dir of Object.keys(watched)) {
          remember(dir);
          // Polling: baseline every symlink too (see onRaw).
          if (usePolling)
            for (const name of watched[dir]!) if (!watched[join(dir, name)]) rememberIfLink(join(dir, name));
        }
        settle({ ok: true });
      });
    });
  };

  const stopCurrent = async (): Promise<void> => {
    const w = fsw;
    fsw = undefined;
    generation++;
    await w?.close();
  };

  /** Native watching failed after start: say so, poll from now on, and ask for a full rescan. */
  const failed = async (err: unknown): Promise<void> => {
    if (polling) {
      handlers?.onError(`file watching error: ${errnoCode(err) ?? String(err)}`, true);
      return;
    }
    polling = true;
    handlers?.onError(fallbackMessage(err), true);
    await stopCurrent();
    if (closed) return;
    const r = await launch(true);
    if (!r.ok) handlers?.onError(`file watching failed: ${errnoCode(r.err) ?? String(r.err)}`, false);
    else report('.');
  };

  /** Re-reads the ignore rules after a change of the ignore file (restarting on new rules). */
  const reloadRules = (): void => {
    // One reload at a time: two overlapping restarts would leave a chokidar instance behind.
    reloading = reloading
      .then(rulesChanged)
      .catch((err) => handlers?.onError(`file watching failed: ${errnoCode(err) ?? String(err)}`, false));
  };

  const rulesChanged = async (): Promise<void> => {
    if (!(await loadRules()) || closed) return;
    await stopCurrent();
    if (closed) return;
    const r = await launch(polling);
    if (!r.ok) await failed(r.err);
    else report('.'); // what changed while no watcher ran is unknown
  };

  return {
    async start(h) {
      handlers = h;
      root = await realpath(resolve(opts.contextDir));
      const dockerfile = opts.dockerfile ? resolve(opts.dockerfile) : undefined;
      const candidates = [join(root, '.dockerignore')];
      if (dockerfile) candidates.push(`${dockerfile}.dockerignore`, dockerfile);
      for (const abs of candidates) {
        if (abs !== dockerfile) ignoreFiles.add(abs);
        const rel = toRel(abs);
        if (rel.startsWith('../') || isAbsolute(rel)) {
          extraPaths.push(abs);
          continue;
        }
        always.add(rel);
        for (let p = rel.lastIndexOf('/'); p > 0; p = rel.lastIndexOf('/', p - 1))
          alwaysAncestors.add(rel.slice(0, p));
      }
      await loadRules();
      let message = polling ? `polling every ${interval} ms` : 'watching with native file events';
      let r = await launch(polling);
      if (!r.ok && !polling) {
        await stopCurrent();
        polling = true;
        message = fallbackMessage(r.err);
        h.onError(message, true);
        r = await launch(true);
      }
      if (!r.ok) {
        await stopCurrent();
        throw new Error(`file watching failed: ${errnoCode(r.err) ?? String(r.err)}`, { cause: r.err });
      }
      running = true;
      return { polling, message };
    },
    async close() {
      closed = true;
      running = false;
      await stopCurrent();
    },
    getWatched() {
      return running && fsw && readyGeneration === generation ? fsw.getWatched() : {};
    },
  };
}
