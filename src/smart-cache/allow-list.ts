/**
 * The installers the smart cache may move ahead of the rest of the copy, each with the exact files
 * it reads and every fact of the context that makes it read or write more (docs/smart-cache.md).
 * A rule here is a claim about the real tool; each is written down in the docs with its reason and
 * proven on a real engine by a fixture tool that reads exactly these files.
 */
import type { ContextFiles } from './plan.js';

/** What the planner knows about the install step besides the context. */
export interface InstallStep {
  /** The whole RUN command (after its flags), as written. */
  command: string;
  /** ENV set earlier in the same stage (the base image's own environment is not known). */
  env: ReadonlyMap<string, string>;
}

/** A check's verdict: a refusal (one line), or more context files the install reads. */
export type Verdict = string | { also: string[] } | undefined;

export interface Installer {
  name: string;
  /** Commands that run this installer at all: a match the exact form refuses says why. */
  family: RegExp;
  /** The whole RUN command, with only the options whose effect on the inputs is known. */
  command: RegExp;
  /** Manifests that must all be sent. */
  required: string[];
  /** Groups of which one must be sent (e.g. the lockfile). */
  oneOf?: string[][];
  /** Read by the installer when present: copied too. */
  optional: string[];
  /** Paths the install writes in the working directory: the context must send none of them. */
  writes: (files: ContextFiles, step: InstallStep) => Promise<string[]> | string[];
  /** Anything else the manifests say that makes the install read more. */
  check?: (files: ContextFiles, step: InstallStep) => Promise<Verdict>;
}

/** Words of a command, for flag checks (the command is plain: no quotes to honour). */
const words = (command: string) => command.split(/\s+/);
const hasFlag = (command: string, ...flags: string[]) => words(command).some((w) => flags.includes(w));

/** A config value that names a file or directory (relative, absolute or home). */
const PATH_VALUE = /^["']?(\.{1,2}(\/|["']?$)|\/|~)/;
/** npm/pnpm/yarn 1 settings whose value is a path (cafile, store-dir, pnpmfile, cache-folder…). */
const PATH_KEY = /(file|dir|folder|path|prefix|cache|config|mirror)$/i;
/** yarn 2+ settings whose value is a path (cacheFolder, installStatePath, lockfileFilename…). */
const YML_PATH_KEY = /(Folder|Path|Filename|Files)$/;
const YML_PATH_VALUE = /^["']?(\.|\/|~)/;

// ——— npm, yarn, pnpm: package.json and the lockfiles ———

const LIFECYCLE = [
  'preinstall',
  'install',
  'postinstall',
  'prepublish',
  'preprepare',
  'prepare',
  'postprepare',
  'pnpm:devPreinstall',
];

/** A dependency spec that reads the context: a path, or a protocol that reads or runs local files. */
function localSpec(spec: string): boolean {
  return /^(file:|link:|portal:|exec:|\.{0,2}\/|~\/)/.test(spec) || /^patch:.*#(\.{0,2}\/|~\/)/.test(spec);
}

/** The first local spec in an overrides/resolutions tree (npm overrides nest). */
function localIn(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return localSpec(value) ? `${path} (${value})` : undefined;
  if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      const hit = localIn(v, k);
      if (hit) return hit;
    }
  return undefined;
}

/** package.json facts that make an npm, yarn or pnpm install read more than its manifests. */
export async function checkPackageJson(files: ContextFiles, command: string): Promise<string | undefined> {
  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(await files.read('package.json')) as Record<string, unknown>;
  } catch {
    return 'package.json is not valid JSON';
  }
  const scripts = (pkg.scripts ?? {}) as Record<string, unknown>;
  const hooks = LIFECYCLE.filter((s) => typeof scripts[s] === 'string');
  if (hooks.length > 0 && !hasFlag(command, '--ignore-scripts'))
    return `package.json runs ${hooks.join(', ')} on install, which may read any file`;
  if (pkg.workspaces !== undefined)
    return 'package.json declares workspaces: the install reads their manifests too';
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
    const deps = (pkg[field] ?? {}) as Record<string, unknown>;
    for (const [name, spec] of Object.entries(deps))
      if (typeof spec === 'string' && localSpec(spec))
        return `dependency ${name} is a local path (${spec}): the install reads it`;
  }
  const pnpm = (pkg.pnpm ?? {}) as Record<string, unknown>;
  for (const [where, tree] of [
    ['overrides', pkg.overrides],
    ['resolutions', pkg.resolutions],
    ['pnpm.overrides', pnpm.overrides],
  ] as const) {
    const hit = localIn(tree, where);
    if (hit) return `${where} points at a local path: ${hit}: the install reads it`;
  }
  if (pnpm.patchedDependencies !== undefined)
    return 'package.json patches dependencies with local files (pnpm.patchedDependencies)';
  return undefined;
}

