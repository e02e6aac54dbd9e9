// depot bake's definition side: finds and reads bake files as buildx does (Compose, HCL, JSON),
// resolves groups, inherits and --set, and hands back targets ready to build or to print.
import { readFileSync } from 'node:fs';
import { arch } from 'node:os';
import { resolve } from 'node:path';
import { composeEnv, loadCompose, looksLikeCompose } from './compose.js';
import { BakeError } from './errors.js';
import { type HclFile, loadHcl, parseBakeFile } from './hcl-load.js';
import {
  addToConfig,
  type Config,
  dedup,
  type Group,
  isGlob,
  matchGlob,
  parseOverrides,
  type ResolvedTarget,
  resolveGroup,
  resolveTarget,
} from './model.js';
import { printBake } from './print.js';

export { BakeError } from './errors.js';
export { SUPPORTED_FUNCTIONS } from './hcl-eval.js';
export type { CacheEntry, ExportEntry, Group, ResolvedTarget, SecretSpec, SshSpec } from './model.js';
export { printBake } from './print.js';

/** The files buildx reads when none is named, in its order; every one present is read. */
export const DEFAULT_FILES = [
  'compose.yaml',
  'compose.yml',
  'docker-compose.yml',
  'docker-compose.yaml',
  'docker-bake.json',
  'docker-bake.hcl',
  'docker-bake.override.json',
  'docker-bake.override.hcl',
];

export interface BakeOptions {
  /** -f FILE, in order (later files override earlier ones); none: DEFAULT_FILES in `cwd`. */
  files?: string[];
  /** Targets or groups to resolve (globs allowed); none: "default". */
  targets?: string[];
  /** --set TARGET.KEY=VALUE, in order. */
  set?: string[];
  /** Where files and contexts are relative to (default: process.cwd()). */
  cwd?: string;
  /** Variables, Compose interpolation and `--set …args.NAME` read this (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** The text of `-f -` (default: read from stdin). */
  readStdin?: () => string;
  /** The time timestamp() returns (default: now). */
  now?: Date;
}

export interface BakeDefinition {
  /**
   * The targets to build, sorted by name, with buildx's defaults applied (context ".",
   * dockerfile "Dockerfile"). Paths (context, dockerfile relative to the context, secret and
   * output paths) are relative to `cwd`, as buildx reads them.
   */
  targets: ResolvedTarget[];
  /** The groups `--print` shows: `default` lists what was asked for. */
  groups: Group[];
  /** The files that were read, in order. */
  files: string[];
}

function isRemoteFile(name: string): boolean {
  return /^(https?:\/\/|git@|git:\/\/|ssh:\/\/)/.test(name) || /\.git(#.*)?$/.test(name);
}

interface RawFile {
  name: string;
  text: string;
}

function readFiles(o: BakeOptions, cwd: string, env: NodeJS.ProcessEnv): RawFile[] {
  let names = o.files ?? [];
  let isDefault = false;
  if (names.length === 0 && env.BUILDX_BAKE_FILE) {
    const sep = env.BUILDX_BAKE_PATH_SEPARATOR || (process.platform === 'win32' ? ';' : ':');
    names = env.BUILDX_BAKE_FILE.split(sep).filter(Boolean);
  }
  if (names.length === 0) {
    names = DEFAULT_FILES;
    isDefault = true;
  }
  const out: RawFile[] = [];
  for (const n of names) {
    if (isRemoteFile(n))
      throw new BakeError(
        'bake_unsupported',
        `remote bake definitions are not supported by depot bake: ${n}`,
        'clone the repository and run depot bake in it',
      );
    if (n === '-') {
      out.push({ name: n, text: (o.readStdin ?? (() => readFileSync(0, 'utf8')))() });
      continue;
    }
    const name = n.startsWith('cwd://') ? n.slice('cwd://'.length) : n;
    try {
      out.push({ name, text: readFileSync(resolve(cwd, name), 'utf8') });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (isDefault && code === 'ENOENT') continue;
      if (code === 'ENOENT') throw new BakeError('bake_file', `bake file ${name} not found`);
      throw new BakeError('bake_file', `cannot read bake file ${name}: ${(e as Error).message}`);
    }
  }
  if (out.length === 0)
    throw new BakeError(
      'bake_no_definition',
      "couldn't find a bake definition",
      `add a docker-bake.hcl or compose.yaml here, or name one with -f`,
    );
  return out;
}

/** buildx's platforms.DefaultSpec() formatted: this machine's os/arch. */
function localPlatform(): string {
  const a = arch();
  const map: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm/v7',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
  };
  return `linux/${map[a] ?? a}`;
}

