/**
 * `depot dev --sync`: the rules that say which context paths live-update the running container,
 * from flags, from `depot.json`, or (`--sync auto`) from the Dockerfile; and the plan for one
 * batch of changed paths (sync these, or rebuild and why). Pure but for reading depot.json.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { z } from 'zod';
import { IgnorePatternError, PatternMatcher } from '../context-sync/index.js';
import {
  copyWords,
  flagsOf,
  instructionReads,
  parseInstructions,
  REMOTE_SOURCE,
  UnknownValue,
  walkInstructions,
} from '../dockerfile/index.js';
import { DepotError } from '../errors/index.js';
import type { SyncChange, SyncPlan, SyncRule, SyncSettings } from './sync-types.js';

/** The project file `depot dev` reads its sync settings from, at the root of the context. */
export const CONFIG_FILE = 'depot.json';

/** More changed paths than this in one batch rebuild instead of syncing. */
export const MAX_SYNC_PATHS = 1000;

/** What `--sync` and its companions say (or depot.json's `dev`), before the Dockerfile is read. */
export interface SyncRequest {
  /** `--sync auto`: the rules come from the Dockerfile (deriveAutoRules); `settings.rules` is empty. */
  auto: boolean;
  settings: SyncSettings;
}

/** The sync flags as the command line gives them. */
export interface SyncFlags {
  sync: readonly string[];
  syncExec?: string;
  syncRestart?: boolean;
  rebuildOn: readonly string[];
}

const invalid = (message: string, hint: string): DepotError => new DepotError('invalid_flag', message, hint);

/**
 * A `--sync`/depot.json source: context-relative, '/'-separated, no leading `./` or trailing `/`,
 * '' for the whole context. Throws DepotError('invalid_flag') when it is absolute or leaves the context.
 */
function cleanSrc(raw: string, what: string, contextDir: string): string {
  if (raw === '')
    throw invalid(
      `${what}: the source is empty`,
      'write SRC:DEST, e.g. src:/app/src (. is the whole context)',
    );
  if (raw.startsWith('/'))
    throw invalid(
      `${what}: the source ${JSON.stringify(raw)} is absolute`,
      `write it relative to the context ${contextDir}`,
    );
  if (raw.includes('\\'))
    throw invalid(
      `${what}: the source ${JSON.stringify(raw)} holds a backslash`,
      'separate directories with /',
    );
  const n = posix.normalize(raw).replace(/\/+$/, '');
  if (n === '..' || n.startsWith('../'))
    throw invalid(
      `${what}: the source ${JSON.stringify(raw)} is outside the context ${contextDir}`,
      'sync only paths inside the context',
    );
  return n === '.' ? '' : n;
}

/** A `--sync`/depot.json destination: absolute, normalized, not `/`; a trailing `/` is dropped. */
function cleanDest(raw: string, what: string): string {
  if (!raw.startsWith('/'))
    throw invalid(
      `${what}: the destination ${JSON.stringify(raw)} is not absolute`,
      'write an absolute container path, e.g. /app/src',
    );
  const d = raw.length > 1 ? raw.replace(/\/+$/, '') : raw;
  if (d === '' || d === '/')
    throw invalid(`${what}: the destination is the container's root`, 'sync into a directory such as /app');
  const n = posix.normalize(d);
  if (n !== d)
    throw invalid(`${what}: the destination ${JSON.stringify(raw)} is not normalized`, `write ${n}`);
  return d;
}