/** Lockfile entries that read the context (local packages, local patches). */
async function checkLockfile(files: ContextFiles, lockfile: string): Promise<string | undefined> {
  const text = await files.read(lockfile);
  const local =
    /"link":\s*true/.exec(text) ?? // package-lock.json
    /\b(file|link|portal|exec):[^\s"',]*/.exec(text) ?? // all three
    /#(\.{1,2}\/|~\/|\/)[^\s"]*/.exec(text) ?? // a local patch (yarn 2+)
    /type: directory|^patchedDependencies:/m.exec(text); // pnpm-lock.yaml
  return local ? `${lockfile} locks a local package or patch (${local[0]}): the install reads it` : undefined;
}

/** `.npmrc` settings that name a file (a CA, a pnpmfile, a store): the install reads or writes it. */
async function checkNpmrc(files: ContextFiles): Promise<string | undefined> {
  if (!files.has('.npmrc')) return undefined;
  for (const raw of (await files.read('.npmrc')).split(/\r?\n/)) {
    const m = /^\s*([^#;=\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(raw);
    if (m && (PATH_VALUE.test(m[2]!) || PATH_KEY.test(m[1]!)))
      return `.npmrc sets ${m[1]} (${m[2]}): the install may read or write that path`;
  }
  return undefined;
}

/**
 * Corepack (which runs yarn and pnpm in many images) may write a `packageManager` field into a
 * package.json that has none; the later copy would then replace the written one.
 */
function checkPackageManager(pkgText: string, tool: 'yarn' | 'pnpm'): string | undefined {
  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(pkgText) as Record<string, unknown>;
  } catch {
    return 'package.json is not valid JSON';
  }
  const pm = pkg.packageManager;
  if (typeof pm !== 'string')
    return `package.json names no packageManager: corepack may write one during the install, which the later copy would replace (add "packageManager": "${tool}@…")`;
  if (!pm.startsWith(`${tool}@`)) return `package.json's packageManager is ${pm}, not ${tool}`;
  return undefined;
}

// ——— yarn ———

/** yarn 1's `.yarnrc`: settings that name a file, or hand the install to another yarn. */
async function checkYarnrc(files: ContextFiles): Promise<string | undefined> {
  if (!files.has('.yarnrc')) return undefined;
  for (const raw of (await files.read('.yarnrc')).split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^("[^"]*"|\S+)\s*(.*)$/.exec(line);
    const key = m?.[1]?.replace(/"/g, '') ?? line;
    const value = m?.[2] ?? '';
    if (PATH_KEY.test(key) || /^(yarn-path|yarn-offline-mirror|--cwd)$/.test(key) || PATH_VALUE.test(value))
      return `.yarnrc sets ${key} (${value}): the install may read or write that path`;
  }
  return undefined;
}

/** What yarn 2+'s `.yarnrc.yml` hands the install: the yarn it runs and the plugins it loads. */
interface YarnrcYml {
  yarnPath?: string;
  files: string[];
}

/**
 * yarn 2+'s `.yarnrc.yml`: `yarnPath` and `plugins` name files the install runs (copied when they
 * are sent and inside the context); any other setting that names a path leaves the step as it is.
 */
async function readYarnrcYml(files: ContextFiles): Promise<YarnrcYml | string> {
  const out: YarnrcYml = { files: [] };
  if (!files.has('.yarnrc.yml')) return out;
  const take = (key: string, raw: string): string | undefined => {
    const value = raw.replace(/^["']|["']$/g, '');
    const rel = value.replace(/^\.\//, '');
    if (rel.startsWith('/') || rel.startsWith('~') || rel.split('/').includes('..'))
      return `.yarnrc.yml ${key} points outside the build context (${value})`;
    if (!files.has(rel)) return `.yarnrc.yml ${key} names ${value}, which the build context does not send`;
    out.files.push(rel);
    if (key === 'yarnPath') out.yarnPath = rel;
    return undefined;
  };
  let inPlugins = false;
  for (const raw of (await files.read('.yarnrc.yml')).split(/\r?\n/)) {
    if (/^\s*(#|$)/.test(raw)) continue;
    const top = /^([^\s:][^:]*):\s*(.*?)\s*$/.exec(raw);
    if (top) {
      const [key, value] = [top[1]!, top[2]!];
      inPlugins = key === 'plugins';
      if (key === 'yarnPath') {
        const why = take(key, value);
        if (why) return why;
      } else if (YML_PATH_KEY.test(key) || YML_PATH_VALUE.test(value))
        return `.yarnrc.yml sets ${key} (${value}): the install may read or write that path`;
      continue;
    }
    const nested = /^\s+(?:-\s*)?(?:([\w-]+):\s*)?(.*?)\s*$/.exec(raw);
    const [key, value] = [nested?.[1] ?? '', nested?.[2] ?? ''];
    if (inPlugins) {
      // `- path: .yarn/plugins/x.cjs` (with its `spec:`/`checksum:`) or `- .yarn/plugins/x.cjs`.
      if (key === 'path' || key === '') {
        const why = take('plugins', value);
        if (why) return why;
      }
    } else if (YML_PATH_KEY.test(key) || YML_PATH_VALUE.test(value))
      return `.yarnrc.yml sets ${key || 'a list item'} (${value}): the install may read or write that path`;
  }
  return out;
}

/** The lockfile's format: yarn 1 writes a v1 header, yarn 2+ a `__metadata` entry. */
const isBerryLock = (text: string) => /^__metadata:/m.test(text);

async function checkYarn(files: ContextFiles, step: InstallStep): Promise<Verdict> {
  const { command } = step;
  if (!hasFlag(command, '--frozen-lockfile', '--immutable'))
    return 'yarn install without --frozen-lockfile (yarn 1) or --immutable (yarn 2+) may rewrite yarn.lock, which the later copy would replace';
  const manager = checkPackageManager(await files.read('package.json'), 'yarn');
  if (manager) return manager;
  const yml = await readYarnrcYml(files);
  if (typeof yml === 'string') return yml;
  // yarn 1 ignores options it does not know: `--immutable` there is a plain install that may rewrite
  // the lockfile. yarn 2+ takes `--frozen-lockfile` as `--immutable`. So `--immutable` alone is
  // sound only when yarn 2+ is sure to run: a yarn 2+ lockfile and a yarnPath the project ships
  // (yarn 1 hands the install to it too).
  if (!hasFlag(command, '--frozen-lockfile') && !(isBerryLock(await files.read('yarn.lock')) && yml.yarnPath))
    return 'yarn 1 ignores --immutable and may rewrite yarn.lock: use --frozen-lockfile (yarn 2+ takes it as --immutable) or ship yarn 2+ with yarnPath';
  const why =
    (await checkPackageJson(files, command)) ??
    (await checkLockfile(files, 'yarn.lock')) ??
    (await checkYarnrc(files)) ??
    (await checkNpmrc(files));
  return why ?? { also: yml.files };
}

// ——— pnpm ———

async function checkPnpm(files: ContextFiles, step: InstallStep): Promise<Verdict> {
  const { command } = step;
  if (!hasFlag(command, '--frozen-lockfile'))
    return 'pnpm install without --frozen-lockfile may rewrite pnpm-lock.yaml, which the later copy would replace';
  if (files.has('pnpm-workspace.yaml'))
    return 'pnpm-workspace.yaml is in the build context: the install reads its workspaces (and settings) too';
  for (const f of ['.pnpmfile.cjs', '.pnpmfile.mjs'])
    if (files.has(f)) return `${f} is code the install runs, which may read any file`;
  return (
    checkPackageManager(await files.read('package.json'), 'pnpm') ??
    (await checkPackageJson(files, command)) ??
    (await checkLockfile(files, 'pnpm-lock.yaml')) ??
    (await checkNpmrc(files))
  );
}

// ——— npm (the first installer) ———

async function checkNpm(files: ContextFiles, step: InstallStep): Promise<Verdict> {
  const lock = files.has('package-lock.json') ? 'package-lock.json' : 'npm-shrinkwrap.json';
  return (
    (await checkPackageJson(files, step.command)) ??
    (await checkLockfile(files, lock)) ??
    (await checkNpmrc(files))
  );
}

// ——— pip, go ———

/** requirements.txt lines that make `pip install -r` read more than the file. */
async function checkRequirements(files: ContextFiles): Promise<string | undefined> {
  const lines = (await files.read('requirements.txt')).split(/\r?\n/);
  for (const raw of lines) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    if (/^(-e|--editable)\b/.test(line)) return `requirements.txt installs an editable package (${line})`;
    if (/^(-r|--requirement|-c|--constraint)\b/.test(line))
      return `requirements.txt includes another file (${line})`;
    // Options that only say where packages come from; any other (`-f ./wheels`) may read the context.
    if (
      line.startsWith('-') &&
      !/^(-i|--index-url|--extra-index-url|--trusted-host|--prefer-binary|--only-binary|--no-binary|--pre)\b/.test(
        line,
      )
    )
      return `requirements.txt has an option the smart cache does not know (${line})`;
    if (/^(\.|\/|file:)/.test(line) || /\s@\s*file:/.test(line))
      return `requirements.txt installs a local path (${line})`;
  }
  return undefined;
}

/** go.mod `replace` directives to local directories make `go mod download` read them. */
async function checkGoMod(files: ContextFiles): Promise<string | undefined> {
  const text = await files.read('go.mod');
  const local = /=>\s*(\.{1,2}\/|\/)\S*/.exec(text);
  return local ? `go.mod replaces a module with a local directory (${local[0].trim()})` : undefined;
}

// ——— bundler ———

const TRUE = /^(true|1|yes)$/i;
const GEM_OPTION_KEYS = new Set([
  'require',
  'group',
  'groups',
  'platform',
  'platforms',
  'source',
  'github',
  'git',
  'branch',
  'tag',
  'ref',
  'submodules',
]);

/**
 * The Gemfile is Ruby: only the declarative subset below is read as data; anything else
 * (`eval_gemfile`, `File.read`, `gemspec`, `path:`) may read any file and leaves the step as it is.
 */
function checkGemfile(text: string): string | undefined {
  const q = `(?:"[^"]*"|'[^']*')`;
  const sym = `:[a-z_]+`;
  const value = `(?:${q}|${sym}|true|false|\\[[^\\]]*\\]|\\d+)`;
  const opt = `(?:[a-z_]+:\\s*${value}|:[a-z_]+\\s*=>\\s*${value})`;
  const simple = [
    new RegExp(`^source\\s+${q}(\\s+do)?$`),
    new RegExp(`^ruby\\s+${q}$`),
    new RegExp(`^(group|platforms?)\\s+${sym}(\\s*,\\s*${sym})*(\\s*,\\s*${opt})*\\s+do$`),
    /^end$/,
    /^git_source\(:[a-z_]+\)\s*\{\s*\|[a-z_]+\|\s*"https:\/\/[^"]*"\s*\}$/,
  ];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    if (/^gemspec\b/.test(line))
      return 'the Gemfile says gemspec: the install reads the gemspec and its files';
    if (/\bpath\s*(:|=>)/.test(line)) return `the Gemfile installs a local path (${line})`;
    if (simple.some((re) => re.test(line))) continue;
    const gem = new RegExp(`^gem\\s*\\(?\\s*${q}((\\s*,\\s*${q})*)((\\s*,\\s*${opt})*)\\s*\\)?$`).exec(line);
    if (gem) {
      const keys = [...(gem[3] ?? '').matchAll(/([a-z_]+):\s|:([a-z_]+)\s*=>/g)].map((m) => m[1] ?? m[2]!);
      const unknown = keys.find((k) => !GEM_OPTION_KEYS.has(k));
      if (unknown) return `the Gemfile has an option the smart cache does not know (${line})`;
      const git = /\bgit\s*(?::|=>)\s*["']([^"']*)["']/.exec(line);
      if (git && !/^(https?|ssh|git):\/\/|^git@/.test(git[1]!))
        return `the Gemfile installs from a local git repository (${line})`;
      continue;
    }
    return `the Gemfile has Ruby the smart cache does not read as data (${line})`;
  }
  return undefined;
}

/** `.bundle/config` as `KEY: "value"` pairs. */
async function bundleConfig(files: ContextFiles): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!files.has('.bundle/config')) return out;
  for (const raw of (await files.read('.bundle/config')).split(/\r?\n/)) {
    const m = /^(BUNDLE_[A-Z0-9_]+):\s*["']?(.*?)["']?\s*$/.exec(raw);
    if (m) out.set(m[1]!, m[2]!);
    else if (raw.trim() && raw.trim() !== '---' && !raw.startsWith('#')) out.set(raw.trim(), '?');
  }
  return out;
}

const BUNDLE_CONFIG_KEYS = new Set([
  'BUNDLE_PATH',
  'BUNDLE_WITHOUT',
  'BUNDLE_WITH',
  'BUNDLE_DEPLOYMENT',
  'BUNDLE_FROZEN',
  'BUNDLE_JOBS',
  'BUNDLE_RETRY',
  'BUNDLE_SILENCE_ROOT_WARNING',
]);

async function checkBundle(files: ContextFiles, step: InstallStep): Promise<Verdict> {
  const config = await bundleConfig(files);
  const unknown = [...config.keys()].find((k) => !BUNDLE_CONFIG_KEYS.has(k));
  if (unknown) return `.bundle/config sets ${unknown}, which the smart cache does not know`;
  for (const k of ['BUNDLE_GEMFILE', 'BUNDLE_BIN', 'BUNDLE_CACHE_PATH', 'BUNDLE_APP_CONFIG'])
    if (step.env.has(k)) return `ENV ${k} makes the install read or write other files`;
  // Unfrozen, bundler may rewrite Gemfile.lock (a platform it lacks, a stale entry), which the
  // later copy would replace. Only the Dockerfile's own ENV is sure to apply: an image may point
  // BUNDLE_APP_CONFIG elsewhere, and then .bundle/config is not read at all.
  const frozen = ['BUNDLE_FROZEN', 'BUNDLE_DEPLOYMENT'].some((k) => TRUE.test(step.env.get(k) ?? ''));
  const unset = ['BUNDLE_FROZEN', 'BUNDLE_DEPLOYMENT'].find((k) =>
    /^(false|0|no)$/i.test(config.get(k) ?? ''),
  );
  if (!frozen || unset)
    return 'bundle install may rewrite Gemfile.lock, which the later copy would replace: set ENV BUNDLE_FROZEN=true (or BUNDLE_DEPLOYMENT=true) before the copy';
  const gemfile = checkGemfile(await files.read('Gemfile'));
  if (gemfile) return gemfile;
  const lock = await files.read('Gemfile.lock');
  if (/^PATH$/m.test(lock)) return 'Gemfile.lock has PATH gems: the install reads their directories';
  const remote = /^GIT\n\s+remote:\s*(\S+)/m.exec(lock);
  if (remote && !/^(https?|ssh|git):\/\/|^git@/.test(remote[1]!))
    return `Gemfile.lock installs from a local git repository (${remote[1]})`;
  if (files.hasUnder('vendor/cache'))
    return 'the build context holds vendor/cache/: bundler installs from it (and adds to it)';
  return undefined;
}

async function bundleWrites(files: ContextFiles, step: InstallStep): Promise<string[]> {
  const paths = [step.env.get('BUNDLE_PATH'), (await bundleConfig(files)).get('BUNDLE_PATH')];
  const rel = paths.filter((p): p is string => !!p && !p.startsWith('/') && !p.startsWith('~'));
  return ['vendor/bundle', ...rel.map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''))];
}

// ——— composer ———

/** Script events composer fires during `install` (and `init`/`command`, which fire for any command). */
const COMPOSER_EVENTS = [
  'init',
  'command',
  'pre-command-run',
  'pre-install-cmd',
  'post-install-cmd',
  'pre-autoload-dump',
  'post-autoload-dump',
  'pre-package-install',
  'post-package-install',
  'pre-package-update',
  'post-package-update',
  'pre-package-uninstall',
  'post-package-uninstall',
  'pre-operations-exec',
  'pre-pool-create',
  'pre-file-download',
  'post-file-download',
];

async function composerJson(files: ContextFiles): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await files.read('composer.json')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

async function checkComposer(files: ContextFiles, step: InstallStep): Promise<Verdict> {
  const { command } = step;
  if (!hasFlag(command, '--no-autoloader'))
    return 'composer install writes its autoloader from the source tree (classmap, files, PSR-4 directories): add --no-autoloader and run composer dump-autoload after the copy';
  const json = await composerJson(files);
  if (!json) return 'composer.json is not valid JSON';
  for (const k of ['COMPOSER', 'COMPOSER_VENDOR_DIR', 'COMPOSER_BIN_DIR'])
    if (step.env.has(k)) return `ENV ${k} makes the install read or write other files`;
  const scripts = Object.keys((json.scripts ?? {}) as Record<string, unknown>).filter((s) =>
    COMPOSER_EVENTS.includes(s),
  );
  if (scripts.length && !hasFlag(command, '--no-scripts'))
    return `composer.json runs ${scripts.join(', ')} on install, which may read any file (add --no-scripts)`;
  const repos = Object.values((json.repositories ?? {}) as Record<string, unknown>);
  for (const repo of repos) {
    if (!repo || typeof repo !== 'object') continue;
    const { type, url } = repo as { type?: unknown; url?: unknown };
    if (type === 'path' || type === 'artifact')
      return `composer.json has a ${type} repository: the install reads it`;
    if (typeof url === 'string' && !/^(https?|ssh|git):\/\/|^git@/.test(url))
      return `composer.json has a repository at a local path (${url})`;
  }
  const config = (json.config ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(config)) {
    if (k === 'vendor-dir' || k === 'bin-dir') {
      if (typeof v !== 'string' || v.startsWith('/') || v.split('/').includes('..'))
        return `composer.json sets ${k} outside the working directory (${String(v)})`;
    } else if (typeof v === 'string' && PATH_VALUE.test(v))
      return `composer.json sets ${k} to a path (${v}): the install may read it`;
  }
  const lock = await files.read('composer.lock');
  if (/"type":\s*"composer-plugin"/.test(lock) && !hasFlag(command, '--no-plugins'))
    return 'composer.lock installs composer plugins, code that may read any file (add --no-plugins)';
  const local = /"type":\s*"path"|"url":\s*"(?!https?:|ssh:|git:|git@)[^"]*"/.exec(lock);
  if (local) return `composer.lock installs a package from a local path (${local[0]})`;
  // The root package's version, unless composer.json states it, is guessed from the VCS checkout in
  // the working directory and written to vendor/composer/installed.php.
  if (json.version === undefined && !step.env.has('COMPOSER_ROOT_VERSION'))
    for (const vcs of ['.git', '.hg', '.svn'])
      if (files.has(vcs) || files.hasUnder(vcs))
        return `the build context holds ${vcs}: composer records the root version it reads there in vendor/composer/installed.php (set "version" in composer.json or ignore ${vcs})`;
  return undefined;
}

async function composerWrites(files: ContextFiles): Promise<string[]> {
  const config = ((await composerJson(files))?.config ?? {}) as Record<string, unknown>;
  const vendor = typeof config['vendor-dir'] === 'string' ? config['vendor-dir'] : 'vendor';
  const bin = typeof config['bin-dir'] === 'string' ? config['bin-dir'] : `${vendor}/bin`;
  return [vendor, bin].map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''));
}

