/**
 * The advisor's rules over one Dockerfile and the files its context sends. Pure: the context is
 * seen through ContextFiles and the measured directories it is given (sent-dirs.ts does that I/O).
 */
import { argPlacements } from '../dockerfile/model.js';
import { copyWords, flagsOf, jsonWords } from '../dockerfile/parser.js';
import { parseReference } from '../registry/reference.js';
import { type InstallTool, installIn } from '../smart-cache/installers.js';
import { type ContextFiles, planSmartCache, type SmartPlan } from '../smart-cache/plan.js';
import { builtStages, type Instr, parseStages, type Stage, stageNamed } from './stages.js';
import type { Finding, RuleId, Severity } from './types.js';

/** A directory of the context that usually should not be sent, measured by the context walk. */
export interface SentDir {
  /** Context-relative, e.g. `node_modules`. */
  dir: string;
  /** Files (and symlinks) under it that the build sends, and their bytes. */
  files: number;
  bytes: number;
  /** False when the walk stopped at its limit: the counts are lower bounds. */
  complete: boolean;
}

export interface AdviseInput {
  dockerfile: string;
  files: ContextFiles;
  /** The stage a build stops at (`--target`); the last stage when absent. */
  target?: string;
  /** The heavy directories the context sends (see sentDirs); none when absent. */
  sent?: readonly SentDir[];
  /** Whether the context has an ignore file (the fix says "create" otherwise). */
  hasIgnoreFile?: boolean;
  /**
   * True when `files` only stands in for a context that is not at hand (the builder advising on a
   * recorded Dockerfile): nothing that depends on the files' contents is said, such as what
   * `--smart-cache` would do with a step.
   */
  contextUnknown?: boolean;
}

/** Directories whose presence in the context is almost always a mistake. */
export const NEVER_SENT = ['.git', 'node_modules', '__pycache__', '.venv', 'venv'];
/** Common build outputs: often a mistake, sometimes the very thing a Dockerfile copies. */
export const BUILD_OUTPUTS = [
  'dist',
  'build',
  'target',
  'out',
  '.next',
  '.nuxt',
  'coverage',
  '.pytest_cache',
  '.mypy_cache',
  '.tox',
  '.gradle',
  '.terraform',
];

/** A `--target` naming no stage: the user's to fix. */
export class UnknownTargetError extends Error {
  readonly code = 'target_not_found';
  constructor(readonly target: string) {
    super(`target stage ${JSON.stringify(target)} not found in the Dockerfile`);
    this.name = 'UnknownTargetError';
  }
}

/**
 * Every finding for `input`, sorted by line. Findings in stages the build of the target does not
 * run are kept as `info`, their message saying so: they cost nothing in this build but would in
 * a build of that stage.
 */
export async function advise(input: AdviseInput): Promise<Finding[]> {
  const stages = parseStages(input.dockerfile);
  const built = builtStages(stages, input.target);
  if (!built) throw new UnknownTargetError(input.target ?? '');
  const plan: SmartPlan = input.contextUnknown
    ? { rewrites: [], refusals: [], dockerfile: input.dockerfile }
    : await planSmartCache(input.dockerfile, input.files);
  const multi = stages.length > 1;
  const out: Finding[] = [];
  const add = (stage: Stage | undefined, f: Finding) => {
    if (stage && multi) f.stage = stage.label;
    if (stage && !built.has(stage.index)) {
      f.severity = 'info';
      f.message += ` (stage ${stage.label} is not built for ${input.target ? `target ${input.target}` : 'the default target'})`;
    }
    out.push(f);
  };
  // Per stage, the context directories its filesystem holds copies of (a stage built on an earlier
  // one starts with that one's).
  const copiedBy = new Map<number, string[]>();
  for (const stage of stages) {
    for (const f of await copyBeforeInstall(stage, plan, input.files)) add(stage, f);
    for (const f of aptGet(stage)) add(stage, f);
    for (const f of addUrl(stage)) add(stage, f);
    const parent = stageNamed(stages, stage.image, stage.index);
    const copied = [...(parent ? (copiedBy.get(parent.index) ?? []) : [])];
    for (const f of lockfiles(stage, input.files, copied)) add(stage, f);
    copiedBy.set(stage.index, copied);
    const base = unpinnedBase(stages, stage);
    if (base) add(stage, base);
  }
  for (const p of argPlacements(input.dockerfile)) {
    const stage = stages[p.stage];
    const runs = p.runs.map((r) => r.text);
    const n = runs.length;
    const steps = `${n} RUN step${n === 1 ? '' : 's'}`;
    add(
      stage,
      p.firstUseLine > 0
        ? {
            rule: 'arg-placement',
            severity: 'warning',
            line: p.line,
            instruction: `ARG ${p.name}`,
            message: `ARG ${p.name} is declared ${steps} before its first use (line ${p.firstUseLine}): a new value reruns ${listed(runs)}`,
            fix: `move \`ARG ${p.name}\` down to just above line ${p.firstUseLine}`,
            affects: runs,
          }
        : {
            // No instruction names it; a script a RUN starts may still read it from its environment.
            rule: 'arg-placement',
            severity: 'info',
            line: p.line,
            instruction: `ARG ${p.name}`,
            message: `ARG ${p.name} is named by no instruction below it, yet every RUN gets it: a new value reruns ${listed(runs)}`,
            fix: `remove \`ARG ${p.name}\` if no script reads $${p.name}; else declare it just above the RUN whose script does`,
            affects: runs,
          },
    );
  }
  const builtList = stages.filter((s) => built.has(s.index));
  for (const f of sentDirFindings(input.sent ?? [], builtList, input.hasIgnoreFile ?? true))
    add(undefined, f);
  const rank = (s: Severity) => ['error', 'warning', 'info'].indexOf(s);
  // Findings about the context itself (line 0) come after the Dockerfile's.
  const at = (f: Finding) => (f.line === 0 ? Number.MAX_SAFE_INTEGER : f.line);
  return out.sort((a, b) => at(a) - at(b) || rank(a.severity) - rank(b.severity));
}