function checkRebuildOn(patterns: readonly string[], what: string): string[] {
  const out: string[] = [];
  for (const p of patterns) {
    if (p.trim() === '')
      throw invalid(
        `${what}: empty pattern`,
        'give a context path or pattern, e.g. package-lock.json or **/go.sum',
      );
    try {
      new PatternMatcher([p]);
    } catch (err) {
      if (!(err instanceof IgnorePatternError)) throw err;
      throw invalid(
        `${what}: bad pattern ${JSON.stringify(p)}: ${err.reason}`,
        'use .dockerignore pattern syntax',
      );
    }
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

function checkExec(command: string | undefined, what: string): string | undefined {
  if (command === undefined) return undefined;
  if (command.trim() === '')
    throw invalid(`${what} is empty`, 'give a shell command, e.g. --sync-exec "kill -HUP 1"');
  return command;
}

/** Rules from `SRC:DEST` texts (or `auto`); `what` names the setting in messages. */
function parseRuleTexts(
  entries: ReadonlyArray<string | { src: string; dest: string }>,
  what: string,
  origin: string,
  contextDir: string,
): { auto: boolean; rules: SyncRule[] } {
  if (entries.some((e) => e === 'auto')) {
    if (entries.length > 1)
      throw invalid(
        `${what} auto cannot be combined with other ${what} rules`,
        `give either ${what} auto or SRC:DEST rules`,
      );
    return { auto: true, rules: [] };
  }
  const rules: SyncRule[] = [];
  for (const entry of entries) {
    let src: string;
    let dest: string;
    if (typeof entry === 'string') {
      const colon = entry.indexOf(':');
      if (colon < 0)
        throw invalid(
          `${what} ${JSON.stringify(entry)} has no destination`,
          'write SRC:DEST, e.g. src:/app/src, or auto',
        );
      src = entry.slice(0, colon);
      dest = entry.slice(colon + 1);
    } else ({ src, dest } = entry);
    const label = `${what} ${JSON.stringify(typeof entry === 'string' ? entry : `${src}:${dest}`)}`;
    const rule: SyncRule = { src: cleanSrc(src, label, contextDir), dest: cleanDest(dest, label), origin };
    const twin = rules.find((r) => r.src === rule.src);
    if (twin)
      throw invalid(
        `${label}: ${rule.src || '.'} is already synced to ${twin.dest}`,
        'give each source one destination',
      );
    rules.push(rule);
  }
  return { auto: false, rules };
}

/**
 * The sync settings the command line gives (`--sync SRC:DEST|auto` repeatable, `--sync-exec`,
 * `--sync-restart`, `--rebuild-on PATTERN` repeatable), validated. Throws DepotError('invalid_flag')
 * with one line and a hint for each bad input.
 */
export function parseSyncFlags(flags: SyncFlags, contextDir: string): SyncRequest {
  const { auto, rules } = parseRuleTexts(flags.sync, '--sync', '--sync', contextDir);
  return {
    auto,
    settings: {
      rules,
      ...(flags.syncExec !== undefined ? { exec: checkExec(flags.syncExec, '--sync-exec') } : {}),
      restart: flags.syncRestart === true,
      rebuildOn: checkRebuildOn(flags.rebuildOn, '--rebuild-on'),
    },
  };
}

const configSchema = z.strictObject({
  sync: z.array(z.union([z.string(), z.strictObject({ src: z.string(), dest: z.string() })])).optional(),
  syncExec: z.string().optional(),
  syncRestart: z.boolean().optional(),
  rebuildOn: z.array(z.string()).optional(),
});

/**
 * The `dev` settings of `<contextDir>/depot.json`, validated like the flags; undefined when the
 * file does not exist or has no `dev` key. Other top-level keys are left to whoever owns them.
 * Throws DepotError('invalid_config') naming the file and the key for a bad file.
 */
export async function loadSyncConfig(contextDir: string): Promise<SyncRequest | undefined> {
  const file = join(contextDir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new DepotError(
      'invalid_config',
      `cannot read ${file}: ${code ?? String(err)}`,
      'check its permissions',
      {
        cause: err,
      },
    );
  }
  return parseSyncConfig(text, file, contextDir);
}

/** loadSyncConfig on text already read (`file` names it in messages). */
export function parseSyncConfig(text: string, file: string, contextDir: string): SyncRequest | undefined {
  const bad = (message: string, hint: string, cause?: unknown) =>
    new DepotError('invalid_config', `${file}: ${message}`, hint, cause ? { cause } : undefined);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw bad(`not valid JSON (${(err as Error).message})`, 'fix the file or remove it', err);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw bad('not a JSON object', 'write { "dev": { "sync": ["src:/app/src"] } }');
  if (!Object.hasOwn(json, 'dev')) return undefined;
  const parsed = configSchema.safeParse((json as Record<string, unknown>).dev);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = ['dev', ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys')
      throw bad(
        `unknown key ${at}.${issue.keys[0]}`,
        'dev takes sync, syncExec, syncRestart and rebuildOn; sync entries are "SRC:DEST" or {"src","dest"}',
      );
    throw bad(`${at}: ${issue.message}`, 'see depot dev in docs/cli.md for the format');
  }
  const dev = parsed.data;
  let req: { auto: boolean; rules: SyncRule[] };
  let exec: string | undefined;
  let rebuildOn: string[];
  try {
    req = parseRuleTexts(dev.sync ?? [], 'dev.sync', CONFIG_FILE, contextDir);
    exec = checkExec(dev.syncExec, 'dev.syncExec');
    rebuildOn = checkRebuildOn(dev.rebuildOn ?? [], 'dev.rebuildOn');
  } catch (err) {
    if (err instanceof DepotError) throw bad(err.message, err.hint ?? '', err);
    throw err;
  }
  return {
    auto: req.auto,
    settings: {
      rules: req.rules,
      ...(exec !== undefined ? { exec } : {}),
      restart: dev.syncRestart === true,
      rebuildOn,
    },
  };
}

/**
 * depot.json's settings with the command line's on top: `--sync` rules (or `auto`), when given,
 * replace the file's; `--sync-exec` replaces the file's command; `--sync-restart` turns restart
 * on; `--rebuild-on` patterns are added to the file's (a rebuild is never the unsafe choice).
 * Throws DepotError('invalid_flag') when a companion setting is left without any rule to serve.
 */
export function mergeSyncSettings(config: SyncRequest | undefined, flags: SyncRequest): SyncRequest {
  const useFlags = !config || flags.auto || flags.settings.rules.length > 0;
  const exec = flags.settings.exec ?? config?.settings.exec;
  const merged: SyncRequest = {
    auto: useFlags ? flags.auto : config.auto,
    settings: {
      rules: useFlags ? flags.settings.rules : config.settings.rules,
      ...(exec !== undefined ? { exec } : {}),
      restart: flags.settings.restart || config?.settings.restart === true,
      rebuildOn: [...new Set([...(config?.settings.rebuildOn ?? []), ...flags.settings.rebuildOn])],
    },
  };
  const s = merged.settings;
  if (!merged.auto && s.rules.length === 0 && (s.exec !== undefined || s.restart || s.rebuildOn.length > 0))
    throw invalid(
      '--sync-exec, --sync-restart and --rebuild-on need sync rules',
      `add --sync SRC:DEST or --sync auto (or "sync" under "dev" in ${CONFIG_FILE})`,
    );
  return merged;
}

/** True when the settings sync anything (rules given, or to come from the Dockerfile). */
export function syncRequested(request: SyncRequest): boolean {
  return request.auto || request.settings.rules.length > 0;
}

/** A COPY/ADD of the Dockerfile `--sync auto` could not turn into a rule, and why (for the dev screen). */
export interface SyncRefusal {
  /** `Dockerfile:12`, or the Dockerfile's name alone when the whole file is refused. */
  origin: string;
  /** The instruction as written (`COPY --chown=app src/ /app/src/`), '' for the whole file. */
  instruction: string;
  reason: string;
}

/** What `--sync auto` derives from a Dockerfile. */
export interface AutoSyncRules {
  rules: SyncRule[];
  refused: SyncRefusal[];
  /**
   * What the build reads besides the rules' COPYs (SyncSettings.buildReads): the context sources of
   * every other COPY/ADD and RUN bind mount of the target stage and of the stages it depends on.
   */
  buildReads: Array<{ pattern: string; origin: string }>;
}

/** What deriveAutoRules needs besides the Dockerfile's text. */
export interface AutoRuleOptions {
  /** `--target`: the stage whose image runs; the last stage when absent. */
  target?: string;
  buildArgs: Readonly<Record<string, string>>;
  /**
   * The context's non-directory entries (context-relative, '/'-separated, after .dockerignore):
   * tells a file source from a directory one and expands wildcard sources. Without it, a source
   * whose kind matters (`COPY app /srv/`) and every wildcard source are refused.
   */
  contextFiles?: readonly string[];
  /** How the Dockerfile is named in origins (`web.Dockerfile:7`); `Dockerfile` by default. */
  dockerfileName?: string;
}

/** One COPY/ADD of the target stage, resolved as far as this side can. */
interface Copy {
  line: number;
  text: string;
  /** The rules it gives, or why not (undefined when it copies nothing from the context). */
  rules?: SyncRule[];
  refusal?: string;
  /** The container paths it writes; undefined when they cannot be known here. */
  writes?: string[];
}

const WILDCARD = /[*?[]/;
const CHOWN_NUMERIC = /^(\d+)(?::(\d+))?$/;

/**
 * The sync rules `--sync auto` takes from a Dockerfile: each COPY/ADD from the context in the
 * target stage (the last one when no target) that comes after the stage's last RUN (a RUN may read
 * any file, so a file it could have read must rebuild) and whose destination no later COPY/ADD
 * writes into. Every other context COPY/ADD of that stage is listed in `refused` with its reason;
 * what the build reads besides the rules' COPYs comes back as `buildReads` (for SyncSettings), and
 * the whole file is refused when a step the image needs reads a path only the build can resolve.
 */
export function deriveAutoRules(dockerfileText: string, options: AutoRuleOptions): AutoSyncRules {
  const name = options.dockerfileName ?? 'Dockerfile';
  const parsed = parseInstructions(dockerfileText);
  const { syntax } = parsed;
  const whole = (reason: string): AutoSyncRules => ({
    rules: [],
    refused: [{ origin: name, instruction: '', reason }],
    buildReads: [],
  });
  if (syntax) return whole(`a "# syntax=" frontend may build it differently (${syntax})`);

  const files = options.contextFiles ? new Set(options.contextFiles) : undefined;
  const dirs = options.contextFiles ? directoriesOf(options.contextFiles) : undefined;
  /** A stage's working directory: a path, or why it is not known here. */
  type Workdir = { dir: string } | { unknown: string };
  interface Stage {
    name?: string;
    workdir: Workdir;
    copies: Copy[];
    lastRun: number;
    /** Stages it builds on (FROM, COPY --from, RUN --mount from=): names or indexes; '*' when unknown. */
    deps: Set<string>;
    /** The context paths its steps read, by line. */
    reads: Array<{ pattern: string; line: number }>;
    /** A step reads a context path not known here: why. */
    unknownRead?: string;
  }
  const stages: Stage[] = [];
  const dependOn = (stage: Stage, raw: string, expand: (t: string) => string) => {
    try {
      stage.deps.add(expand(raw).toLowerCase());
    } catch (err) {
      if (!(err instanceof UnknownValue)) throw err;
      stage.deps.add('*');
    }
  };
  walkInstructions(parsed, options.buildArgs, (ins) => {
    if (ins.from) {
      // A stage starts in its parent stage's working directory; an image's is not known here.
      const parent = stages.find((s) => s.name !== undefined && s.name === ins.from!.base);
      const workdir: Workdir = parent
        ? parent.workdir
        : ins.from.base === 'scratch'
          ? { dir: '/' }
          : { unknown: "the base image's working directory decides (add a WORKDIR)" };
      // A FROM naming a variable may name a stage: count it as depending on every one.
      const deps = new Set([ins.from.base.includes('$') ? '*' : ins.from.base]);
      stages.push({
        ...(ins.from.name ? { name: ins.from.name } : {}),
        workdir,
        copies: [],
        lastRun: 0,
        deps,
        reads: [],
      });
      return;
    }
    const stage = stages[ins.stage];
    if (!stage) return;
    try {
      for (const r of instructionReads(ins)) stage.reads.push({ pattern: r.path, line: ins.line });
    } catch (err) {
      if (!(err instanceof UnknownValue)) throw err;
      stage.unknownRead ??= `${name}:${ins.line} reads a path depot cannot know (${err.message})`;
    }
    if (ins.keyword === 'WORKDIR') {
      try {
        const w = ins.expand(ins.rest.trim());
        if (/[\\"']/.test(w))
          stage.workdir = { unknown: `WORKDIR at line ${ins.line} holds a backslash or quote` };
        else if (w.startsWith('/')) stage.workdir = { dir: posix.normalize(w) };
        else if ('dir' in stage.workdir) stage.workdir = { dir: posix.join(stage.workdir.dir, w) };
        else
          stage.workdir = {
            unknown: `WORKDIR ${w} at line ${ins.line} is relative to the base image's (make it absolute)`,
          };
      } catch (err) {
        if (!(err instanceof UnknownValue)) throw err;
        stage.workdir = { unknown: `WORKDIR at line ${ins.line}: ${err.message}` };
      }
    } else if (ins.keyword === 'RUN') {
      stage.lastRun = ins.line;
      for (const [flag, value] of flagsOf(ins.rest).flags) {
        const from = flag === 'mount' ? /(?:^|,)\s*from=([^,]*)/i.exec(value) : null;
        if (from) dependOn(stage, from[1]!, ins.expand);
      }
    } else if (ins.keyword === 'COPY' || ins.keyword === 'ADD') {
      const from = flagsOf(ins.rest).flags.find(([f]) => f === 'from');
      if (from) dependOn(stage, from[1], ins.expand);
      stage.copies.push(resolveCopy(ins, stage.workdir, name, files, dirs));
    }
  });
  if (stages.length === 0) return whole('it has no FROM');
  const targetIndex =
    options.target === undefined
      ? stages.length - 1
      : stages.findIndex((s) => s.name === options.target!.toLowerCase());
  const stage = stages[targetIndex];
  if (!stage) return whole(`it has no stage named ${JSON.stringify(options.target)}`);

  // The stages the image is built from: only their reads matter (BuildKit builds no other).
  const needed = new Set<number>([targetIndex]);
  for (const queue = [targetIndex]; queue.length > 0; ) {
    for (const dep of stages[queue.pop()!]!.deps) {
      const found =
        dep === '*'
          ? stages.map((_, k) => k)
          : [/^\d+$/.test(dep) ? Number(dep) : stages.findIndex((s) => s.name === dep)];
      for (const k of found) {
        if (k >= 0 && k < stages.length && !needed.has(k)) {
          needed.add(k);
          queue.push(k);
        }
      }
    }
  }
  for (const k of [...needed].sort((x, y) => x - y)) {
    const why = stages[k]!.unknownRead;
    if (why) return whole(why);
  }

  const { copies, lastRun } = stage;
  const rules: SyncRule[] = [];
  const refused: SyncRefusal[] = [];
  const kept = new Set<number>();
  for (const [k, c] of copies.entries()) {
    if (!c.rules && c.refusal === undefined) continue;
    const refuse = (reason: string) =>
      refused.push({ origin: `${name}:${c.line}`, instruction: c.text, reason });
    if (c.line < lastRun) {
      refuse(`the RUN at line ${lastRun} comes after it and may read what it copies`);
      continue;
    }
    if (c.refusal !== undefined) {
      refuse(c.refusal);
      continue;
    }
    const mine = c.rules!;
    const later = copies
      .slice(k + 1)
      .find((w) => !w.writes || w.writes.some((p) => mine.some((r) => overlaps(p, r.dest))));
    if (later) {
      refuse(
        later.writes
          ? `the ${later.text.split(/\s/)[0]} at line ${later.line} writes into what it copies`
          : `the ${later.text.split(/\s/)[0]} at line ${later.line} writes where depot cannot tell`,
      );
      continue;
    }
    rules.push(...mine);
    kept.add(c.line);
  }
  // planSync maps a path by the longest source only (rules of that same source all apply), but
  // the image holds a path copied by two COPYs twice (`COPY . /app`, `COPY conf/ /etc/app/`): give
  // the outer COPY a rule of the inner one's source too, so both copies stay current.
  const direct = [...rules];
  for (const inner of new Set(direct.map((r) => r.src))) {
    for (const outer of direct) {
      if (outer.src === inner || !(outer.src === '' || inner.startsWith(`${outer.src}/`))) continue;
      const dest = posix.join(outer.dest, outer.src === '' ? inner : inner.slice(outer.src.length + 1));
      if (!rules.some((r) => r.src === inner && r.dest === dest)) rules.push({ ...outer, src: inner, dest });
    }
  }
  const buildReads: AutoSyncRules['buildReads'] = [];
  const seen = new Set<string>();
  for (const k of [...needed].sort((x, y) => x - y)) {
    for (const r of stages[k]!.reads) {
      if (k === targetIndex && kept.has(r.line)) continue;
      const key = `${r.pattern}\0${r.line}`;
      if (seen.has(key)) continue;
      seen.add(key);
      buildReads.push({ pattern: r.pattern, origin: `${name}:${r.line}` });
    }
  }
  return { rules, refused, buildReads };
}

/** Every directory that holds one of `files` (context-relative), '' excluded. */
function directoriesOf(files: readonly string[]): Set<string> {
  const dirs = new Set<string>();
  for (const f of files) {
    for (let i = f.indexOf('/'); i >= 0; i = f.indexOf('/', i + 1)) dirs.add(f.slice(0, i));
  }
  return dirs;
}

function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(b === '/' ? '/' : `${b}/`) || b.startsWith(a === '/' ? '/' : `${a}/`);
}

/** A COPY/ADD of the target stage: the rules it gives, or why not, and what it writes. */
function resolveCopy(
  ins: { keyword: string; rest: string; line: number; expand(text: string): string },
  workdir: { dir: string } | { unknown: string },
  name: string,
  files: Set<string> | undefined,
  dirs: Set<string> | undefined,
): Copy {
  const text = `${ins.keyword} ${ins.rest}`;
  const copy: Copy = { line: ins.line, text };
  const origin = `${name}:${ins.line}`;
  const { flags, args } = flagsOf(ins.rest);
  const words = copyWords(args);
  const heredoc = words.some((w) => w.startsWith('<<'));
  const sourcesRaw = words.slice(0, -1);
  const fromContext =
    !flags.some(([f]) => f === 'from') &&
    !heredoc &&
    sourcesRaw.some((w) => !(ins.keyword === 'ADD' && REMOTE_SOURCE.test(w)));

  // Where it writes: the destination, resolved against WORKDIR.
  let dest: string | undefined;
  let destIsDir = false;
  let destProblem: string | undefined;
  try {
    const d = ins.expand(words.at(-1) ?? '');
    destIsDir = d.endsWith('/') || d === '.' || d.endsWith('/.') || sourcesRaw.length > 1;
    if (d === '') destProblem = 'it has no destination';
    else if (/[\\"']/.test(d))
      destProblem = `its destination ${JSON.stringify(d)} holds a backslash or quote`;
    else if (d.startsWith('/')) dest = posix.normalize(d);
    else if ('dir' in workdir) dest = posix.join(workdir.dir, d);
    else destProblem = `its destination ${JSON.stringify(d)} is relative and ${workdir.unknown}`;
    if (dest !== undefined) {
      dest = dest.length > 1 ? dest.replace(/\/+$/, '') : dest;
      // WORKDIR made it a directory: a file goes into it.
      if ('dir' in workdir && dest === workdir.dir) destIsDir = true;
    }
  } catch (err) {
    if (!(err instanceof UnknownValue)) throw err;
    destProblem = `its destination ${err.message}`;
  }
  if (dest !== undefined) copy.writes = [dest];
  if (!fromContext) return copy;
  const refuse = (reason: string): Copy => ({ ...copy, refusal: reason });
  if (destProblem !== undefined) return refuse(destProblem);
  if (dest === '/') return refuse('it copies into / (sync rules need a directory below /)');

  // Flags: ownership and mode are kept; what changes the copy's shape is refused.
  let uid: number | undefined;
  let gid: number | undefined;
  let mode: number | undefined;
  for (const [flag, raw] of flags) {
    let value: string;
    try {
      value = ins.expand(raw);
    } catch (err) {
      if (!(err instanceof UnknownValue)) throw err;
      return refuse(`--${flag}: ${err.message}`);
    }
    if (flag === 'chown') {
      const m = CHOWN_NUMERIC.exec(value);
      if (!m)
        return refuse(
          `--chown=${value} names a user or group: only the image's /etc/passwd can resolve it (use numeric ids, e.g. --chown=1000:1000)`,
        );
      uid = Number(m[1]);
      gid = Number(m[2] ?? m[1]);
    } else if (flag === 'chmod') {
      if (!/^[0-7]{3,4}$/.test(value)) return refuse(`--chmod=${value} is not an octal mode`);
      mode = Number.parseInt(value, 8);
    } else if (flag !== 'link') {
      return refuse(`--${flag} changes what is copied where (not synced)`);
    }
  }

  const rules: SyncRule[] = [];
  const owner = { ...(uid !== undefined ? { uid, gid } : {}), ...(mode !== undefined ? { mode } : {}) };
  const add = (src: string, to: string): void => {
    rules.push({ src, dest: to, ...owner, origin });
  };
  for (const rawWord of sourcesRaw) {
    if (ins.keyword === 'ADD' && REMOTE_SOURCE.test(rawWord))
      return refuse('it also fetches a remote source (one rebuild covers both)');
    let word: string;
    try {
      word = ins.expand(rawWord);
    } catch (err) {
      if (!(err instanceof UnknownValue)) throw err;
      return refuse(`its source ${err.message}`);
    }
    if (/[\\"']/.test(word)) return refuse(`its source ${JSON.stringify(word)} holds a backslash or quote`);
    const saysDir = word.endsWith('/') || word === '.' || word.endsWith('/.');
    const src = posix.normalize(word.replace(/^\/+/, '')).replace(/\/+$/, '');
    if (src === '..' || src.startsWith('../'))
      return refuse(`its source ${JSON.stringify(word)} leaves the context`);
    const clean = src === '.' ? '' : src;
    if (WILDCARD.test(clean)) {
      if (!files || !dirs || /[[\\]/.test(clean) || clean.includes('**'))
        return refuse(
          files
            ? `its source ${word} is a wildcard beyond * and ?`
            : `its source ${word} is a wildcard (the context's files are not known here)`,
        );
      const matcher = new PatternMatcher([clean]).patterns[0]!.regexp;
      const matches = [...files, ...dirs].filter((p) => matcher.test(p)).sort();
      if (matches.length === 0) return refuse(`its source ${word} matches nothing in the context`);
      for (const m of matches) {
        if (files.has(m)) {
          if (ins.keyword === 'ADD') return refuse(`ADD unpacks archives: ${m} may be one (use COPY)`);
          add(m, posix.join(dest!, posix.basename(m)));
        } else add(m, dest!);
      }
      continue;
    }
    // BuildKit copies a directory's contents into the destination, a file into it or as it.
    let kind: 'file' | 'dir' | undefined = clean === '' || saysDir ? 'dir' : undefined;
    if (files && dirs && kind === undefined) {
      if (files.has(clean)) kind = 'file';
      else if (dirs.has(clean)) kind = 'dir';
      else return refuse(`its source ${word} is not in the context`);
    }
    if (ins.keyword === 'ADD' && kind !== 'dir')
      return refuse(`ADD unpacks archives: ${word} may be one (use COPY for files)`);
    if (kind === 'dir') add(clean, dest!);
    else if (kind === 'file') add(clean, destIsDir ? posix.join(dest!, posix.basename(clean)) : dest!);
    else if (destIsDir)
      return refuse(
        `whether ${word} is a file or a directory decides where it lands (the context's files are not known here)`,
      );
    // A file copied as the destination or a directory's contents into it: the same rule.
    else add(clean, dest!);
  }
  copy.rules = rules;
  copy.writes = rules.map((r) => r.dest);
  return copy;
}

/** What the local file system says of a changed context path; undefined when it is gone. */
export interface PathFacts {
  type: 'file' | 'symlink' | 'dir';
  /** st_mode (permission bits are taken from it). */
  mode: number;
  /** A symlink's target, as stored. */
  target?: string;
}

/**
 * planSync's `lookup` over the local disk: lstat of `<contextDir>/<path>` (links not followed),
 * undefined when the path is gone; anything that is not a file, link or directory counts as gone.
 */
export function localPathFacts(contextDir: string): (path: string) => PathFacts | undefined {
  return (path) => {
    const full = join(contextDir, path);
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(full);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
    if (st.isSymbolicLink()) return { type: 'symlink', mode: st.mode, target: readlinkSync(full) };
    if (st.isDirectory()) return { type: 'dir', mode: st.mode };
    if (st.isFile()) return { type: 'file', mode: st.mode };
    return undefined;
  };
}

/** What planSync needs to know of the session besides the settings. */
export interface PlanOptions {
  /** The context directory: a file change's `source` is its absolute local path below it. */
  contextDir: string;
  /** The Dockerfile, context-relative, when it lies in the context ('Dockerfile' by default). */
  dockerfile?: string;
  /** At most this many changed paths are synced at once (MAX_SYNC_PATHS by default). */
  maxPaths?: number;
}

/**
 * What a batch of changed context paths (context-relative, '/'-separated) means for the running
 * container: the changes to make, each path mapped by the rule with the longest matching source
 * (every rule of that same source when several share it), or a rebuild and the first reason
 * found: the Dockerfile, an ignore file or depot.json changed, a path matches `--rebuild-on` or a
 * `buildReads` pattern, a path no rule covers, a rule's source itself was deleted or is a symlink,
 * too many paths.
 */
export function planSync(
  settings: SyncSettings,
  changedPaths: readonly string[],
  lookup: (path: string) => PathFacts | undefined,
  options: PlanOptions,
): SyncPlan {
  const max = options.maxPaths ?? MAX_SYNC_PATHS;
  const paths = [
    ...new Set(changedPaths.map((p) => posix.normalize(p.replace(/^\.?\/+/, '')).replace(/\/+$/, ''))),
  ];
  if (paths.length > max)
    return {
      kind: 'rebuild',
      reason: `${paths.length} paths changed at once (more than ${max}): a rebuild is the surer way`,
    };
  const dockerfile = posix.normalize(options.dockerfile ?? 'Dockerfile');
  const buildFiles = new Set([dockerfile, `${dockerfile}.dockerignore`, '.dockerignore']);
  const rebuildOn = settings.rebuildOn.length > 0 ? new PatternMatcher(settings.rebuildOn) : undefined;
  const reads = (settings.buildReads ?? []).map(({ pattern, origin }) => ({
    origin,
    matches: readMatcher(pattern),
  }));
  for (const p of paths) {
    if (buildFiles.has(p)) return { kind: 'rebuild', reason: `${p} changed` };
    if (p === CONFIG_FILE) return { kind: 'rebuild', reason: `${p} changed (it holds the sync settings)` };
    if (rebuildOn?.matches(p)) return { kind: 'rebuild', reason: `${p} matches --rebuild-on` };
    const read = reads.find((r) => r.matches(p));
    if (read) return { kind: 'rebuild', reason: `${p} is read by ${read.origin} too` };
  }
  const changes: SyncChange[] = [];
  for (const p of paths) {
    if (p === '' || p === '.' || p === '..' || p.startsWith('../'))
      return { kind: 'rebuild', reason: `${JSON.stringify(p)} is not a path inside the context` };
    const covering = settings.rules.filter((r) => covers(r, p));
    const best = Math.max(-1, ...covering.map((r) => r.src.length));
    const matching = covering.filter((r) => r.src.length === best);
    if (matching.length === 0) return { kind: 'rebuild', reason: `${p} is not covered by a sync rule` };
    const facts = lookup(p);
    if (!facts && matching.some((r) => r.src === p))
      return { kind: 'rebuild', reason: `${p} was deleted and is a sync rule's source` };
    // COPY follows a symlink named as its source (it copies the target); below a source, links stay links.
    if (facts?.type === 'symlink' && matching.some((r) => r.src === p))
      return { kind: 'rebuild', reason: `${p} is a symlink and a sync rule's source` };
    for (const r of matching) {
      const rest = r.src === '' ? p : p.slice(r.src.length + 1);
      const dest = rest === '' ? r.dest : posix.join(r.dest, rest);
      const uid = r.uid ?? 0;
      const gid = r.gid ?? 0;
      if (!facts) changes.push({ kind: 'delete', dest });
      else if (facts.type === 'file')
        changes.push({
          kind: 'file',
          dest,
          source: join(options.contextDir, p),
          mode: r.mode ?? facts.mode & 0o7777,
          uid,
          gid,
        });
      else if (facts.type === 'symlink')
        changes.push({ kind: 'symlink', dest, target: facts.target ?? '', uid, gid });
      else changes.push({ kind: 'dir', dest, mode: r.mode ?? facts.mode & 0o7777, uid, gid });
    }
  }
  return { kind: 'sync', changes };
}

/** Whether a rule's source holds a context path (the whole context, the path itself, or below it). */
export function covers(rule: Pick<SyncRule, 'src'>, path: string): boolean {
  return rule.src === '' || path === rule.src || path.startsWith(`${rule.src}/`);
}

/** Whether a changed path is under a build read (a follow path: the path, what is below it, globs by component). */
function readMatcher(pattern: string): (path: string) => boolean {
  if (pattern === '') return () => true;
  try {
    const m = new PatternMatcher([pattern]);
    return (path) => m.matches(path);
  } catch (err) {
    // A pattern this side cannot read could match anything: rebuild rather than guess.
    if (err instanceof IgnorePatternError) return () => true;
    throw err;
  }
}