// ——— poetry ———

/** TOML `[section]` headers with their lines (enough for the keys read here). */
function tomlSections(text: string): Array<{ section: string; line: string }> {
  let section = '';
  const out: Array<{ section: string; line: string }> = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    const h = /^\[\[?\s*([^\]]+?)\s*\]\]?$/.exec(line);
    if (h) section = h[1]!.replace(/["']/g, '');
    else if (line) out.push({ section, line });
  }
  return out;
}

/** Poetry's own dependency tables: a `path`/`file`/`develop` key there is a local dependency. */
const POETRY_DEPENDENCIES = /^tool\.poetry\.(dependencies|dev-dependencies|group\.[^.]+\.dependencies)(\.|$)/;
/** PEP 621 / 735 dependency lists: `name @ file:…` or `name @ ./path` is a local dependency. */
const PEP_DEPENDENCIES = /^(project|project\.optional-dependencies|dependency-groups)$/;

async function checkPoetry(files: ContextFiles, step: InstallStep): Promise<Verdict> {
  if (!hasFlag(step.command, '--no-root'))
    return 'poetry install without --no-root installs the project itself from its source: add --no-root';
  const lines = tomlSections(await files.read('pyproject.toml'));
  const also: string[] = [];
  for (const { section, line } of lines) {
    if (
      (POETRY_DEPENDENCIES.test(section) && /\b(path|file|develop)\s*=/.test(line)) ||
      (PEP_DEPENDENCIES.test(section) && /@\s*(file:|\.{0,2}\/)/.test(line))
    )
      return `pyproject.toml has a local dependency (${line}): the install reads it`;
    if (/^tool\.poetry\.requires-plugins/.test(section))
      return 'pyproject.toml requires poetry plugins, code the install fetches and runs';
    if (/^tool\.poetry\.source$/.test(section) && /^url\s*=\s*["'](file:|\.|\/)/.test(line))
      return `pyproject.toml has a package source at a local path (${line})`;
    // Poetry loads the project's metadata even with --no-root: the readme and license files it
    // names are read (a missing readme fails the install), so they are copied when sent.
    const named = /^(readme|license)\s*=\s*(.*)$/.exec(line);
    if (named && (section === 'tool.poetry' || section === 'project'))
      for (const m of named[2]!.matchAll(/["']([^"']+)["']/g)) {
        const f = m[1]!.replace(/^\.\//, '');
        if (files.has(f) && !also.includes(f)) also.push(f);
      }
  }
  const lock = await files.read('poetry.lock');
  const local = /^type\s*=\s*"(directory|file)"/m.exec(lock);
  if (local) return `poetry.lock installs a package from a local ${local[1]}: the install reads it`;
  return { also };
}

// ——— the table ———

const NPM_FLAGS =
  '(?:\\s+(?:--omit=\\w+|--only=\\w+|--production|--ignore-scripts|--no-audit|--no-fund|--prefer-offline|--loglevel[= ]\\w+))*';
const YARN_FLAGS =
  '(?:\\s+(?:--frozen-lockfile|--immutable|--production|--prod|--ignore-scripts|--non-interactive|--silent|--prefer-offline|--no-progress|--ignore-engines|--ignore-optional|--inline-builds|--network-timeout[= ]\\d+))*';
const PNPM_FLAGS =
  '(?:\\s+(?:--frozen-lockfile|--prod|-P|--production|--dev|-D|--no-optional|--ignore-scripts|--prefer-offline|--offline|--silent|--reporter=[\\w-]+))*';
const BUNDLE_FLAGS = '(?:\\s+(?:--jobs[= ]\\d+|-j\\s*\\d+|--retry[= ]\\d+|--quiet))*';
const COMPOSER_FLAGS =
  '(?:\\s+(?:--no-autoloader|--no-scripts|--no-plugins|--no-dev|--no-interaction|-n|--no-progress|--prefer-dist|--ignore-platform-reqs|--ignore-platform-req=\\S+|--quiet|-q|--no-ansi))*';
const POETRY_FLAGS =
  '(?:\\s+(?:--no-root|--only[= ][\\w,-]+|--with[= ][\\w,-]+|--without[= ][\\w,-]+|--no-dev|--sync|--no-interaction|-n|--no-ansi|--quiet|-q|--no-cache|--all-extras|(?:--extras|-E)[= ][\\w,-]+|--compile))*';

const NODE_VERSION_FILES = ['.nvmrc', '.node-version', '.tool-versions'];

/** The installers the smart cache knows, with the exact files each reads. */
export const INSTALLERS: readonly Installer[] = [
  {
    name: 'npm ci',
    family: /^npm\s+ci\b/,
    command: new RegExp(`^npm\\s+ci${NPM_FLAGS}$`),
    required: ['package.json'],
    oneOf: [['package-lock.json', 'npm-shrinkwrap.json']],
    optional: ['.npmrc'],
    writes: () => ['node_modules'],
    check: checkNpm,
  },
  {
    name: 'yarn install',
    // `yarn` alone installs; `yarn build` runs a script.
    family: /^yarn(?:\s+install\b|\s+-|\s*$)/,
    command: new RegExp(`^yarn(?:\\s+install)?${YARN_FLAGS}$`),
    required: ['package.json', 'yarn.lock'],
    optional: ['.yarnrc', '.yarnrc.yml', '.npmrc', '.yarnclean', '.env.yarn', ...NODE_VERSION_FILES],
    writes: () => [
      'node_modules',
      '.pnp.cjs',
      '.pnp.js',
      '.pnp.loader.mjs',
      '.yarn/cache',
      '.yarn/unplugged',
      '.yarn/install-state.gz',
      '.yarn/__virtual__',
    ],
    check: checkYarn,
  },
  {
    name: 'pnpm install',
    family: /^pnpm\s+(?:install|i)\b/,
    command: new RegExp(`^pnpm\\s+(?:install|i)${PNPM_FLAGS}$`),
    required: ['package.json', 'pnpm-lock.yaml'],
    optional: ['.npmrc', ...NODE_VERSION_FILES],
    writes: () => ['node_modules', '.pnp.cjs'],
    check: checkPnpm,
  },
  {
    name: 'pip install -r requirements.txt',
    family: /^pip3?\s+install\b/,
    command:
      /^pip3?\s+install(?:\s+(?:--no-cache-dir|--user|-q|--quiet|--disable-pip-version-check))*\s+-r\s+requirements\.txt(?:\s+(?:--no-cache-dir|--user|-q|--quiet))*$/,
    required: ['requirements.txt'],
    optional: ['pip.conf'],
    writes: () => [],
    check: (files) => checkRequirements(files),
  },
  {
    name: 'go mod download',
    family: /^go\s+mod\s+download\b/,
    command: /^go\s+mod\s+download(?:\s+-x)?$/,
    required: ['go.mod'],
    optional: ['go.sum'],
    writes: () => [],
    check: (files) => checkGoMod(files),
  },
  {
    name: 'bundle install',
    family: /^bundle(?:\s+install\b|\s*$)/,
    command: new RegExp(`^bundle(?:\\s+install)?${BUNDLE_FLAGS}$`),
    required: ['Gemfile', 'Gemfile.lock'],
    optional: ['.bundle/config', '.ruby-version', '.tool-versions'],
    writes: bundleWrites,
    check: checkBundle,
  },
  {
    name: 'composer install',
    family: /^composer\s+install\b/,
    command: new RegExp(`^composer\\s+install${COMPOSER_FLAGS}$`),
    required: ['composer.json', 'composer.lock'],
    optional: ['auth.json'],
    writes: composerWrites,
    check: checkComposer,
  },
  {
    name: 'poetry install',
    family: /^poetry\s+install\b/,
    command: new RegExp(`^poetry\\s+install${POETRY_FLAGS}$`),
    required: ['pyproject.toml', 'poetry.lock'],
    optional: ['poetry.toml', '.python-version', '.tool-versions'],
    writes: () => ['.venv', '.poetry'],
    check: checkPoetry,
  },
];

/** Commands that look like an install the smart cache does not take, and why. */
export const NOT_TAKEN: Array<[RegExp, string]> = [
  [
    /^npm\s+(install|i)\b/,
    '`npm install` may rewrite package-lock.json, which the later copy would replace: use `npm ci`',
  ],
  [/^yarn\s+add\b/, '`yarn add` rewrites package.json and yarn.lock, which the later copy would replace'],
  [
    /^pnpm\s+add\b/,
    '`pnpm add` rewrites package.json and pnpm-lock.yaml, which the later copy would replace',
  ],
  [
    /^(composer\s+update|poetry\s+(update|lock)|bundle\s+(update|lock))\b/,
    'the command rewrites the lockfile, which the later copy would replace',
  ],
  [
    /^(cargo\s+(fetch|build)|pipenv\s+install|uv\s+sync|mix\s+deps\.get|dotnet\s+restore|mvn\b|gradle\b)/,
    "this installer is not on the smart cache's list (npm ci, yarn, pnpm, pip install -r requirements.txt, go mod download, bundle install, composer install, poetry install)",
  ],
];