function listed(items: string[], max = 3): string {
  const shown = items.slice(0, max).map((i) => `\`${short(i)}\``);
  return items.length > max ? `${shown.join(', ')} and ${items.length - max} more` : shown.join(', ');
}

function short(text: string, max = 60): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function finding(rule: RuleId, severity: Severity, instr: Instr, message: string, fix: string): Finding {
  return { rule, severity, line: instr.line, instruction: instr.text, message, fix };
}

/** A RUN's command: the shell form as written, the exec form's words joined. */
function runCommand(instr: Instr): string {
  const { args } = flagsOf(instr.rest);
  // Not JSON: BuildKit runs it through the shell as written.
  return jsonWords(args)?.join(' ') ?? args;
}

/** A COPY/ADD from the context: its sources and destination (undefined for `--from` or a heredoc). */
function contextCopy(instr: Instr): { sources: string[]; dest: string } | undefined {
  if (instr.keyword !== 'COPY' && instr.keyword !== 'ADD') return undefined;
  const { flags, args } = flagsOf(instr.rest);
  if (flags.some(([f]) => f === 'from')) return undefined;
  const words = copyWords(args);
  if (words.length < 2 || words.some((w) => w.startsWith('<<'))) return undefined;
  return { sources: words.slice(0, -1), dest: words.at(-1)! };
}

/** `./app/` → `app`; `.` and `./` → ''. */
function cleanSource(src: string): string {
  return src
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '')
    .replace(/^\.$/, '');
}

const join = (dir: string, name: string) => (dir ? `${dir}/${name}` : name);

// ---------------------------------------------------------------------------------------------
// 1. A broad COPY before an install