/** Reads the files into one config: Compose files first, then HCL/JSON in order (as buildx does). */
function parseConfig(files: RawFile[], o: BakeOptions, cwd: string, env: NodeJS.ProcessEnv): Config {
  const compose: RawFile[] = [];
  const hcl: HclFile[] = [];
  for (const f of files) {
    const lower = f.name.toLowerCase();
    if (lower.endsWith('.yml') || lower.endsWith('.yaml')) compose.push(f);
    else if (lower.endsWith('.json')) hcl.push(parseBakeFile(f.name, f.text, true));
    else if (lower.endsWith('.hcl')) hcl.push(parseBakeFile(f.name, f.text, false));
    else if (looksLikeCompose(f.text)) compose.push(f);
    else {
      try {
        hcl.push(parseBakeFile(f.name, f.text, false));
      } catch (e) {
        try {
          hcl.push(parseBakeFile(f.name, f.text, true));
        } catch {
          throw e;
        }
      }
    }
  }
  const c: Config = { groups: [], targets: [] };
  if (compose.length) {
    const r = loadCompose(compose, composeEnv(env, cwd));
    addToConfig(c, r.groups, r.targets);
  }
  if (hcl.length) {
    const r = loadHcl(hcl, {
      env,
      builtins: { BAKE_CMD_CONTEXT: 'cwd://', BAKE_LOCAL_PLATFORM: localPlatform() },
      now: o.now ?? new Date(),
    });
    addToConfig(c, r.groups, r.targets);
  }
  return c;
}

/** Reads, resolves and selects bake targets (buildx ReadTargets), ready to build or print. */
export function loadBakeTargets(o: BakeOptions = {}): BakeDefinition {
  const cwd = o.cwd ?? process.cwd();
  const env = o.env ?? process.env;
  const files = readFiles(o, cwd, env);
  const c = parseConfig(files, o, cwd, env);

  let requested = (o.targets?.length ? o.targets : ['default']).map((t) => t.replace(/\./g, '_'));
  requested = dedup(
    requested.flatMap((p) => {
      if (!isGlob(p)) return [p];
      const names = [...c.groups.map((g) => g.name), ...c.targets.map((t) => t.name)].filter((n) =>
        matchGlob(p, n),
      );
      if (names.length === 0)
        throw new BakeError('bake_unknown_target', `could not find any target matching "${p}"`);
      return names;
    }),
  );
  const overrides = parseOverrides(c, o.set ?? [], env);

  const targets = new Map<string, ResolvedTarget>();
  const groups = new Map<string, Group>();
  for (const name of requested) {
    const r = resolveGroup(c, name);
    for (const t of r.targets) targets.set(t, resolveTarget(c, t, overrides));
    for (const g of r.groups) {
      const group = c.groups.find((x) => x.name === g);
      if (group) groups.set(g, { ...group, targets: dedup(group.targets) });
    }
  }
  for (const name of requested) {
    if (name === 'default' && groups.has('default')) continue;
    const d = groups.get('default') ?? { name: 'default', targets: [] };
    d.targets = [...d.targets, name];
    groups.set('default', d);
  }
  const d = groups.get('default');
  if (d) d.targets = dedup(d.targets).sort();

  // buildx passes SOURCE_DATE_EPOCH from the environment to every target that does not set it.
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch)
    for (const t of targets.values())
      if (!t.args || !('SOURCE_DATE_EPOCH' in t.args))
        t.args = { ...(t.args ?? {}), SOURCE_DATE_EPOCH: epoch };

  return {
    targets: [...targets.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    groups: [...groups.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    files: files.map((f) => f.name),
  };
}

/** What `depot bake --print` writes. */
export function bakePrintText(o: BakeOptions = {}): string {
  const d = loadBakeTargets(o);
  return printBake(d.groups, d.targets);
}