async function copyBeforeInstall(stage: Stage, plan: SmartPlan, files: ContextFiles): Promise<Finding[]> {
  const out: Finding[] = [];
  stage.body.forEach((copy, k) => {
    const parts = contextCopy(copy);
    if (!parts) return;
    const installs = stage.body
      .slice(k + 1)
      .filter((i) => i.keyword === 'RUN')
      .map((run) => ({ run, tool: installIn(runCommand(run)) }))
      .filter((x): x is { run: Instr; tool: InstallTool } => x.tool !== undefined);
    for (const { run, tool } of installs) {
      // The whole context, or a directory that holds the install's manifests.
      const dir = parts.sources
        .map((s) => (/[*?[]/.test(s) ? undefined : cleanSource(s)))
        .find(
          (s) =>
            s === '' ||
            (s !== undefined && files.hasUnder(s) && tool.manifests.some((m) => files.has(join(s, m)))),
        );
      if (dir === undefined) continue;
      const rewrite = plan.rewrites.find((r) => r.copyLine === copy.line && r.installLine === run.line);
      const refusal = plan.refusals.find((r) => r.line === run.line);
      const present = tool.manifests.filter((m) => files.has(join(dir, m)));
      const manifests = (rewrite?.manifests ?? (present.length ? present : tool.manifests)).map((m) =>
        join(dir, m),
      );
      const dest = parts.dest === '.' ? './' : parts.dest.endsWith('/') ? parts.dest : `${parts.dest}/`;
      const copyFirst = `\`${copy.keyword} ${manifests.join(' ')} ${dest}\``;
      let fix = `copy ${manifests.join(', ')} first (${copyFirst}), install, then copy the rest`;
      if (rewrite) fix += ' — or build with --smart-cache, which does this for you';
      else if (refusal) fix += `; --smart-cache leaves this step as it is: ${refusal.reason}`;
      const what = dir === '' ? 'the whole context' : `${dir}/`;
      out.push({
        ...finding(
          'copy-before-install',
          'warning',
          copy,
          `\`${short(copy.text)}\` copies ${what} before \`${short(run.text)}\` (line ${run.line}): any change to a copied file reruns the install`,
          fix,
        ),
        affects: installs.filter((x) => x.run.line >= run.line).map((x) => x.run.text),
      });
      return;
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// 2. apt-get update and install apart

function aptGet(stage: Stage): Finding[] {
  const out: Finding[] = [];
  for (const run of stage.body) {
    if (run.keyword !== 'RUN') continue;
    const cmd = runCommand(run);
    const update = /\bapt(?:-get)?\s+(?:-\S+\s+)*update\b/.test(cmd);
    const install = /\bapt(?:-get)?\s+(?:-\S+\s+)*install\b/.test(cmd);
    if (update && !install)
      out.push(
        finding(
          'apt-get-update',
          'warning',
          run,
          'apt-get update runs in a RUN of its own: its layer stays cached with package lists that go stale, and a later install uses them',
          'run it with the install in one RUN: `RUN apt-get update && apt-get install -y … && rm -rf /var/lib/apt/lists/*`',
        ),
      );
    else if (install && !update)
      out.push(
        finding(
          'apt-get-update',
          'warning',
          run,
          'apt-get install runs without apt-get update in the same RUN: it uses the package lists of an older cached layer (or none, and fails)',
          'update in the same RUN: `RUN apt-get update && apt-get install -y … && rm -rf /var/lib/apt/lists/*`',
        ),
      );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 3. ADD of a URL without a checksum

function addUrl(stage: Stage): Finding[] {
  const out: Finding[] = [];
  for (const add of stage.body) {
    if (add.keyword !== 'ADD') continue;
    const { flags, args } = flagsOf(add.rest);
    if (flags.some(([f]) => f === 'checksum')) continue;
    const words = copyWords(args);
    const url = words.slice(0, -1).find((w) => /^https?:\/\//i.test(w));
    if (!url) continue;
    const to = words.at(-1)!;
    // ADD to a directory keeps the URL's file name.
    const dest = to.endsWith('/') ? `${to}${new URL(url).pathname.split('/').pop() || 'download'}` : to;
    out.push(
      finding(
        'add-url-checksum',
        'warning',
        add,
        `ADD downloads ${short(url)} without --checksum: whatever the server returns is built in, unverified`,
        `verify it: \`RUN curl -fsSLo ${dest} ${url} && echo "<sha256>  ${dest}" | sha256sum -c -\` (engines with BuildKit 0.11+ also take \`ADD --checksum=sha256:<sha256> …\`; BuildKit 0.8 does not)`,
      ),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 5. An install without its lockfile

/** `npm install` / `npm i` of the project (no package names, not global). */
const NPM_PROJECT_INSTALL = /\bnpm\s+(?:install|i)((?:\s+--?[\w-]+(?:=\S+)?)*)\s*(?:$|&&|;|\|)/;

/** `copied`: the context directories the stage's filesystem holds copies of so far (extended here). */
function lockfiles(stage: Stage, files: ContextFiles, copied: string[]): Finding[] {
  const out: Finding[] = [];
  for (const instr of stage.body) {
    const parts = contextCopy(instr);
    if (parts) {
      // Where the install may find manifests: the context root and each copied directory.
      for (const s of parts.sources) {
        if (/[*?[]/.test(s)) continue;
        const c = cleanSource(s);
        copied.push(
          c === '' || files.hasUnder(c) ? c : c.includes('/') ? c.slice(0, c.lastIndexOf('/')) : '',
        );
      }
      continue;
    }
    if (instr.keyword !== 'RUN' || copied.length === 0) continue;
    const cmd = runCommand(instr);
    const tool = installIn(cmd);
    if (!tool) continue;
    const npm = tool.name === 'npm';
    const project = NPM_PROJECT_INSTALL.exec(cmd);
    if (npm && !/\bnpm\s+ci\b/.test(cmd) && (!project || /\s(-g|--global)\b/.test(project[1] ?? '')))
      continue;
    const own = tool.manifests.filter((m) => !tool.lockfiles.includes(m));
    if (own.length === 0) continue;
    const dir = [...new Set(copied)].find((d) => own.some((m) => files.has(join(d, m))));
    if (dir === undefined) continue;
    const lock = tool.lockfiles.find((l) => files.has(join(dir, l)));
    const names = tool.lockfiles.map((l) => join(dir, l)).join(' or ');
    if (!lock) {
      const ci = npm && /\bnpm\s+ci\b/.test(cmd);
      out.push(
        finding(
          'install-lockfile',
          ci ? 'error' : 'warning',
          instr,
          ci
            ? `npm ci needs ${names}, which is not in the build context: the step fails`
            : `the ${tool.name} install runs without a lockfile (${names} is not in the build context): each build may install other versions`,
          `commit ${join(dir, tool.lockfiles[0]!)} and keep it in the context (not in .dockerignore)`,
        ),
      );
    } else if (npm && project && !/\bnpm\s+ci\b/.test(cmd))
      out.push(
        finding(
          'install-lockfile',
          'warning',
          instr,
          `npm install may install other versions than ${join(dir, lock)} pins, and rewrites it`,
          'use `npm ci`, which installs exactly the lockfile',
        ),
      );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 6. Heavy directories the context sends

function size(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  return bytes < 100_000 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

function sentDirFindings(
  sent: readonly SentDir[],
  built: readonly Stage[],
  hasIgnoreFile: boolean,
): Finding[] {
  const out: Finding[] = [];
  const copies = built.flatMap((s) =>
    s.body.flatMap((i) => {
      const parts = contextCopy(i);
      return parts ? [{ instr: i, sources: parts.sources.map(cleanSource) }] : [];
    }),
  );
  for (const d of sent) {
    if (d.files === 0) continue;
    // A directory the Dockerfile copies by name is wanted (`COPY dist/ /srv`).
    if (copies.some((c) => c.sources.some((s) => s === d.dir || s.startsWith(`${d.dir}/`)))) continue;
    const atLeast = d.complete ? '' : 'at least ';
    const count = `${atLeast}${d.files.toLocaleString('en-US')} file${d.files === 1 ? '' : 's'}, ${atLeast}${size(d.bytes)}`;
    const wholeCopies = copies.filter((c) => c.sources.includes('')).map((c) => c.instr.text);
    const f: Finding = {
      rule: 'dockerignore',
      severity: NEVER_SENT.includes(d.dir) ? 'warning' : 'info',
      line: 0,
      instruction: '',
      message: `${d.dir}/ (${count}) is sent with every build${wholeCopies.length ? `, and a change in it reruns ${listed(wholeCopies)}` : ''}`,
      fix: hasIgnoreFile
        ? `add \`${d.dir}\` to .dockerignore`
        : `create a .dockerignore in the context with the line \`${d.dir}\``,
    };
    if (wholeCopies.length) f.affects = wholeCopies;
    out.push(f);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 7. A base image without a pinned tag

function unpinnedBase(stages: readonly Stage[], stage: Stage): Finding | undefined {
  const image = stage.image;
  if (!image || image.includes('$') || image.toLowerCase() === 'scratch') return undefined;
  if (stageNamed(stages, image, stage.index)) return undefined;
  let ref: ReturnType<typeof parseReference>;
  try {
    ref = parseReference(image, { allowDigest: true });
  } catch {
    return undefined;
  }
  if (ref.digest || ref.tag !== 'latest') return undefined;
  const tagged = image.length > ref.repository.length;
  return finding(
    'unpinned-base-image',
    'warning',
    stage.from,
    tagged
      ? `${image} follows whatever :latest is when the builder pulls it: builds differ without any change here`
      : `${image} has no tag: it means :latest, which changes without any change here`,
    `pin a version: \`FROM ${ref.repository}:<version>\` (or a digest, \`FROM ${ref.repository}@sha256:…\`)`,
  );
}
